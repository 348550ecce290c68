"""``python -m assistant hittest "问题" | --file questions.csv|.xlsx [--json]``: what the live bot would
do with each question (route, top entries with scores, the reply), through the engine's own code
with Rasa's NLU when the Rasa server is running. Nothing is recorded."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant.settings import Settings


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser("hittest", help="hit testing: route, top entries and reply for questions")
    p.add_argument("question", nargs="*")
    p.add_argument("--file", type=Path, help="a .csv or .xlsx of questions (first column or 'question'/'问题')")
    p.add_argument("--json", action="store_true", help="one JSON object per question")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.learning.hittest import read_questions
    from assistant.runtime.app import learning_service

    questions = list(args.question) + (read_questions(args.file) if args.file else [])
    if not questions:
        print("error: give a question or --file", flush=True)
        return 2
    learning = learning_service(settings)
    for q in questions:
        hit = learning.hit(q)
        if args.json:
            print(json.dumps(hit.as_dict(), ensure_ascii=False))
            continue
        conf = "-" if hit.confidence is None else f"{hit.confidence:.2f}"
        print(f"问题: {q}\n  route={hit.route} confidence={conf} intent={hit.intent or '-'}"
              + ("" if hit.nlu else "  (Rasa not running: routed without NLU)"))
        for t in hit.top:
            print(f"  {t['score']:.3f}  {t['id']}  {t['title']}")
        print(f"  answered by: {hit.answered_by or '-'}")
        print("  reply: " + hit.reply.replace("\n", "\n         "))
    return 0
