"""Admin command line for tickets: ``tickets list|show|assign|comment|status|resolve|close|reopen|rate|overdue``.

Wire it into a parser with ``add_parser(subparsers)`` and call ``run(args, settings)``; run it as
``python -m assistant tickets ...``. Options of every subcommand:
``--db URL`` (default $ASSISTANT_TICKETS_URL, else sqlite:///<project>/models/tickets.db),
``--sla FILE`` (default $ASSISTANT_TICKETS_SLA, else the packaged examples/sla.yml),
``--actor NAME`` (default $ASSISTANT_TICKETS_ACTOR, else admin:<login>), ``--json``.

Exit codes: 0 done; 1 refused or unavailable (unknown ticket, status change not allowed, rating
before resolution, database unreachable); 2 bad input (unknown status or category, value too long,
score out of range, SLA file wrong).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.desk.tickets.errors import TicketError, ValidationError
from assistant.desk.tickets.models import Event, Ticket
from assistant.desk.tickets.sla import load_sla
from assistant.desk.tickets.store import SQLTicketStore, open_store, safe_url
from assistant.errors import DataError

if TYPE_CHECKING:
    from assistant.settings import Settings


def _common(defaults: bool) -> argparse.ArgumentParser:
    """Options accepted before and after the subcommand (``tickets --db X list`` = ``tickets list --db X``)."""
    d = (lambda v: v) if defaults else (lambda v: argparse.SUPPRESS)
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--db", metavar="URL", default=d(None),
                   help="database URL (default $ASSISTANT_TICKETS_URL or sqlite:///<project>/models/tickets.db)")
    p.add_argument("--sla", metavar="FILE", type=Path, default=d(None),
                   help="SLA file (default $ASSISTANT_TICKETS_SLA or the packaged example)")
    p.add_argument("--actor", metavar="NAME", default=d(None),
                   help="who is acting, for the audit trail (default $ASSISTANT_TICKETS_ACTOR or admin:<login>)")
    p.add_argument("--json", action="store_true", default=d(False), help="print JSON")
    return p


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``tickets`` and its subcommands on an argparse subparsers object."""
    p = subparsers.add_parser("tickets", help="dispute tickets: list, show, assign, change status, ...",
                              parents=[_common(True)])
    p.set_defaults(run=run)
    sub = p.add_subparsers(dest="tickets_cmd", required=True, metavar="COMMAND")
    common = _common(False)

    def cmd(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, parents=[common])

    def with_id(c: argparse.ArgumentParser) -> argparse.ArgumentParser:
        c.add_argument("id", help="ticket id, e.g. T-20261123-0007")
        return c

    c = cmd("list", "list tickets, newest first")
    c.add_argument("--status", action="append", help="only this status (repeatable)")
    c.add_argument("--category", help="only this category")
    c.add_argument("--unit", help="only this unit (5-101) or building (5, 5栋)")
    c.add_argument("--assignee", help="only tickets assigned to this person")
    c.add_argument("--reporter", help="only tickets of this resident id")
    c.add_argument("--overdue", action="store_true", help="only tickets past an SLA due time")
    c.add_argument("--limit", type=int, default=50, help="at most this many (default 50; 0 = all)")
    with_id(cmd("show", "one ticket with its audit trail"))
    c = with_id(cmd("assign", "assign or reassign a ticket"))
    c.add_argument("assignee")
    c.add_argument("-m", "--comment")
    c = with_id(cmd("comment", "add a comment"))
    c.add_argument("text")
    c = with_id(cmd("status", "change the status (in_progress, waiting_resident, resolved, closed, open)"))
    c.add_argument("status")
    c.add_argument("-m", "--comment")
    for name, help in (("resolve", "mark resolved"), ("close", "close a resolved ticket"),
                       ("reopen", "reopen a resolved or closed ticket")):
        with_id(cmd(name, help)).add_argument("-m", "--comment")
    c = with_id(cmd("rate", "record the resident's satisfaction (1-5) on a resolved ticket"))
    c.add_argument("score")
    c.add_argument("-m", "--comment")
    c = cmd("overdue", "unresolved tickets past an SLA due time")
    c.add_argument("--at", metavar="TIME", help="ISO time to check against (default now)")
    return p


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run a parsed ``tickets`` command; errors are printed in one line, never as a traceback."""
    url = args.db or settings.desk_url
    args.actor = args.actor or settings.tickets_actor

    def act() -> int:
        sla = load_sla(args.sla or settings.tickets_sla)
        with open_store(url, sla=sla) as store:
            return COMMANDS[args.tickets_cmd](store, args)

    return guarded(url, act, usage=(ValidationError, DataError), failures=(TicketError,))


def guarded(url: str, act: Callable[[], int], *, usage: tuple[type[Exception], ...],
            failures: tuple[type[Exception], ...]) -> int:
    """Run an admin command: bad input exits 2, refused or failed operations 1, one line each."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return act()
    except usage as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except failures as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:
        print(f"error: database error on {safe_url(url)}: {type(exc).__name__}", file=sys.stderr)
        return 1


