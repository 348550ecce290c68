"""The handoff queue: conversations waiting for, or held by, a human admin.

A handoff goes waiting -> taken -> released (back to the bot), or waiting -> expired when nobody
takes it within the take timeout (the caller then tells the resident and keeps a ticket). An admin
may also release a waiting handoff without taking it. While a handoff is waiting or taken the bot
stays quiet in that conversation (``is_paused``).

Storage: the ticket store's database by default (``$ASSISTANT_TICKETS_URL``, else
``sqlite:///<project>/models/tickets.db``) with the same engine settings, in a table of its own
(``handoffs``) made by the desk's Alembic migrations (revision 0004, which adopts the table older
versions made themselves); opening the queue runs them to head like opening the ticket store.
At most one open handoff per conversation is enforced by a partial unique index, so ``request`` is
idempotent under any concurrency.
"""

from __future__ import annotations

import builtins
import logging
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import CheckConstraint, Engine, Index, Integer, String, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from assistant.desk.tickets.errors import StoreUnavailable
from assistant.desk.tickets.schema import UTCDateTime
from assistant.desk.tickets.store import SQLStore, open_engine
from assistant.errors import AssistantError
from assistant.moderation.pii import redact_text
from assistant.vocabulary import REASONS

log = logging.getLogger("assistant.desk.handoff")

STATES = ("waiting", "taken", "released", "expired")
OPEN = ("waiting", "taken")
SUMMARY_LIMIT = 500          # longer summaries are clipped (a handoff must not fail on length)
FIELD_LIMIT = 64             # ids and admin names; conversation ids up to 128
_ID_RE = re.compile(r"^H-(\d{8})-(\d{4,})$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


# --- errors ----------------------------------------------------------------------------------

class HandoffError(AssistantError):
    """Base of every error the handoff queue raises on purpose."""


class HandoffNotFound(HandoffError):
    def __init__(self, handoff_id: str) -> None:
        self.handoff_id = handoff_id
        super().__init__(f"no handoff {handoff_id!r}")


class InvalidHandoffState(HandoffError):
    """A change the handoff's state does not allow (taking an expired one, releasing a released one...)."""

    def __init__(self, handoff_id: str, state: str, wanted: str, hint: str = "") -> None:
        self.handoff_id, self.state, self.wanted = handoff_id, state, wanted
        msg = f"handoff {handoff_id} is {state}; it cannot be {wanted}"
        super().__init__(f"{msg} ({hint})" if hint else msg)


class AlreadyTaken(InvalidHandoffState):
    def __init__(self, handoff_id: str, admin: str) -> None:
        super().__init__(handoff_id, "taken", "taken")
        self.admin = admin
        self.args = (f"handoff {handoff_id} is already taken by {admin}",)


class HandoffValidation(HandoffError):
    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


class HandoffUnavailable(HandoffError):
    """The database cannot be opened or reached."""


# --- the record and the protocol --------------------------------------------------------------

@dataclass(frozen=True)
class Handoff:
    id: str
    conversation_id: str
    resident_id: str
    reason: str
    summary: str               # redacted
    state: str
    admin: str | None          # who took it
    created_at: datetime
    updated_at: datetime
    taken_at: datetime | None = None
    released_at: datetime | None = None
    released_by: str | None = None
    expired_at: datetime | None = None

    @property
    def open(self) -> bool:
        return self.state in OPEN

    def as_dict(self) -> dict[str, Any]:
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in asdict(self).items()}


class HandoffStore(Protocol):
    """What the assistant and the admin CLI need from a handoff queue."""

    def request(self, conversation_id: str, resident_id: str, reason: str,
                summary: str = "") -> tuple[Handoff, bool]: ...

    def get(self, handoff_id: str) -> Handoff: ...

    def open_for(self, conversation_id: str) -> Handoff | None: ...

    def list(self, *, state: str | Iterable[str] | None = None, limit: int | None = 200) -> list[Handoff]: ...

    def take(self, handoff_id: str, admin: str) -> Handoff: ...

    def release(self, handoff_id: str, admin: str) -> Handoff: ...

    def is_paused(self, conversation_id: str, now: datetime | None = None) -> bool: ...

    def expire(self, now: datetime | None = None, take_timeout: timedelta | None = None) -> builtins.list[Handoff]: ...


# --- text helpers ----------------------------------------------------------------------------

def redact_summary(text: str) -> str:
    """Personal numbers hidden (``assistant.moderation.pii``), control characters dropped, clipped
    to SUMMARY_LIMIT characters."""
    text = redact_text(_CONTROL.sub("", text or "").strip())
    return text if len(text) <= SUMMARY_LIMIT else text[:SUMMARY_LIMIT - 1] + "…"


def normalize_handoff_id(value: str) -> str | None:
    """The canonical form of a typed id (spaces, full width and case forgiven); None if it is not one."""
    s = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(value))).upper().replace("—", "-")
    return s if _ID_RE.match(s) else None


