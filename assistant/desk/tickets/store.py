"""The ticket store: a small Protocol and its SQLAlchemy implementation (SQLite or PostgreSQL).

SQLite (``assistant.db``'s engine) runs in WAL mode with foreign keys on, a busy timeout and
``synchronous=FULL``; writes take the write lock up front (``BEGIN IMMEDIATE``) so concurrent
writers queue instead of failing.
PostgreSQL takes row locks for status changes and an advisory lock for de-duplication.
Opening a store runs the desk's packaged Alembic migrations (``assistant/desk/migrations``: tickets,
reminders, notices, handoffs) up to head, under a lock.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, Self

from sqlalchemy import Engine, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from assistant import db
from assistant.db import error_line, safe_url
from assistant.desk.tickets.errors import (
    InvalidTransition,
    StoreUnavailable,
    TicketError,
    TicketNotFound,
    ValidationError,
)
from assistant.desk.tickets.ids import format_ticket_id, normalize_ticket_id
from assistant.desk.tickets.models import (
    ACTIVE,
    OVERDUE_KINDS,
    PAUSED,
    SYSTEM,
    Event,
    Reporter,
    Ticket,
    category_field,
    check_transition,
    name_field,
    priority_field,
    score_field,
    text_field,
    unit_field,
    utc,
)
from assistant.desk.tickets.schema import EventRow, ReminderRow, TicketRow
from assistant.desk.tickets.sla import SLAPolicy, load_sla
from assistant.desk.tickets.text import mask_name
from assistant.errors import AssistantError
from assistant.text.units import normalize_building

log = logging.getLogger("assistant.desk.tickets")
MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"    # the whole desk database
_PG_MIGRATE_LOCK = 0x7469636B    # advisory lock key held while migrating ("tick")


class RatingRefused(TicketError):
    """A rating for a ticket that is not resolved yet."""


class TicketStore(Protocol):
    """What the assistant and the admin CLI need from a ticket store."""

    def create(self, reporter: Reporter | str, category: str, unit: str | None, description: str, *,
               other_party: str | None = None, priority: str = "normal") -> Ticket: ...

    def open_or_append(self, reporter: Reporter | str, category: str, unit: str | None, text: str,
                       window: timedelta = timedelta(hours=24), *, other_party: str | None = None,
                       priority: str = "normal") -> tuple[Ticket, bool]: ...

    def get(self, ticket_id: str) -> Ticket: ...

    def list(self, *, status: str | Iterable[str] | None = None, category: str | None = None,
             unit: str | None = None, assignee: str | None = None, reporter_id: str | None = None,
             overdue: bool = False, limit: int | None = 200) -> list[Ticket]: ...

    def events(self, ticket_id: str) -> builtins.list[Event]: ...

    def assign(self, ticket_id: str, assignee: str, *, actor: str, comment: str | None = None) -> Ticket: ...

    def comment(self, ticket_id: str, text: str, *, actor: str) -> Ticket: ...

    def transition(self, ticket_id: str, status: str, *, actor: str, comment: str | None = None) -> Ticket: ...

    def resolve(self, ticket_id: str, *, actor: str, comment: str | None = None) -> Ticket: ...

    def close(self, ticket_id: str, *, actor: str, comment: str | None = None) -> Ticket: ...

    def reopen(self, ticket_id: str, *, actor: str, comment: str | None = None) -> Ticket: ...

    def rate(self, ticket_id: str, score: int, comment: str | None = None, *, actor: str | None = None) -> Ticket: ...

    def overdue(self, now: datetime | None = None) -> builtins.list[Ticket]: ...

    def claim_reminder(self, ticket_id: str, kind: str, due: datetime) -> bool: ...


def _now() -> datetime:
    return datetime.now(UTC)


def default_url(root: Path | None = None) -> str:
    """A SQLite file at <project root>/models/tickets.db (the running app uses ``Settings.desk_url``,
    which $ASSISTANT_TICKETS_URL overrides)."""
    if root is None:
        from assistant.settings import find_root
        root = find_root()
    return f"sqlite:///{Path(root).resolve() / 'models' / 'tickets.db'}"


def migrate(engine: Engine) -> None:
    """Upgrade the desk's tables to head (``assistant.db.migrate``: one transaction, under a lock, retried)."""
    db.migrate(engine, MIGRATIONS, _PG_MIGRATE_LOCK)


