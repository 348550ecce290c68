"""The community tables (SQLAlchemy 2). Made by ``migrations/versions``; keep the two in step
(tests/community/test_store.py compares them). Times are naive UTC; anonymous rows carry a day only."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class CommunityBase(DeclarativeBase):
    pass


class SignupRow(CommunityBase):
    __tablename__ = "community_signups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(String(200), index=True)
    title: Mapped[str] = mapped_column(String(200))
    capacity: Mapped[int | None] = mapped_column(Integer, nullable=True)
    deadline: Mapped[dt.datetime | None] = mapped_column(DateTime(), nullable=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime())
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(), nullable=True)


class EntryRow(CommunityBase):
    __tablename__ = "community_signup_entries"
    __table_args__ = (UniqueConstraint("signup_id", "unit", name="uq_community_signup_unit"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    signup_id: Mapped[int] = mapped_column(ForeignKey("community_signups.id", ondelete="CASCADE"), index=True)
    unit: Mapped[str] = mapped_column(String(20))
    sender_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10))          # in | waiting
    joined_at: Mapped[dt.datetime] = mapped_column(DateTime())


class SurveyRow(CommunityBase):
    __tablename__ = "community_surveys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(200))
    anonymous: Mapped[bool] = mapped_column(Boolean)
    questions: Mapped[str] = mapped_column(Text)             # JSON, see surveys.Question
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime())
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(), nullable=True)


class RespondentRow(CommunityBase):
    """Who answered (one row per unit): no time, no link to the answers of an anonymous survey."""

    __tablename__ = "community_survey_respondents"
    __table_args__ = ({"sqlite_with_rowid": False},)

    survey_id: Mapped[int] = mapped_column(ForeignKey("community_surveys.id", ondelete="CASCADE"),
                                           primary_key=True)
    unit: Mapped[str] = mapped_column(String(20), primary_key=True)


class ResponseRow(CommunityBase):
    """One unit's answers; ``unit`` is NULL for an anonymous survey. Random id, no time."""

    __tablename__ = "community_survey_responses"
    __table_args__ = ({"sqlite_with_rowid": False},)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("community_surveys.id", ondelete="CASCADE"), index=True)
    unit: Mapped[str | None] = mapped_column(String(20), nullable=True)
    answers: Mapped[str] = mapped_column(Text)               # JSON {question id: answer}


class SessionRow(CommunityBase):
    """A survey being answered in a private chat, one question at a time; deleted when submitted."""

    __tablename__ = "community_survey_sessions"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)   # platform:sender
    survey_id: Mapped[int] = mapped_column(ForeignKey("community_surveys.id", ondelete="CASCADE"))
    unit: Mapped[str] = mapped_column(String(20))
    step: Mapped[int] = mapped_column(Integer)
    answers: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime())


class FeedbackRow(CommunityBase):
    """An anonymous suggestion: random id, the day only, no sender; the day's rows are rewritten in
    random order on every insert (feedback.py)."""

    __tablename__ = "community_feedback"
    __table_args__ = ({"sqlite_with_rowid": False},)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, index=True)
    text: Mapped[str] = mapped_column(Text)
    handled: Mapped[bool] = mapped_column(Boolean, default=False)


class FeedbackQuotaRow(CommunityBase):
    """Suggestions per sender per day, under a keyed hash whose key is replaced every day."""

    __tablename__ = "community_feedback_quota"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)


class HelpRow(CommunityBase):
    __tablename__ = "community_help"
    __table_args__ = (Index("ix_community_help_match", "category", "kind", "active"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(10))            # offer | ask
    category: Mapped[str] = mapped_column(String(20))
    unit: Mapped[str] = mapped_column(String(20))
    sender_id: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime())
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ContactRow(CommunityBase):
    """An elderly resident's emergency contact, shown to admins only, with the consent recorded."""

    __tablename__ = "community_emergency_contacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    unit: Mapped[str] = mapped_column(String(20), index=True)
    resident: Mapped[str] = mapped_column(String(50))
    contact_name: Mapped[str] = mapped_column(String(50))
    relation: Mapped[str] = mapped_column(String(20))
    phone: Mapped[str] = mapped_column(String(30))
    consent_text: Mapped[str] = mapped_column(String(500))
    consent_at: Mapped[dt.datetime] = mapped_column(DateTime())
    recorded_by: Mapped[str] = mapped_column(String(200))