def _field(name: str, value: Any, limit: int = FIELD_LIMIT) -> str:
    if not isinstance(value, str):
        raise HandoffValidation(name, f"must be text, not {type(value).__name__}")
    value = _CONTROL.sub("", value).strip()
    if not value:
        raise HandoffValidation(name, "must not be empty")
    if len(value) > limit:
        raise HandoffValidation(name, f"longer than {limit} characters")
    return value


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise HandoffValidation("time", "must be timezone-aware")
    return value.astimezone(UTC)


def _now() -> datetime:
    return datetime.now(UTC)


# --- schema ----------------------------------------------------------------------------------

class Base(DeclarativeBase):
    pass


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class HandoffRow(Base):
    """Made by the desk's migration 0004; keep the two in step (tests compare them)."""

    __tablename__ = "handoffs"
    __table_args__ = (
        CheckConstraint(_in("reason", REASONS), name="ck_handoffs_reason"),
        CheckConstraint(_in("state", STATES), name="ck_handoffs_state"),
        # one open handoff per conversation: the database refuses a second
        Index("ux_handoffs_open_conversation", "conversation_id", unique=True,
              sqlite_where=text(_in("state", OPEN)), postgresql_where=text(_in("state", OPEN))),
        Index("ix_handoffs_state_created", "state", "created_at"),
        {"sqlite_autoincrement": True},
    )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str | None] = mapped_column(String(24), unique=True)     # set right after the insert
    conversation_id: Mapped[str] = mapped_column(String(128))
    resident_id: Mapped[str] = mapped_column(String(FIELD_LIMIT))
    reason: Mapped[str] = mapped_column(String(24))
    summary: Mapped[str] = mapped_column(String(SUMMARY_LIMIT))
    state: Mapped[str] = mapped_column(String(10))
    admin: Mapped[str | None] = mapped_column(String(FIELD_LIMIT))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    released_by: Mapped[str | None] = mapped_column(String(FIELD_LIMIT))
    expired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def open_handoffs(url: str | None = None, *, clock: Callable[[], datetime] = _now,
                  take_timeout: timedelta | None = None, tz: ZoneInfo = ZoneInfo("Asia/Shanghai"),
                  busy_timeout: float = 30.0) -> SQLHandoffStore:
    """Open the queue at ``url`` (default: the tickets' default_url()), running the desk's migrations
    to head first, as opening the ticket store does."""
    try:
        engine = open_engine(url, busy_timeout=busy_timeout)
    except StoreUnavailable as exc:
        raise HandoffUnavailable(str(exc)) from None
    return SQLHandoffStore(engine, clock=clock, take_timeout=take_timeout, tz=tz)


# --- the store -------------------------------------------------------------------------------