def open_store(url: str | None = None, *, sla: SLAPolicy | None = None,
               clock: Callable[[], datetime] = _now, busy_timeout: float = 30.0) -> SQLTicketStore:
    """Open (creating and migrating as needed) the store at ``url`` (default: default_url())."""
    return SQLTicketStore(open_engine(url, busy_timeout=busy_timeout), sla=sla, clock=clock)


def open_engine(url: str | None = None, *, busy_timeout: float = 30.0) -> Engine:
    """An engine on the database at ``url`` (default: default_url()), migrated to head."""
    return db.open_engine(url or default_url(), MIGRATIONS, _PG_MIGRATE_LOCK, unavailable=StoreUnavailable,
                          busy_timeout=busy_timeout)


def _reporter(reporter: Reporter | str) -> tuple[str, str]:
    if isinstance(reporter, str):
        reporter = Reporter(reporter)
    rid = name_field("reporter_id", reporter.id)
    name = text_field("reporter_name", reporter.name or "", required=False, redacted=False) or ""
    return rid, mask_name(name)


class SQLStore:
    """Plumbing shared by the SQLAlchemy stores (tickets, handoffs): engines, sessions, closing."""

    unavailable: type[AssistantError] = StoreUnavailable  # raised when the database fails

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._write_engine = engine.execution_options(ticket_write=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.dispose()

    def dispose(self) -> None:
        self.engine.dispose()

    @staticmethod
    def _by_id(s: Session, model: Any, raw_id: object, normalize: Callable[[str], str | None],
               not_found: Callable[[str], Exception], *, lock: bool = False) -> Any:
        """The row of ``model`` whose id is ``raw_id`` once normalised (locked for update when asked);
        ``not_found(id)`` is raised for an unreadable or unknown id."""
        rid = normalize(raw_id) if isinstance(raw_id, str) else None
        if rid is None:
            raise not_found(str(raw_id))
        q = select(model).where(model.id == rid)
        row = s.scalars(q.with_for_update() if lock else q).one_or_none()
        if row is None:
            raise not_found(rid)
        return row

    @contextmanager
    def _session(self, write: bool) -> Iterator[Session]:
        try:
            with Session(self._write_engine if write else self.engine, expire_on_commit=False) as s, s.begin():
                yield s
        except OperationalError as exc:
            raise self.unavailable(f"database error on {safe_url(str(self.engine.url))}: "
                                   f"{error_line(exc)}") from None


class SQLTicketStore(SQLStore):
    """TicketStore on SQLAlchemy. Use open_store(); close with dispose() or a ``with`` block."""

    def __init__(self, engine: Engine, *, sla: SLAPolicy | None = None,
                 clock: Callable[[], datetime] = _now) -> None:
        super().__init__(engine)
        self.sla = sla or load_sla()
        self.clock = clock
        self._pg = engine.dialect.name == "postgresql"

    def _now(self) -> datetime:
        return utc(self.clock())

    def _row(self, s: Session, ticket_id: str, *, lock: bool = False) -> TicketRow:
        return self._by_id(s, TicketRow, ticket_id, normalize_ticket_id, TicketNotFound, lock=lock)

    @staticmethod
    def _event(s: Session, row: TicketRow, at: datetime, actor: str, action: str, *, from_status: str | None = None,
               to_status: str | None = None, comment: str | None = None, value: str | None = None) -> None:
        s.add(EventRow(ticket_id=row.id, at=at, actor=actor, action=action, from_status=from_status,
                       to_status=to_status, comment=comment, value=value))
        row.updated_at = at

    @staticmethod
    def _responded(row: TicketRow, actor: str, at: datetime) -> None:
        """The first action by anyone but the reporter (or the assistant's own notes) is the first response."""
        if row.first_response_at is None and actor not in (row.reporter_id, SYSTEM):
            row.first_response_at = at

    # --- creating ------------------------------------------------------------------------

    def create(self, reporter: Reporter | str, category: str, unit: str | None, description: str, *,
               other_party: str | None = None, priority: str = "normal") -> Ticket:
        fields = self._new_fields(reporter, category, unit, description, other_party, priority)
        with self._session(write=True) as s:
            return _ticket(self._insert(s, fields, self._now()))

    def _new_fields(self, reporter: Reporter | str, category: str, unit: str | None, description: str,
                    other_party: str | None, priority: str) -> dict[str, Any]:
        rid, name = _reporter(reporter)
        return {"reporter_id": rid, "reporter_name": name, "category": category_field(category),
                "unit": unit_field("unit", unit), "other_party_unit": unit_field("other_party", other_party),
                "description": text_field("description", description), "priority": priority_field(priority)}

    def _insert(self, s: Session, fields: dict[str, Any], now: datetime) -> TicketRow:
        fr_due, res_due = self.sla.due(fields["category"], fields["priority"], now)
        row = TicketRow(**fields, status="open", created_at=now, updated_at=now,
                        first_response_due=fr_due, resolution_due=res_due)
        s.add(row)
        s.flush()                      # the database assigns row.seq ...
        row.id = format_ticket_id(row.seq, now, self.sla.calendar.tz)   # ... and the id derives from it
        s.flush()
        self._event(s, row, now, row.reporter_id, "created", to_status="open", value=row.priority)
        log.info("ticket %s created (%s, %s)", row.id, row.category, row.priority)
        return row

    def open_or_append(self, reporter: Reporter | str, category: str, unit: str | None, text: str,
                       window: timedelta = timedelta(hours=24), *, other_party: str | None = None,
                       priority: str = "normal") -> tuple[Ticket, bool]:
        """Append ``text`` to the reporter's unresolved ticket of this category opened within
        ``window``, or open a new ticket. A reply on a ticket waiting for the resident resumes it."""
        fields = self._new_fields(reporter, category, unit, text, other_party, priority)
        with self._session(write=True) as s:
            if self._pg:   # serialise look-up and insert per (reporter, category)
                s.execute(select(func.pg_advisory_xact_lock(
                    func.hashtext(f"tickets:{fields['reporter_id']}:{fields['category']}"))))
            now = self._now()
            q = (select(TicketRow)
                 .where(TicketRow.reporter_id == fields["reporter_id"], TicketRow.category == fields["category"],
                        TicketRow.status.in_(ACTIVE), TicketRow.created_at >= now - window)
                 .order_by(TicketRow.seq.desc()).limit(1).with_for_update())
            row = s.scalars(q).first()
            if row is None:
                return _ticket(self._insert(s, fields, now)), True
            self._event(s, row, now, row.reporter_id, "appended", comment=fields["description"])
            if row.unit is None and fields["unit"]:
                row.unit = fields["unit"]
            if row.other_party_unit is None and fields["other_party_unit"]:
                row.other_party_unit = fields["other_party_unit"]
            if row.status == PAUSED:
                self._set_status(s, row, "in_progress", row.reporter_id, now, "resident replied")
            log.info("ticket %s appended", row.id)
            return _ticket(row), False

    # --- reading -------------------------------------------------------------------------

    def get(self, ticket_id: str) -> Ticket:
        with self._session(write=False) as s:
            return _ticket(self._row(s, ticket_id))

    def events(self, ticket_id: str) -> list[Event]:
        with self._session(write=False) as s:
            row = self._row(s, ticket_id)
            rows = s.scalars(select(EventRow).where(EventRow.ticket_id == row.id).order_by(EventRow.seq))
            return [_event(e) for e in rows]

    def list(self, *, status: str | Iterable[str] | None = None, category: str | None = None,
             unit: str | None = None, assignee: str | None = None, reporter_id: str | None = None,
             overdue: bool = False, limit: int | None = 200, now: datetime | None = None) -> list[Ticket]:
        """Tickets matching every given filter, newest first. ``unit`` is a unit (exact match) or a
        building alone (5, 5栋: every unit in it); ``status`` one status or several."""
        q = select(TicketRow)
        if status is not None:
            wanted = [status] if isinstance(status, str) else list(status)
            for st in wanted:
                if st not in ("open", "assigned", "in_progress", "waiting_resident", "resolved", "closed"):
                    raise ValidationError("status", f"unknown status {st!r}")
            q = q.where(TicketRow.status.in_(wanted))
        if category is not None:
            q = q.where(TicketRow.category == category_field(category))
        if unit is not None:
            building = normalize_building(unit)
            if building:
                q = q.where(or_(TicketRow.unit == building, TicketRow.unit.like(f"{building}-%")))
            else:
                q = q.where(TicketRow.unit == unit_field("unit", unit))
        if assignee is not None:
            q = q.where(TicketRow.assignee == assignee.strip())
        if reporter_id is not None:
            q = q.where(TicketRow.reporter_id == reporter_id)
        if overdue:
            q = q.where(self._overdue_clause(utc(now) if now else self._now()))
        q = q.order_by(TicketRow.seq.desc())
        if limit:
            q = q.limit(limit)
        with self._session(write=False) as s:
            return [_ticket(r) for r in s.scalars(q)]

    @staticmethod
    def _overdue_clause(now: datetime) -> Any:
        return (TicketRow.status.in_([s for s in ACTIVE if s != PAUSED])
                & or_((TicketRow.first_response_at.is_(None)) & (TicketRow.first_response_due < now),
                      TicketRow.resolution_due < now))

    def overdue(self, now: datetime | None = None) -> builtins.list[Ticket]:
        """Unresolved tickets past a due time at ``now`` (default: the clock), most overdue first.
        Tickets waiting for the resident have their clock stopped and are never listed."""
        now = utc(now) if now else self._now()
        q = select(TicketRow).where(self._overdue_clause(now)).order_by(TicketRow.seq)
        with self._session(write=False) as s:
            tickets = [_ticket(r) for r in s.scalars(q)]
        return sorted(tickets, key=lambda t: t.first_response_due if t.overdue_kind(now) == "first_response"
                      else t.resolution_due)

    def claim_reminder(self, ticket_id: str, kind: str, due: datetime) -> bool:
        """Record that the admins are being reminded that the ticket missed its ``kind`` due time
        (first_response or resolution). True for exactly one caller per ticket and kind, whatever
        the number of processes: that caller sends the reminder. The claim is also an audit event
        (actor ``system``, action ``reminded``); it does not count as a response."""
        if kind not in OVERDUE_KINDS:
            raise ValidationError("kind", f"unknown overdue kind {kind!r}; one of {', '.join(OVERDUE_KINDS)}")
        due = utc(due)
        with self._session(write=True) as s:
            row = self._row(s, ticket_id)
            now = self._now()
            insert = pg_insert if self._pg else sqlite_insert
            claimed = s.execute(insert(ReminderRow).values(ticket_id=row.id, kind=kind, due=due, sent_at=now)
                                .on_conflict_do_nothing().returning(ReminderRow.kind)).first()
            if claimed is None:       # the row was there: someone reminded already
                return False
            s.add(EventRow(ticket_id=row.id, at=now, actor=SYSTEM, action="reminded", value=kind))
            log.info("ticket %s reminder %s claimed", row.id, kind)
            return True

    # --- changing ------------------------------------------------------------------------

    def _set_status(self, s: Session, row: TicketRow, to: str, actor: str, now: datetime,
                    comment: str | None) -> None:
        """Apply one allowed status change with its SLA bookkeeping and audit event."""
        before = row.status
        if before == PAUSED and row.paused_at is not None:     # the clock runs again
            row.first_response_due = self.sla.resume(row.first_response_due, row.paused_at, now)
            row.resolution_due = self.sla.resume(row.resolution_due, row.paused_at, now)
            row.paused_at = None
        if to == PAUSED:
            row.paused_at = now
        elif to == "resolved":
            row.resolved_at = now
        elif to == "closed":
            row.closed_at = now
        elif to == "open":                                      # reopened: a fresh resolution target
            row.resolution_due = self.sla.calendar.add(now, self.sla.target(row.category, row.priority).resolution)
            row.resolved_at = row.closed_at = None
            row.satisfaction = row.satisfaction_comment = None
            row.assignee = None
        row.status = to
        self._responded(row, actor, now)
        self._event(s, row, now, actor, "status", from_status=before, to_status=to, comment=comment)
        log.info("ticket %s %s -> %s", row.id, before, to)

    def transition(self, ticket_id: str, status: str, *, actor: str, comment: str | None = None) -> Ticket:
        """Move a ticket to ``status`` (assigning goes through assign())."""
        actor = name_field("actor", actor)
        comment = text_field("comment", comment, required=False)
        with self._session(write=True) as s:
            row = self._row(s, ticket_id, lock=True)
            check_transition(row.id or "", row.status, status)
            if status == "assigned":
                raise InvalidTransition(row.id or "", row.status, status, "use assign with an assignee")
            self._set_status(s, row, status, actor, self._now(), comment)
            return _ticket(row)

    def resolve(self, ticket_id: str, *, actor: str, comment: str | None = None) -> Ticket:
        return self.transition(ticket_id, "resolved", actor=actor, comment=comment)

    def close(self, ticket_id: str, *, actor: str, comment: str | None = None) -> Ticket:
        return self.transition(ticket_id, "closed", actor=actor, comment=comment)

    def reopen(self, ticket_id: str, *, actor: str, comment: str | None = None) -> Ticket:
        return self.transition(ticket_id, "open", actor=actor, comment=comment)

    def assign(self, ticket_id: str, assignee: str, *, actor: str, comment: str | None = None) -> Ticket:
        """Assign (open -> assigned) or reassign an unresolved ticket; the same assignee again is a no-op."""
        assignee = name_field("assignee", assignee)
        actor = name_field("actor", actor)
        comment = text_field("comment", comment, required=False)
        with self._session(write=True) as s:
            row = self._row(s, ticket_id, lock=True)
            if row.status not in ACTIVE:
                raise InvalidTransition(row.id or "", row.status, "assigned", "reopen it first")
            if row.assignee == assignee and row.status != "open":
                return _ticket(row)
            now, before = self._now(), row.status
            row.assignee = assignee
            if before == "open":
                row.status = "assigned"
            self._responded(row, actor, now)
            self._event(s, row, now, actor, "assigned", from_status=before, to_status=row.status,
                        comment=comment, value=assignee)
            log.info("ticket %s assigned", row.id)
            return _ticket(row)

    def comment(self, ticket_id: str, text: str, *, actor: str) -> Ticket:
        actor = name_field("actor", actor)
        text = text_field("comment", text)
        with self._session(write=True) as s:
            row = self._row(s, ticket_id, lock=True)
            now = self._now()
            if row.status in ACTIVE:
                self._responded(row, actor, now)
            self._event(s, row, now, actor, "commented", comment=text)
            log.info("ticket %s commented", row.id)
            return _ticket(row)

    def rate(self, ticket_id: str, score: int, comment: str | None = None, *, actor: str | None = None) -> Ticket:
        """The resident's satisfaction (1-5) once the ticket is resolved (or closed); a new rating
        replaces the old one, and both stay in the audit trail."""
        score = score_field(score)
        comment = text_field("comment", comment, required=False, limit="rating_comment")
        with self._session(write=True) as s:
            row = self._row(s, ticket_id, lock=True)
            if row.status not in ("resolved", "closed"):
                raise RatingRefused(f"ticket {row.id} is {row.status}; it can be rated once it is resolved")
            who = name_field("actor", actor) if actor else row.reporter_id
            row.satisfaction, row.satisfaction_comment = score, comment
            self._event(s, row, self._now(), who, "rated", comment=comment, value=str(score))
            log.info("ticket %s rated %d", row.id, score)
            return _ticket(row)


def _ticket(r: TicketRow) -> Ticket:
    return Ticket(id=r.id or "", category=r.category, unit=r.unit, description=r.description,
                  reporter_id=r.reporter_id, reporter_name=r.reporter_name, other_party_unit=r.other_party_unit,
                  priority=r.priority, status=r.status, assignee=r.assignee, created_at=r.created_at,
                  updated_at=r.updated_at, first_response_due=r.first_response_due, resolution_due=r.resolution_due,
                  first_response_at=r.first_response_at, resolved_at=r.resolved_at, closed_at=r.closed_at,
                  paused_at=r.paused_at, satisfaction=r.satisfaction, satisfaction_comment=r.satisfaction_comment)


def _event(e: EventRow) -> Event:
    return Event(seq=e.seq, ticket_id=e.ticket_id, at=e.at, actor=e.actor, action=e.action,
                 from_status=e.from_status, to_status=e.to_status, comment=e.comment, value=e.value)
