"""NLU benchmarks: intent accuracy and calibration on a cases file, and Rasa's 5-fold cross-validation.

    python -m assistant.devtools.nlu_bench intents CASES.yml [--model M] [--json]
    python -m assistant.devtools.nlu_bench cv [--folds 5]

``intents`` maps each case's expected route (and topic) to the intents that lead there: answer + topic
-> faq_<topic>, ticket -> complain, handoff -> request_human, fallback -> out_of_scope, chitchat -> the
small-talk intents (moderation cases are left out); it parses every text with the trained model in the
Rasa environment and prints accuracy, per-intent recall, ECE of DIET's top confidence (10 equal bins,
with the reliability table) and parse latency p50/p95 (in the Rasa process, warm).
``cv`` runs ``rasa test nlu --cross-validation`` on nlu_data/nlu.yml plus the generated knowledge-base
questions and prints per-intent and weighted F1.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from assistant.devtools.evaluate import Case, load_cases
from assistant.runtime.services import rasa_model
from assistant.runtime.setup import rasa_env, write_kb_nlu
from assistant.settings import Settings, load_settings

CHITCHAT = ("greet", "goodbye", "thank", "bot_challenge", "affirm", "deny")
ROUTE_INTENTS = {"ticket": ("complain",), "handoff": ("request_human",), "fallback": ("out_of_scope",),
                 "chitchat": CHITCHAT}


def expected_intents(case: Case) -> tuple[str, ...]:
    out: list[str] = []
    for route in case.routes:
        if route == "answer":
            out += [f"faq_{t}" for t in case.topics]
        else:
            out += ROUTE_INTENTS.get(route, ())
    return tuple(dict.fromkeys(out))


def ece(conf: np.ndarray, correct: np.ndarray, bins: int = 10) -> tuple[float, list[dict[str, Any]]]:
    """Expected calibration error over equal-width confidence bins, and the reliability table."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    total, table = 0.0, list[dict[str, Any]]()
    for lo, hi in itertools.pairwise(edges):
        sel = (conf > lo) & (conf <= hi) if lo > 0 else (conf >= lo) & (conf <= hi)
        if not sel.any():
            continue
        acc, mean = float(correct[sel].mean()), float(conf[sel].mean())
        total += sel.sum() / len(conf) * abs(acc - mean)
        table.append({"bin": f"{lo:.1f}-{hi:.1f}", "n": int(sel.sum()), "confidence": round(mean, 3),
                      "accuracy": round(acc, 3)})
    return float(total), table


def parse_all(settings: Settings, model: Path, texts: list[str]) -> list[dict[str, Any]]:
    lines = "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts)
    proc = subprocess.run([str(settings.rasa_python), "-m", "assistant.rasa_server.parse_bench", str(model)],
                          input=lines, capture_output=True, text=True, cwd=settings.root,
                          env=rasa_env(), check=False)
    rows = [json.loads(x) for x in proc.stdout.splitlines() if x.startswith("{")]
    if proc.returncode != 0 or len(rows) != len(texts):
        raise SystemExit(f"parse_bench failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return rows


def intents_report(settings: Settings, cases_file: Path, model: Path) -> dict[str, Any]:
    cases = [c for c in load_cases(cases_file) if expected_intents(c)]
    rows = parse_all(settings, model, [c.text for c in cases])
    top = [r["ranking"][0] if r["ranking"] else {"name": r["intent"], "confidence": r["confidence"]} for r in rows]
    correct = np.array([t["name"] in expected_intents(c) for t, c in zip(top, cases, strict=True)])
    conf = np.array([float(t["confidence"]) for t in top])
    e, table = ece(conf, correct)
    per: dict[str, list[int]] = {}
    for c, ok in zip(cases, correct, strict=True):
        per.setdefault("/".join(expected_intents(c)), []).append(int(ok))
    confusions = Counter(("/".join(expected_intents(c)), t["name"])
                         for c, t, ok in zip(cases, top, correct, strict=True) if not ok)
    ms = np.array([r["ms"] for r in rows])
    return {"cases": len(cases), "accuracy": round(float(correct.mean()), 4), "ece": round(e, 4),
            "nlu_fallback_share": round(float(np.mean([r["intent"] == "nlu_fallback" for r in rows])), 4),
            "wrong_at_0.9+": int(((conf >= 0.9) & ~correct).sum()),
            "parse_ms_p50": round(float(np.percentile(ms, 50)), 1),
            "parse_ms_p95": round(float(np.percentile(ms, 95)), 1),
            "recall": {k: round(sum(v) / len(v), 3) for k, v in sorted(per.items())},
            "confusions": [f"{g} -> {p}: {n}" for (g, p), n in confusions.most_common(15)],
            "reliability": table}


def cv(settings: Settings, folds: int) -> int:
    data = Path(tempfile.mkdtemp(prefix="nlu-cv-"))
    out = settings.run_dir / "cv"
    try:
        shutil.copy(settings.root / "nlu_data" / "nlu.yml", data / "nlu.yml")
        shutil.copy(write_kb_nlu(settings), data / "kb_questions.yml")
        t0 = time.perf_counter()
        proc = subprocess.run([str(settings.rasa_python), "-m", "rasa", "test", "nlu", "--nlu", str(data),
                               "--config", "config.yml", "--cross-validation", "--folds", str(folds),
                               "--out", str(out), "--no-plot"], cwd=settings.root, env=rasa_env(), check=False)
        if proc.returncode != 0:
            return proc.returncode
    finally:
        shutil.rmtree(data, ignore_errors=True)
    report = json.loads((out / "intent_report.json").read_text(encoding="utf-8"))
    print(f"\n{folds}-fold cross-validation ({time.perf_counter() - t0:.0f} s), test folds:")
    print(f"{'intent':<26}{'precision':>10}{'recall':>8}{'f1':>8}{'support':>9}")
    for name, r in sorted(report.items()):
        if isinstance(r, dict) and "f1-score" in r and name not in ("macro avg", "weighted avg", "micro avg"):
            print(f"{name:<26}{r['precision']:>10.3f}{r['recall']:>8.3f}{r['f1-score']:>8.3f}{r['support']:>9}")
    w = report["weighted avg"]
    print(f"{'weighted avg':<26}{w['precision']:>10.3f}{w['recall']:>8.3f}{w['f1-score']:>8.3f}{w['support']:>9}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("intents")
    a.add_argument("cases", type=Path)
    a.add_argument("--model", type=Path)
    a.add_argument("--json", action="store_true")
    c = sub.add_parser("cv")
    c.add_argument("--folds", type=int, default=5)
    args = ap.parse_args(argv)
    settings = load_settings()
    if args.cmd == "cv":
        return cv(settings, args.folds)
    report = intents_report(settings, args.cases, args.model or rasa_model(settings))
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
    else:
        for k, v in report.items():
            if isinstance(v, list):
                print(f"{k}:")
                for x in v:
                    print(f"  {x}")
            else:
                print(f"{k}: {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
