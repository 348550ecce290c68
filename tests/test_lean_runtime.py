"""The action server runs without torch or sentence-transformers once the e5 ONNX export exists."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .conftest import ROOT

HEAVY = ("torch", "sentence_transformers", "transformers")


def _modules_after(code: str) -> dict[str, bool]:
    probe = code + f"\nimport json, sys\nprint(json.dumps({{m: m in sys.modules for m in {HEAVY!r}}}))\n"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         check=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"})
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_action_server_module_graph_imports_no_torch() -> None:
    """What rasa_sdk loads at start: its server and our actions package with the engine's modules."""
    loaded = _modules_after("import rasa_sdk.endpoint, actions.actions, assistant.runtime.app, "
                            "assistant.knowledge.build, assistant.dialogue.engine, assistant.desk.desk")
    assert loaded == dict.fromkeys(HEAVY, False)


@pytest.mark.model
def test_the_engine_answers_without_torch(tmp_path) -> None:  # noqa: ANN001
    """The real engine (ONNX e5, index, calibration, desk, the form's category guesser warmed) answers a
    question and reads a complaint, and torch was never imported."""
    if not (ROOT / "models" / "e5-onnx" / "meta.json").is_file():
        pytest.fail("no e5 ONNX export in models/: run `make setup`")
    loaded = _modules_after(
        "import os\n"
        f"os.environ['ASSISTANT_TICKETS_URL'] = 'sqlite:///{tmp_path}/t.db'\n"
        "import actions.actions as a\n"
        "from assistant.dialogue.engine import State\nfrom assistant.dialogue.router import NLU\n"
        "engine = a.get_engine()\n"
        "turn = engine.respond('车位怎么租', NLU.from_message({'intent': {'name': 'faq_parking', "
        "'confidence': 0.9}}), State(), 'lean-1')\n"
        "assert turn.replies, turn\n")
    assert loaded == dict.fromkeys(HEAVY, False)
