"""Runs in the Rasa environment: Rasa's own evaluator plays the complaint-form test stories in tests/e2e/
(happy path, cancel, correction, handoff, interruptions, free-word urgency, the third-time default) against
the trained model; every intent and action must match."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "rasa" / "assistant.tar.gz"
STORIES = ROOT / "tests" / "e2e"


def test_complaint_form_stories_pass(tmp_path: Path) -> None:
    if not MODEL.exists():
        pytest.fail(f"no trained model at {MODEL}: run `make setup` (the README's test command does)")
    proc = subprocess.run([sys.executable, "-m", "rasa", "test", "core", "-m", str(MODEL), "--stories", str(STORIES),
                           "--out", str(tmp_path), "--fail-on-prediction-errors"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    failed = (tmp_path / "failed_test_stories.yml")
    detail = failed.read_text(encoding="utf-8") if failed.exists() else proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.returncode == 0, detail
    stories = sum(len(yaml.safe_load(f.read_text(encoding="utf-8"))["stories"]) for f in STORIES.glob("*.yml"))
    assert stories >= 8 and f"Correct:          {stories} / {stories}" in proc.stdout + proc.stderr, detail