class SQLHandoffStore(SQLStore):
    """HandoffStore on SQLAlchemy. Use open_handoffs(); close with dispose() or a ``with`` block.

    ``take_timeout`` (optional) is the default for expire(), and makes is_paused() stop pausing a
    waiting handoff past it even before expire() runs."""

    unavailable = HandoffUnavailable

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] = _now,
                 take_timeout: timedelta | None = None, tz: ZoneInfo = ZoneInfo("Asia/Shanghai")) -> None:
        super().__init__(engine)
        self.clock = clock
        self.take_timeout = take_timeout
        self.tz = tz

    def _now(self) -> datetime:
        return _utc(self.clock())

    def _row(self, s: Session, handoff_id: str, *, lock: bool = False) -> HandoffRow:
        return self._by_id(s, HandoffRow, handoff_id, normalize_handoff_id, HandoffNotFound, lock=lock)

    @staticmethod
    def _open_q(conversation_id: str) -> Any:
        return select(HandoffRow).where(HandoffRow.conversation_id == conversation_id,
                                        HandoffRow.state.in_(OPEN))

    # --- creating ------------------------------------------------------------------------

    def request(self, conversation_id: str, resident_id: str, reason: str,
                summary: str = "") -> tuple[Handoff, bool]:
        """Queue the conversation for a human; while one is open for it, that one is returned
        (``created`` False) and nothing changes. The summary is redacted before it is stored."""
        conversation_id = _field("conversation_id", conversation_id, 128)
        resident_id = _field("resident_id", resident_id)
        if reason not in REASONS:
            raise HandoffValidation("reason", f"{reason!r} is not one of {', '.join(REASONS)}")
        summary = redact_summary(summary)
        for _ in range(3):
            try:
                with self._session(write=True) as s:
                    row = s.scalars(self._open_q(conversation_id)).first()
                    if row is not None:
                        return _handoff(row), False
                    now = self._now()
                    row = HandoffRow(conversation_id=conversation_id, resident_id=resident_id, reason=reason,
                                     summary=summary, state="waiting", created_at=now, updated_at=now)
                    s.add(row)
                    s.flush()                     # the database assigns row.seq, and refuses a duplicate
                    row.id = f"H-{now.astimezone(self.tz):%Y%m%d}-{row.seq:04d}"
                    s.flush()
                    log.info("handoff %s requested (conversation %s, %s)", row.id, conversation_id, reason)
                    return _handoff(row), True
            except IntegrityError:
                continue                          # a concurrent request won; read its handoff
        raise HandoffUnavailable(f"could not queue conversation {conversation_id!r}")   # pragma: no cover

    # --- reading -------------------------------------------------------------------------

    def get(self, handoff_id: str) -> Handoff:
        with self._session(write=False) as s:
            return _handoff(self._row(s, handoff_id))

    def open_for(self, conversation_id: str) -> Handoff | None:
        """The conversation's waiting or taken handoff, if any."""
        with self._session(write=False) as s:
            row = s.scalars(self._open_q(conversation_id)).first()
            return _handoff(row) if row else None

    def list(self, *, state: str | Iterable[str] | None = None, limit: int | None = 200) -> list[Handoff]:
        """Handoffs in the given state(s) (default: all), oldest first."""
        q = select(HandoffRow)
        if state is not None:
            wanted = [state] if isinstance(state, str) else list(state)
            for st in wanted:
                if st not in STATES:
                    raise HandoffValidation("state", f"{st!r} is not one of {', '.join(STATES)}")
            q = q.where(HandoffRow.state.in_(wanted))
        q = q.order_by(HandoffRow.seq)
        if limit:
            q = q.limit(limit)
        with self._session(write=False) as s:
            return [_handoff(r) for r in s.scalars(q)]

    def is_paused(self, conversation_id: str, now: datetime | None = None) -> bool:
        """True while the conversation has a handoff waiting (within the take timeout, when the
        store has one) or taken: the bot should not answer."""
        h = self.open_for(conversation_id)
        if h is None:
            return False
        if h.state == "waiting" and self.take_timeout is not None:
            return h.created_at > (_utc(now) if now else self._now()) - self.take_timeout
        return True

    # --- changing ------------------------------------------------------------------------

    def take(self, handoff_id: str, admin: str) -> Handoff:
        """An admin takes a waiting handoff. The same admin again is a no-op; anyone else gets AlreadyTaken."""
        admin = _field("admin", admin)
        with self._session(write=True) as s:
            row = self._row(s, handoff_id, lock=True)
            if row.state == "taken":
                if row.admin == admin:
                    return _handoff(row)
                raise AlreadyTaken(row.id or "", row.admin or "?")
            if row.state != "waiting":
                raise InvalidHandoffState(row.id or "", row.state, "taken")
            now = self._now()
            row.state, row.admin, row.taken_at, row.updated_at = "taken", admin, now, now
            log.info("handoff %s taken", row.id)
            return _handoff(row)

    def release(self, handoff_id: str, admin: str) -> Handoff:
        """Hand the conversation back to the bot (from taken, or from waiting without taking it).
        Releasing a released handoff again is a no-op."""
        admin = _field("admin", admin)
        with self._session(write=True) as s:
            row = self._row(s, handoff_id, lock=True)
            if row.state == "released":
                return _handoff(row)
            if row.state not in OPEN:
                raise InvalidHandoffState(row.id or "", row.state, "released")
            now = self._now()
            row.state, row.released_at, row.released_by, row.updated_at = "released", now, admin, now
            log.info("handoff %s released", row.id)
            return _handoff(row)

    def expire(self, now: datetime | None = None, take_timeout: timedelta | None = None) -> builtins.list[Handoff]:
        """Mark waiting handoffs older than ``take_timeout`` (default: the store's) expired and return
        them, oldest first; each is returned by exactly one caller even when sweepers run concurrently."""
        timeout = take_timeout if take_timeout is not None else self.take_timeout
        if timeout is None:
            raise HandoffValidation("take_timeout", "no take timeout given")
        now = _utc(now) if now else self._now()
        with self._session(write=True) as s:
            q = (select(HandoffRow).where(HandoffRow.state == "waiting", HandoffRow.created_at <= now - timeout)
                 .order_by(HandoffRow.seq).with_for_update())
            rows = list(s.scalars(q))
            for row in rows:
                row.state, row.expired_at, row.updated_at = "expired", now, now
                log.info("handoff %s expired", row.id)
            return [_handoff(r) for r in rows]


def _handoff(r: HandoffRow) -> Handoff:
    return Handoff(id=r.id or "", conversation_id=r.conversation_id, resident_id=r.resident_id, reason=r.reason,
                   summary=r.summary, state=r.state, admin=r.admin, created_at=r.created_at,
                   updated_at=r.updated_at, taken_at=r.taken_at, released_at=r.released_at,
                   released_by=r.released_by, expired_at=r.expired_at)