# --- commands ------------------------------------------------------------------------------

def _actor(args: argparse.Namespace) -> str:
    if args.actor:               # --actor, else $ASSISTANT_TICKETS_ACTOR (``run`` fills it in)
        return args.actor
    try:
        return f"admin:{getpass.getuser()}"
    except (KeyError, OSError):
        return "admin"


def _list(store: SQLTicketStore, args: argparse.Namespace) -> int:
    tickets = store.list(status=args.status, category=args.category, unit=args.unit, assignee=args.assignee,
                         reporter_id=args.reporter, overdue=args.overdue, limit=max(args.limit, 0) or None)
    return _print_tickets(store, args, tickets, "tickets")


def _show(store: SQLTicketStore, args: argparse.Namespace) -> int:
    ticket, events = store.get(args.id), store.events(args.id)
    if args.json:
        _json({"ticket": ticket.as_dict(), "events": [e.as_dict() for e in events]})
        return 0
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    tz, now = store.sla.calendar.tz, store.clock()
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    late = ticket.overdue_kind(now)
    rows = [("id", ticket.id), ("status", ticket.status + (f"  (overdue: {late})" if late else "")),
            ("category", ticket.category), ("priority", ticket.priority), ("unit", ticket.unit or "-"),
            ("other party", ticket.other_party_unit or "-"),
            ("reporter", f"{ticket.reporter_name or '-'} ({ticket.reporter_id})"),
            ("assignee", ticket.assignee or "-"), ("created", _t(ticket.created_at, tz)),
            ("first response", _t(ticket.first_response_at, tz) if ticket.first_response_at
             else f"due {_t(ticket.first_response_due, tz)}"),
            ("resolution", _t(ticket.resolved_at, tz) if ticket.resolved_at
             else f"due {_t(ticket.resolution_due, tz)}" + (" (paused)" if ticket.paused_at else "")),
            ("satisfaction", f"{ticket.satisfaction}/5 {ticket.satisfaction_comment or ''}".strip()
             if ticket.satisfaction else "-"),
            ("description", ticket.description)]
    for k, v in rows:
        grid.add_row(k, Text(v))
    con = Console()
    con.print(grid)
    t = Table("time", "actor", "action", "change", "comment", title="audit trail")
    for e in events:
        t.add_row(_t(e.at, tz), Text(e.actor), e.action, Text(_change(e)), Text(e.comment or ""))
    con.print(t)
    return 0


def _change(e: Event) -> str:
    parts = []
    if e.from_status != e.to_status and e.to_status:
        parts.append(f"{e.from_status or ''} -> {e.to_status}" if e.from_status else e.to_status)
    if e.value and e.action == "assigned":
        parts.append(f"to {e.value}")
    elif e.value and e.action == "rated":
        parts.append(f"{e.value}/5")
    elif e.value and e.action == "reminded":
        parts.append(f"{e.value} overdue")
    return " ".join(parts)


def _done(store: SQLTicketStore, args: argparse.Namespace, ticket: Ticket, what: str) -> int:
    if args.json:
        _json(ticket.as_dict())
    else:
        from rich.console import Console
        from rich.text import Text

        Console().print(Text(f"{ticket.id} {what} (status {ticket.status})"))
    return 0


