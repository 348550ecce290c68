"""SQLAlchemy tables of the ticket store. The migrations in migrations/versions create them."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Integer, String, text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive UTC text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class TicketRow(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_status", "status"),
        Index("ix_tickets_dedup", "reporter_id", "category", "created_at"),
        Index("ix_tickets_unit", "unit"),
        Index("ix_tickets_assignee", "assignee"),
        {"sqlite_autoincrement": True},
    )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str | None] = mapped_column(String(24), unique=True)   # set right after the insert
    category: Mapped[str] = mapped_column(String(20))
    unit: Mapped[str | None] = mapped_column(String(40))
    other_party_unit: Mapped[str | None] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(String(2000))
    reporter_id: Mapped[str] = mapped_column(String(64))
    reporter_name: Mapped[str] = mapped_column(String(64))
    priority: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20))
    assignee: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    first_response_due: Mapped[datetime] = mapped_column(UTCDateTime)
    resolution_due: Mapped[datetime] = mapped_column(UTCDateTime)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    satisfaction: Mapped[int | None] = mapped_column(Integer)
    satisfaction_comment: Mapped[str | None] = mapped_column(String(500))


class EventRow(Base):
    __tablename__ = "ticket_events"
    __table_args__ = (Index("ix_ticket_events_ticket", "ticket_id", "seq"), {"sqlite_autoincrement": True})

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(String(24), ForeignKey("tickets.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(20))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    comment: Mapped[str | None] = mapped_column(String(2000))
    value: Mapped[str | None] = mapped_column(String(64))


class ReminderRow(Base):
    """One overdue reminder sent to the admins: at most one per ticket and kind (the primary key),
    so sweepers in several processes never repeat it."""

    __tablename__ = "ticket_reminders"

    ticket_id: Mapped[str] = mapped_column(String(24), ForeignKey("tickets.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)     # first_response | resolution
    due: Mapped[datetime] = mapped_column(UTCDateTime)                  # the due time that was missed
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)


NOTICE_KINDS = ("csat", "handoff_timeout", "other")


class NoticeRow(Base):
    """A message for a resident whose channel Rasa cannot push to (the REST channel: the gateway's
    platforms), waiting in the outbox until a gateway delivers it (``assistant.desk.notices``)."""

    __tablename__ = "notices"
    __table_args__ = (
        CheckConstraint("kind IN ('csat', 'handoff_timeout', 'other')", name="ck_notices_kind"),
        # what is still to deliver, per conversation
        Index("ix_notices_pending", "conversation_id", "id", sqlite_where=text("delivered_at IS NULL"),
              postgresql_where=text("delivered_at IS NULL")),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(String(128))        # Rasa's sender id
    text: Mapped[str] = mapped_column(String(2000))                  # redacted
    kind: Mapped[str] = mapped_column(String(20))                    # csat | handoff_timeout | other
    ticket_id: Mapped[str | None] = mapped_column(String(24))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)   # None until claimed for delivery
