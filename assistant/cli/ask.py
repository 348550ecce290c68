"""``python -m assistant ask``: one question, or many as JSON lines with --jsonl."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from assistant.cli.common import dump

if TYPE_CHECKING:
    from assistant.settings import Settings


def add_parser(sub: Any) -> argparse.ArgumentParser:
    a = sub.add_parser("ask", help="ask one question (or many with --jsonl)")
    a.add_argument("text", nargs="?", help="the resident's message")
    a.add_argument("--json", action="store_true", help="print one JSON object")
    a.add_argument("--jsonl", action="store_true", help='read {"text": ..., "sender": ...} lines from stdin')
    a.add_argument("--sender", help="conversation id (default: a fresh one)")
    a.set_defaults(run=run)
    return a


def run(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.runtime.app import open_assistant

    if args.jsonl:
        with open_assistant(settings) as bot:
            for n, line in enumerate(sys.stdin, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                    if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
                        raise ValueError('expected an object with a string "text"')
                    sender = obj.get("sender")
                    if sender is not None and not isinstance(sender, (str, int)):
                        raise ValueError('"sender" must be a string')
                except ValueError as exc:
                    print(dump({"error": f"line {n}: {exc}", "line": n}), flush=True)
                    continue
                reply = bot.ask(obj["text"], str(sender) if sender is not None else None)
                print(dump(reply.as_dict()), flush=True)
        return 0
    if args.text is None:
        print("error: ask needs a TEXT (or --jsonl)", file=sys.stderr)
        return 2
    with open_assistant(settings) as bot:
        reply = bot.ask(args.text, args.sender)
    if args.json:
        print(dump(reply.as_dict()))
    else:
        print("\n".join(reply.replies))
    return 0
