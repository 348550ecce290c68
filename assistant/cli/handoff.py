"""Admin command line for the handoff queue: ``handoff list|take|release|expire``.

Wire it into a parser with ``add_parser(subparsers)`` and call ``run(args, settings)``; run it as
``python -m assistant handoff ...``. Options of every subcommand: ``--db URL`` (default
$ASSISTANT_TICKETS_URL, else sqlite:///<project>/models/tickets.db), ``--roster FILE`` (default
$ASSISTANT_HANDOFF_ROSTER; when set, admins must be in it and ``list`` shows who is on duty),
``--json``. ``take``/``release`` act as ``--admin`` (default $ASSISTANT_HANDOFF_ADMIN, else
admin:<login>). ``expire`` only marks and prints: telling residents is the assistant's job.

Exit codes: 0 done; 1 refused or unavailable (unknown handoff, already taken, expired, database
unreachable); 2 bad input (unknown state or admin, bad time or timeout, roster file wrong).
"""

from __future__ import annotations

import argparse
import getpass
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.desk.handoff.queue import (
    OPEN,
    STATES,
    Handoff,
    HandoffError,
    HandoffValidation,
    SQLHandoffStore,
    open_handoffs,
)
from assistant.desk.handoff.roster import ROSTER_ENV, DutyRoster, load_roster
from assistant.errors import DataError

if TYPE_CHECKING:
    from assistant.settings import Settings

ADMIN_ENV = "ASSISTANT_HANDOFF_ADMIN"


def _common(defaults: bool) -> argparse.ArgumentParser:
    """Options accepted before and after the subcommand."""
    d = (lambda v: v) if defaults else (lambda v: argparse.SUPPRESS)
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--db", metavar="URL", default=d(None),
                   help="database URL (default $ASSISTANT_TICKETS_URL or sqlite:///<project>/models/tickets.db)")
    p.add_argument("--roster", metavar="FILE", type=Path, default=d(None),
                   help=f"admin roster (default ${ROSTER_ENV}; optional)")
    p.add_argument("--json", action="store_true", default=d(False), help="print JSON")
    return p


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``handoff`` and its subcommands on an argparse subparsers object."""
    p = subparsers.add_parser("handoff", help="conversations handed to a human: list, take, release, expire",
                              parents=[_common(True)])
    p.set_defaults(run=run)
    sub = p.add_subparsers(dest="handoff_cmd", required=True, metavar="COMMAND")
    common = _common(False)

    c = sub.add_parser("list", help="handoffs, oldest first (default: waiting and taken)", parents=[common])
    c.add_argument("--state", action="append", help=f"only this state (repeatable): {', '.join(STATES)}")
    c.add_argument("--all", action="store_true", help="every state")
    c.add_argument("--limit", type=int, default=50, help="at most this many (default 50; 0 = all)")
    for name, help in (("take", "take a waiting handoff"), ("release", "hand the conversation back to the bot")):
        c = sub.add_parser(name, help=help, parents=[common])
        c.add_argument("id", help="handoff id, e.g. H-20261123-0007")
        c.add_argument("--admin", help=f"who acts (default ${ADMIN_ENV} or admin:<login>)")
    c = sub.add_parser("expire", help="mark handoffs nobody took in time expired", parents=[common])
    c.add_argument("--timeout", required=True, metavar="MINUTES", help="take timeout in minutes")
    c.add_argument("--at", metavar="TIME", help="ISO time to check against (default now)")
    return p


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run a parsed ``handoff`` command; errors are printed in one line, never as a traceback."""
    from assistant.cli.tickets import guarded

    url = args.db or settings.desk_url
    args.admin = getattr(args, "admin", None) or settings.handoff_admin

    def act() -> int:
        roster_file = args.roster or settings.handoff_roster
        roster = load_roster(roster_file) if roster_file else None
        with open_handoffs(url) as store:
            return COMMANDS[args.handoff_cmd](store, roster, args)

    return guarded(url, act, usage=(HandoffValidation, DataError), failures=(HandoffError,))


