"""The schedule's tables (SQLAlchemy 2). Made by migrations/versions/0001_schedule.py; keep the two in
step (tests compare them). Times are naive UTC."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, DateTime, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class ScheduleBase(DeclarativeBase):
    pass


class PostRow(ScheduleBase):
    """A recurring or one-off post."""

    __tablename__ = "schedule_posts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    template: Mapped[str] = mapped_column(String(40))          # templates.TEMPLATES key, or "text"
    text: Mapped[str] = mapped_column(Text, default="")
    cron: Mapped[str | None] = mapped_column(String(100), nullable=True)
    at: Mapped[dt.datetime | None] = mapped_column(DateTime(), nullable=True)
    days: Mapped[str] = mapped_column(String(20))
    tz: Mapped[str] = mapped_column(String(60))
    target: Mapped[str] = mapped_column(String(20))             # group | admins
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime())
    checked_until: Mapped[dt.datetime] = mapped_column(DateTime())   # due times up to here are handled


class RunRow(ScheduleBase):
    """One due time of a job (a post, an event reminder), claimed once: the unique key is the claim."""

    __tablename__ = "schedule_runs"
    __table_args__ = (UniqueConstraint("job", "due_at", name="uq_schedule_runs_job_due"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(String(60))               # post:<id> | event:<id>:<minutes>
    due_at: Mapped[dt.datetime] = mapped_column(DateTime())
    status: Mapped[str] = mapped_column(String(20))            # claimed | posted | missed | failed
    at: Mapped[dt.datetime] = mapped_column(DateTime())         # when the status was set


class NoticeRow(ScheduleBase):
    """An admin's notice (or 辟谣: an official clarification of a rumour), current until valid_until."""

    __tablename__ = "schedule_notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20))              # notice | rumour
    tags: Mapped[str] = mapped_column(String(200))             # comma-separated
    body: Mapped[str] = mapped_column(Text)                    # the notice, or the clarification
    rumour: Mapped[str] = mapped_column(Text, default="")      # the rumour being cleared
    source: Mapped[str] = mapped_column(String(300), default="")
    valid_from: Mapped[dt.datetime] = mapped_column(DateTime())
    valid_until: Mapped[dt.datetime] = mapped_column(DateTime(), index=True)
    removed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime())


class EventRow(ScheduleBase):
    """An activity on the calendar."""

    __tablename__ = "schedule_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(200))
    place: Mapped[str] = mapped_column(String(200))
    start: Mapped[dt.datetime] = mapped_column(DateTime(), index=True)
    end: Mapped[dt.datetime] = mapped_column(DateTime())
    signup_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    remind: Mapped[str] = mapped_column(String(100), default="")   # minutes before start, comma-separated
    removed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime())


class QuietReminderRow(ScheduleBase):
    """A gentle discussion-hours reminder given: at most one per person, group and local day."""

    __tablename__ = "schedule_quiet_reminders"

    conversation_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    sender_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)     # YYYY-MM-DD, local
    at: Mapped[dt.datetime] = mapped_column(DateTime())


class GroupPostRow(ScheduleBase):
    """A post waiting for a group adapter (``platform``, ``conversation_id``) to send it, once."""

    __tablename__ = "schedule_group_outbox"
    __table_args__ = (Index("ix_schedule_group_outbox_pending", "platform", "delivered_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(40))
    conversation_id: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    job: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime())
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(), nullable=True)