def _assign(store: SQLTicketStore, args: argparse.Namespace) -> int:
    t = store.assign(args.id, args.assignee, actor=_actor(args), comment=args.comment)
    return _done(store, args, t, f"assigned to {t.assignee}")


def _comment(store: SQLTicketStore, args: argparse.Namespace) -> int:
    return _done(store, args, store.comment(args.id, args.text, actor=_actor(args)), "commented")


def _status(store: SQLTicketStore, args: argparse.Namespace) -> int:
    t = store.transition(args.id, args.status.strip().lower(), actor=_actor(args), comment=args.comment)
    return _done(store, args, t, "updated")


def _simple(method: str, what: str) -> Callable[[SQLTicketStore, argparse.Namespace], int]:
    def cmd(store: SQLTicketStore, args: argparse.Namespace) -> int:
        t = getattr(store, method)(args.id, actor=_actor(args), comment=args.comment)
        return _done(store, args, t, what)
    return cmd


def _rate(store: SQLTicketStore, args: argparse.Namespace) -> int:
    t = store.rate(args.id, args.score, args.comment, actor=args.actor or None)
    return _done(store, args, t, f"rated {t.satisfaction}/5")


def _overdue(store: SQLTicketStore, args: argparse.Namespace) -> int:
    now = store.clock()
    if args.at:
        try:
            now = datetime.fromisoformat(args.at)
        except ValueError:
            raise ValidationError("--at", f"{args.at!r} is not an ISO time like 2026-11-23T18:00+08:00") from None
        if now.tzinfo is None:
            now = now.replace(tzinfo=store.sla.calendar.tz)
    return _print_tickets(store, args, store.overdue(now), "overdue tickets", now)


def _print_tickets(store: SQLTicketStore, args: argparse.Namespace, tickets: list[Ticket], title: str,
                   now: datetime | None = None) -> int:
    now = now or store.clock()
    if args.json:
        _json([{**t.as_dict(), "overdue": t.overdue_kind(now)} for t in tickets])
        return 0
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    tz, con = store.sla.calendar.tz, Console()
    rows: list[dict[str, Any]] = []
    for t in tickets:
        late = t.overdue_kind(now)
        due = t.first_response_due if t.first_response_at is None else t.resolution_due
        due_text = ("-" if t.status in ("resolved", "closed") else
                    "paused" if t.paused_at else _t(due, tz, short=True) + (" LATE" if late else ""))
        rows.append({"id": t.id, "status": t.status, "category": t.category, "unit": t.unit or "-",
                     "priority": t.priority, "assignee": t.assignee or "-",
                     "created": _t(t.created_at, tz, short=True), "due": due_text,
                     "description": t.description.replace("\n", " ")[:80], "late": late})
    names = ["id", "status", "category", "unit", "priority", "assignee", "created", "due"]
    width = lambda n: max([len(n)] + [con.measure(Text(r[n])).maximum for r in rows]) + 3   # noqa: E731
    for optional in ("created", "priority", "category"):      # make room for the description on narrow screens
        if sum(width(n) for n in names) + 14 <= con.width:
            break
        names.remove(optional)
    table = Table(title=f"{title} ({len(tickets)})")
    for name in names:
        table.add_column(name, no_wrap=True)
    table.add_column("description", overflow="ellipsis", no_wrap=True,
                     max_width=max(8, con.width - sum(width(n) for n in names) - 4))
    for r in rows:
        table.add_row(*[Text(r[n], style="bold red" if n == "due" and r["late"] else "") for n in names],
                      Text(r["description"]))
    Console().print(table)
    return 0


def _t(value: datetime | None, tz: Any, short: bool = False) -> str:
    return value.astimezone(tz).strftime("%m-%d %H:%M" if short else "%Y-%m-%d %H:%M") if value else "-"


def _json(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False))


COMMANDS: dict[str, Callable[[SQLTicketStore, argparse.Namespace], int]] = {
    "list": _list, "show": _show, "assign": _assign, "comment": _comment, "status": _status,
    "resolve": _simple("resolve", "resolved"), "close": _simple("close", "closed"),
    "reopen": _simple("reopen", "reopened"), "rate": _rate, "overdue": _overdue,
}
