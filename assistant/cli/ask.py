"""``python -m assistant ask``: one question, or many as JSON lines with --jsonl."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, BinaryIO

from assistant.cli.common import dump

if TYPE_CHECKING:
    from assistant.channels.client import Reply
    from assistant.settings import Settings

log = logging.getLogger(__name__)

MAX_LINE_BYTES = 1024 * 1024   # a longer --jsonl line is not read (one error object for it)
MAX_DEPTH = 20                 # JSON nesting accepted on a --jsonl line (a line is one flat object)


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
            answer_lines(bot.ask, sys.stdin.buffer, sys.stdout.buffer)
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


# -- ask --jsonl ---------------------------------------------------------------------------------


def answer_lines(ask: Callable[[str, str | None], Reply], stdin: BinaryIO, stdout: BinaryIO) -> int:
    """One JSON object out per line in, in order, whatever the line holds: the reply, or
    ``{"error": "line N: …", "line": N}``. Bytes in, UTF-8 out, whatever the locale. Returns
    the number of lines read."""
    n = 0
    for n, raw in _lines(stdin):
        try:
            out = _answer_line(ask, n, raw)
        except Exception as exc:    # one bad line never ends the run
            log.error("ask --jsonl line %d: answering failed: %s", n, type(exc).__name__, exc_info=True)
            out = _error(n, f"could not be answered ({type(exc).__name__})")
        stdout.write((dump(out) + "\n").encode("utf-8", "backslashreplace"))
        stdout.flush()
    return n


def _lines(stream: BinaryIO) -> Iterator[tuple[int, bytes | None]]:
    """Numbered lines without their line break; None for a line longer than MAX_LINE_BYTES (its
    rest is skipped)."""
    n = 0
    while True:
        chunk = stream.readline(MAX_LINE_BYTES + 1)
        if not chunk:
            return
        n += 1
        if len(chunk) > MAX_LINE_BYTES and not chunk.endswith(b"\n"):
            while chunk and not chunk.endswith(b"\n"):
                chunk = stream.readline(MAX_LINE_BYTES)
            yield n, None
            continue
        yield n, chunk.rstrip(b"\r\n")


def _error(n: int, message: str) -> dict[str, Any]:
    return {"error": f"line {n}: {message}", "line": n}


def _answer_line(ask: Callable[[str, str | None], Reply], n: int, raw: bytes | None) -> dict[str, Any]:
    if raw is None:
        return _error(n, f"longer than {MAX_LINE_BYTES} bytes")
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _error(n, f"not UTF-8 (byte {exc.start})")
    if not line.strip():
        return _error(n, "empty line")
    if nesting(line) > MAX_DEPTH:
        return _error(n, f"JSON nested deeper than {MAX_DEPTH} levels")
    try:
        obj = json.loads(line)
    except ValueError as exc:   # JSONDecodeError, and numbers too long to read
        return _error(n, str(exc)[:200])
    if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
        return _error(n, 'expected an object with a string "text"')
    sender = obj.get("sender")
    if sender is not None and not isinstance(sender, (str, int)):
        return _error(n, '"sender" must be a string')
    return ask(obj["text"], str(sender) if sender is not None else None).as_dict()


def nesting(line: str) -> int:
    """How deep the arrays and objects of a JSON text nest (brackets inside strings not counted)."""
    if line.count("[") + line.count("{") <= MAX_DEPTH:
        return 0
    depth = deepest = 0
    in_string = escaped = False
    for ch in line:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest
