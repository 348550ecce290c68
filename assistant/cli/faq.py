"""``python -m assistant faq export FILE.xlsx|.csv`` / ``faq import FILE``: the knowledge base as a
spreadsheet and back; bad rows are reported with their row number and reason, good rows land."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant.settings import Settings


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser("faq", help="FAQ import/export as Excel or CSV")
    s = p.add_subparsers(dest="faq_cmd", required=True)
    e = s.add_parser("export", help="every entry to a .xlsx or .csv")
    e.add_argument("file", type=Path)
    i = s.add_parser("import", help="rows of a .xlsx or .csv into knowledge/ (checked row by row)")
    i.add_argument("file", type=Path)
    i.add_argument("--actor")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.learning.faq_io import export_sheet, import_sheet
    from assistant.learning.kbedit import KnowledgeFiles
    from assistant.runtime.app import open_learning

    files = KnowledgeFiles(settings.knowledge_dir)
    if args.faq_cmd == "export":
        n = export_sheet(files.load(), args.file)
        print(f"exported {n} entries to {args.file}")
        return 0
    report = import_sheet(args.file, files)
    for err in report.errors:
        print(f"{args.file}: {err}", file=sys.stderr)
    who = args.actor or settings.tickets_actor or f"admin:{getpass.getuser()}"
    open_learning(settings).audit(who, "faq_import", {"file": args.file.name, "rows": report.rows,
                                                      "written": len(report.written), "bad_rows": len(report.errors)})
    print(f"{len(report.written)} of {report.rows} rows written, {len(report.errors)} bad row(s)")
    return 1 if report.errors else 0
