"""Admin command line for the desk's chores: ``desk sweep`` (once) and ``desk watch`` (until Ctrl-C).

    python -m assistant desk sweep [--timeout MINUTES] [--at TIME] [--json] [--db URL]
    python -m assistant desk watch [--every SECONDS] [--timeout MINUTES] [--db URL]

The desk is ``open_desk(settings, --db)``: the tickets' database ($ASSISTANT_TICKETS_URL by default), the
roster ($ASSISTANT_HANDOFF_ROSTER), residents told through the configured Rasa server. The take
timeout defaults to $ASSISTANT_HANDOFF_TIMEOUT minutes, else 30. Exit codes: 0 done; 1 a step
failed (listed) or the database is unreachable; 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from assistant.desk.sweep import Sweeper, SweepReport, sweep

if TYPE_CHECKING:
    from assistant.desk.desk import Desk
    from assistant.settings import Settings


def _positive(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not number > 0:
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive number")
    return number


def _when(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an ISO time like 2026-11-23T18:00+08:00") from None


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``desk`` (sweep, watch) on an argparse subparsers object; sets ``run``."""
    p = sub.add_parser("desk", help="expire handoffs nobody took, remind admins of overdue tickets")
    p.set_defaults(run=run)
    dsub = p.add_subparsers(dest="desk_cmd", required=True, metavar="COMMAND")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", metavar="URL", help="database URL (default $ASSISTANT_TICKETS_URL or "
                        "sqlite:///<project>/models/tickets.db)")
    common.add_argument("--timeout", metavar="MINUTES", type=_positive,
                        help="take timeout for handoffs (default $ASSISTANT_HANDOFF_TIMEOUT or 30)")
    s = dsub.add_parser("sweep", help="sweep once and print what was expired and who was reminded",
                        parents=[common])
    s.add_argument("--at", metavar="TIME", type=_when, help="ISO time to sweep at (default now)")
    s.add_argument("--json", action="store_true", help="print JSON")
    w = dsub.add_parser("watch", help="sweep every --every seconds until Ctrl-C", parents=[common])
    w.add_argument("--every", metavar="SECONDS", type=_positive, default=60.0, help="interval (default 60)")
    return p


def run(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.runtime.app import open_desk

    timeout = timedelta(minutes=args.timeout) if args.timeout else None
    with open_desk(settings, args.db) as desk:
        if args.desk_cmd == "watch":
            return _watch(desk, args.every, timeout)
        at = args.at
        if at is not None and at.tzinfo is None:
            at = at.replace(tzinfo=desk.roster.tz)
        report = sweep(desk, at, take_timeout=timeout)
        if args.json:
            print(json.dumps(report.as_dict(), ensure_ascii=False))
        else:
            print_report(report, desk.roster.tz)
        return 1 if report.errors else 0


def print_report(report: SweepReport, tz: Any) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    con = Console()
    when = report.at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    table = Table(title=f"desk sweep at {when}: {len(report.expired)} handoff(s) expired, "
                        f"{len(report.reminders)} overdue reminder(s)")
    for name in ("what", "id", "ticket", "detail", "admin"):
        table.add_column(name, no_wrap=True)
    for e in report.expired:
        detail = "resident told" if e.told else ("resident unreachable" if e.ticket_id else "no ticket opened")
        table.add_row(*map(Text, ("handoff expired", e.handoff_id, e.ticket_id or "-", detail, e.admin_id or "-")))
    for r in report.reminders:
        due = r.due.astimezone(tz).strftime("%m-%d %H:%M")
        table.add_row(*map(Text, ("ticket overdue", r.ticket_id, r.category,
                                  f"{r.kind} due {due}, assignee {r.assignee or '-'}", r.admin_id or "-")))
    for err in report.errors:
        table.add_row(Text("error", style="bold red"), Text(err), "", "", "")
    con.print(table)
    if report.empty:
        con.print("nothing expired, no new overdue tickets")


def _watch(desk: Desk, every: float, timeout: timedelta | None) -> int:
    from rich.console import Console

    con = Console()

    def show(report: SweepReport) -> None:
        if not report.empty:
            con.print(f"{report.at:%H:%M:%S} expired {', '.join(e.handoff_id for e in report.expired) or '-'}; "
                      f"reminded {', '.join(f'{r.ticket_id} ({r.kind})' for r in report.reminders) or '-'}"
                      + (f"; errors: {'; '.join(report.errors)}" if report.errors else ""), highlight=False)

    sweeper = Sweeper(desk, every, take_timeout=timeout, on_report=show)
    sweeper.start()
    con.print(f"sweeping every {every:g} s; Ctrl-C to stop", highlight=False)
    try:
        while sweeper.running:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        sweeper.stop()
    con.print(f"stopped after {sweeper.runs} sweep(s)", highlight=False)
    return 0
