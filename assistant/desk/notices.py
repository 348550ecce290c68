"""The resident outbox: what Rasa could not push to a resident, kept until a gateway delivers it.

``push.RasaResidents.tell`` reaches a conversation through Rasa's ``trigger_intent``. The web chat
(socket.io) gets the message live; for the REST channel, which every gateway platform (terminal
group chat, signed webhook, Telegram) uses, Rasa only returns the texts. The admin console and the
sweeper run in other processes than the bots, so the texts wait in the ``notices`` table of the
ticket database (Alembic revision 0003):

    outbox = open_outbox()                       # $ASSISTANT_TICKETS_URL, else models/tickets.db
    outbox.add("telegram:-100123:42", ["请为本次处理打分 1-5"], "csat", "T-20261123-0001")
    for n in outbox.claim(prefix="telegram:"):   # each notice to exactly one claimer
        send(n.conversation_id, n.text)

``conversation_id`` is Rasa's sender id (the gateway's ``platform:conversation:sender`` key).
Texts are redacted (ID, bank card and mobile numbers) before they are stored.

Delivery is at most once: ``mark_delivered`` (and ``claim``, which uses it) sets ``delivered_at``
only where it is still empty, in one UPDATE, and reports the ids it set. On PostgreSQL a concurrent
claimer waits for the row and then finds it taken; on SQLite writers queue. So two processes never
both deliver a notice; one that dies between its claim and the send loses that notice rather than
repeating it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import Engine, select, update

from assistant.desk.tickets.errors import ValidationError
from assistant.desk.tickets.schema import NOTICE_KINDS, NoticeRow
from assistant.desk.tickets.store import SQLStore, open_engine
from assistant.desk.tickets.text import clean
from assistant.moderation.pii import redact_text

log = logging.getLogger("assistant.desk.notices")

CSAT, HANDOFF_TIMEOUT, OTHER = NOTICE_KINDS
TEXT_LIMIT = 2000            # longer texts are clipped
CONVERSATION_LIMIT = 128


@dataclass(frozen=True)
class Notice:
    id: int
    conversation_id: str
    text: str                        # redacted
    kind: str                        # csat | handoff_timeout | other
    ticket_id: str | None
    created_at: datetime
    delivered_at: datetime | None = None


class Outbox(Protocol):
    """What the desk (writing) and the gateways (delivering) need from the outbox."""

    def add(self, conversation_id: str, texts: Iterable[str], kind: str = OTHER,
            ticket_id: str | None = None) -> list[Notice]: ...

    def pending(self, conversation_id: str | None = None, *, prefix: str | None = None,
                limit: int | None = 100) -> list[Notice]: ...

    def mark_delivered(self, ids: Iterable[int]) -> list[int]: ...

    def claim(self, conversation_id: str | None = None, *, prefix: str | None = None,
              limit: int | None = 100) -> list[Notice]: ...


def _now() -> datetime:
    return datetime.now(UTC)


def _conversation(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("conversation_id", "must be non-empty text")
    if len(value) > CONVERSATION_LIMIT:
        raise ValidationError("conversation_id", f"longer than {CONVERSATION_LIMIT} characters")
    return value


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise ValidationError("text", f"must be text, not {type(value).__name__}")
    value = redact_text(clean(value))
    return value if len(value) <= TEXT_LIMIT else value[:TEXT_LIMIT - 1] + "…"


class SQLOutbox(SQLStore):
    """Outbox on SQLAlchemy. Use open_outbox(), or give it a migrated engine (a ticket store's)."""

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] = _now) -> None:
        super().__init__(engine)
        self.clock = clock

    def _now(self) -> datetime:
        return self.clock().astimezone(UTC)

    def add(self, conversation_id: str, texts: Iterable[str], kind: str = OTHER,
            ticket_id: str | None = None) -> list[Notice]:
        """Keep ``texts`` (blank ones skipped) for the conversation, in order; the stored notices."""
        conversation_id = _conversation(conversation_id)
        if kind not in NOTICE_KINDS:
            raise ValidationError("kind", f"unknown kind {kind!r}; one of {', '.join(NOTICE_KINDS)}")
        kept = [t for t in (_text(t) for t in texts) if t]
        if not kept:
            return []
        now = self._now()
        with self._session(write=True) as s:
            rows = [NoticeRow(conversation_id=conversation_id, text=t, kind=kind, ticket_id=ticket_id,
                              created_at=now) for t in kept]
            s.add_all(rows)
            s.flush()
            notices = [_notice(r) for r in rows]
        log.info("notices %s queued (%s, ticket %s)", ",".join(str(n.id) for n in notices), kind, ticket_id or "-")
        return notices

    def pending(self, conversation_id: str | None = None, *, prefix: str | None = None,
                limit: int | None = 100) -> list[Notice]:
        """Notices not delivered yet, oldest first: of one conversation, or of every conversation
        whose id starts with ``prefix`` (``"telegram:"``), or all."""
        q = select(NoticeRow).where(NoticeRow.delivered_at.is_(None))
        if conversation_id is not None:
            q = q.where(NoticeRow.conversation_id == conversation_id)
        if prefix:
            q = q.where(NoticeRow.conversation_id.startswith(prefix, autoescape=True))
        q = q.order_by(NoticeRow.id)
        if limit:
            q = q.limit(limit)
        with self._session(write=False) as s:
            return [_notice(r) for r in s.scalars(q)]

    def mark_delivered(self, ids: Iterable[int]) -> list[int]:
        """Claim the notices ``ids`` for delivery; the ids this call set (the others were
        delivered already, by this process or another, or do not exist). Deliver only those."""
        return sorted(self._mark(ids)[0])

    def _mark(self, ids: Iterable[int]) -> tuple[set[int], datetime]:
        wanted = sorted({int(i) for i in ids})
        now = self._now()
        if not wanted:
            return set(), now
        with self._session(write=True) as s:
            won = set(s.scalars(update(NoticeRow)
                                .where(NoticeRow.id.in_(wanted), NoticeRow.delivered_at.is_(None))
                                .values(delivered_at=now).returning(NoticeRow.id)
                                .execution_options(synchronize_session=False)))
        if won:
            log.info("notices %s claimed for delivery", ",".join(str(i) for i in sorted(won)))
        return won, now

    def claim(self, conversation_id: str | None = None, *, prefix: str | None = None,
              limit: int | None = 100) -> list[Notice]:
        """``pending`` and ``mark_delivered`` together: the notices this caller now delivers,
        oldest first. Nothing is written when nothing is pending."""
        notices = self.pending(conversation_id, prefix=prefix, limit=limit)
        if not notices:
            return []
        won, at = self._mark(n.id for n in notices)
        return [replace(n, delivered_at=at) for n in notices if n.id in won]


def _notice(r: NoticeRow) -> Notice:
    return Notice(id=r.id, conversation_id=r.conversation_id, text=r.text, kind=r.kind, ticket_id=r.ticket_id,
                  created_at=r.created_at, delivered_at=r.delivered_at)


def open_outbox(url: str | None = None, *, clock: Callable[[], datetime] = _now,
                busy_timeout: float = 30.0) -> SQLOutbox:
    """Open (creating and migrating as needed) the outbox in the ticket database at ``url``
    (default: $ASSISTANT_TICKETS_URL, else models/tickets.db)."""
    return SQLOutbox(open_engine(url, busy_timeout=busy_timeout), clock=clock)


def keep(outbox: Outbox | None, conversation_id: str, texts: list[str], kind: str,
         ticket_id: str | None = None) -> bool:
    """Put texts a caller got back from ``Residents.tell`` in the outbox; True when they are there
    (a gateway delivers them). False without an outbox, texts or a working database: the caller
    still has them. Never raises; failures are logged with their traceback."""
    if outbox is None or not texts:
        return False
    try:
        outbox.add(conversation_id, texts, kind, ticket_id)
    except Exception:
        log.exception("notices for ticket %s not queued", ticket_id or "-")
        return False
    return True
