"""``python -m assistant kb check|build``: validate the knowledge base, update the index."""

from __future__ import annotations

import argparse
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
    b = kbs.add_parser("build", help="update the index and calibration")
    b.add_argument("--recalibrate", action="store_true")
    kb.set_defaults(run=run)
    return kb


def run(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.knowledge.kb import load

    if args.kb_cmd == "check":
        kb = load(args.dir or settings.knowledge_dir)
        per_topic: dict[str, int] = {}
        for e in kb.entries:
            per_topic[e.topic] = per_topic.get(e.topic, 0) + 1
        items = len(kb.items.items) if kb.items else 0
        print(f"ok: {len(kb.entries)} entries ({', '.join(f'{k} {v}' for k, v in sorted(per_topic.items()))}), "
              f"{items} garbage items, {len(kb.contacts)} contacts")
        return 0
    from assistant.knowledge.build import load_retriever

    retriever = load_retriever(settings, progress=True, recalibrate=args.recalibrate)
    print(f"index: {len(retriever.index.docs)} texts for {len(retriever.entries)} entries")
    print("calibration:", dump(retriever.calibration.report))
    return 0