# --- commands ------------------------------------------------------------------------------

def _admin(args: argparse.Namespace, roster: DutyRoster | None) -> str:
    admin = args.admin           # --admin, else $ASSISTANT_HANDOFF_ADMIN (``run`` fills it in)
    if not admin:
        try:
            admin = f"admin:{getpass.getuser()}"
        except (KeyError, OSError):
            admin = "admin"
    if roster is not None and roster.get(admin) is None:
        raise HandoffValidation("admin", f"{admin!r} is not in the roster {roster.path} "
                                f"({', '.join(a.id for a in roster.admins)})")
    return admin


def _list(store: SQLHandoffStore, roster: DutyRoster | None, args: argparse.Namespace) -> int:
    states = None if args.all else (args.state or list(OPEN))
    items = store.list(state=states, limit=max(args.limit, 0) or None)
    duty = roster.on_duty(store.clock()) if roster else None
    if args.json:
        _json({"handoffs": [h.as_dict() for h in items], "on_duty": duty.as_dict() if duty else None})
        return 0
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    tz = roster.tz if roster else store.tz
    title = f"handoffs ({len(items)})" + (f" — on duty: {duty.name} ({duty.id})" if duty else "")
    table = Table(title=title)
    for name in ("id", "state", "reason", "conversation", "resident", "admin", "created"):
        table.add_column(name, no_wrap=True)
    table.add_column("summary", overflow="ellipsis", no_wrap=True, max_width=60)
    for h in items:
        table.add_row(*[Text(v) for v in (h.id, h.state, h.reason, h.conversation_id, h.resident_id,
                                           h.admin or "-", _t(h.created_at, tz), h.summary.replace("\n", " "))])
    Console().print(table)
    return 0


def _done(args: argparse.Namespace, h: Handoff, what: str) -> int:
    if args.json:
        _json(h.as_dict())
    else:
        from rich.console import Console
        from rich.text import Text

        Console().print(Text(f"{h.id} {what} (state {h.state})"))
    return 0


def _take(store: SQLHandoffStore, roster: DutyRoster | None, args: argparse.Namespace) -> int:
    h = store.take(args.id, _admin(args, roster))
    return _done(args, h, f"taken by {h.admin}")


def _release(store: SQLHandoffStore, roster: DutyRoster | None, args: argparse.Namespace) -> int:
    h = store.release(args.id, _admin(args, roster))
    return _done(args, h, "released to the bot")


def _expire(store: SQLHandoffStore, roster: DutyRoster | None, args: argparse.Namespace) -> int:
    try:
        minutes = float(args.timeout)
    except ValueError:
        minutes = -1.0
    if not minutes > 0:
        raise HandoffValidation("--timeout", f"{args.timeout!r} is not a positive number of minutes")
    now = store.clock()
    if args.at:
        try:
            now = datetime.fromisoformat(args.at)
        except ValueError:
            raise HandoffValidation("--at", f"{args.at!r} is not an ISO time like 2026-11-23T18:00+08:00") from None
        if now.tzinfo is None:
            now = now.replace(tzinfo=roster.tz if roster else store.tz)
    expired = store.expire(now, timedelta(minutes=minutes))
    if args.json:
        _json([h.as_dict() for h in expired])
        return 0
    from rich.console import Console
    from rich.text import Text

    con = Console()
    con.print(Text(f"{len(expired)} handoff(s) expired"))
    for h in expired:
        con.print(Text(f"  {h.id}  conversation {h.conversation_id}  resident {h.resident_id}"))
    return 0


def _t(value: datetime | None, tz: Any) -> str:
    return value.astimezone(tz).strftime("%m-%d %H:%M") if value else "-"


def _json(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False))


COMMANDS: dict[str, Callable[[SQLHandoffStore, DutyRoster | None, argparse.Namespace], int]] = {
    "list": _list, "take": _take, "release": _release, "expire": _expire,
}
