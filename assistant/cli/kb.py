"""``python -m assistant kb check|build``: validate the knowledge base (and its consistency), update the index."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.cli.common import dump

if TYPE_CHECKING:
    from assistant.settings import Settings


def add_parser(sub: Any) -> argparse.ArgumentParser:
    kb = sub.add_parser("kb", help="knowledge base tools")
    kbs = kb.add_subparsers(dest="kb_cmd", required=True)
    c = kbs.add_parser("check", help="validate knowledge/ (ids, fields, topics, YAML)")
    c.add_argument("--dir", type=Path, help="knowledge folder (default: the project's)")
    c.add_argument("--today", type=_day, help="check validity dates as of this day (default: today)")
    c.add_argument("--examples", action="store_true", help="list every contact, fact and entry still an example")
    b = kbs.add_parser("build", help="update the index and calibration")
    b.add_argument("--recalibrate", action="store_true")
    kb.set_defaults(run=run)
    return kb


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date like 2026-12-01: {text!r}") from None


def run(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.knowledge.consistency import check
    from assistant.knowledge.kb import load

    if args.kb_cmd == "check":
        kb = load(args.dir or settings.knowledge_dir, today=args.today)
        report = check(kb, today=args.today)
        bad, stale = report.of("contradiction"), report.of("stale")
        restated, examples = report.of("restated"), report.of("example")
        for f in [*bad, *stale]:
            print(f"{f.kind}: {f}", file=sys.stderr)
        if bad or stale:
            print(f"{len(bad)} contradiction(s), {len(stale)} stale entr{'y' if len(stale) == 1 else 'ies'}",
                  file=sys.stderr)
            return 1
        per_topic: dict[str, int] = {}
        for e in kb.entries:
            per_topic[e.topic] = per_topic.get(e.topic, 0) + 1
        items = len(kb.items.items) if kb.items else 0
        print(f"ok: {len(kb.entries)} entries ({', '.join(f'{k} {v}' for k, v in sorted(per_topic.items()))}), "
              f"{items} garbage items, {len(kb.contacts) - len(kb.facts)} contacts, {len(kb.facts)} facts; "
              f"0 contradictions, 0 stale entries")
        for f in restated:
            print(f"restated: {f}")
        print(f"still examples to replace: {len(examples)}"
              + ("" if args.examples or not examples else " (--examples lists them)"))
        if args.examples:
            for f in examples:
                print(f"  {f}")
        return 0
    from assistant.knowledge.build import load_retriever

    retriever = load_retriever(settings, progress=True, recalibrate=args.recalibrate)
    print(f"index: {len(retriever.index.docs)} texts for {len(retriever.entries)} entries")
    print("calibration:", dump(retriever.calibration.report))
    return 0
