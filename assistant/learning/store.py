"""The learning store: every turn (route, topic, entry, confidence; never the text), the doubtful
questions (redacted text, route, scores, entries offered) with the admins' decisions, answer feedback
and the audit log. SQLAlchemy 2 on the desk's database, its own Alembic migrations and version table."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Boolean, DateTime, Float, Integer, String, Text, create_engine, func, insert, select, update
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from assistant import db
from assistant.errors import AssistantError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "learning_alembic_version"
_PG_MIGRATE_LOCK = 0x6C726E67          # "lrng"
KINDS = ("fallback", "clarify", "low_confidence", "thumbs_down")
KIND_NAMES = {"fallback": "未能回答", "clarify": "反问澄清", "low_confidence": "低置信回答", "thumbs_down": "居民点踩"}
STATUSES = ("open", "attached", "new_entry", "out_of_scope", "dismissed")
STATUS_NAMES = {"open": "待处理", "attached": "并入已有条目", "new_entry": "新写条目", "out_of_scope": "超出范围",
                "dismissed": "忽略"}


class LearningError(AssistantError):
    """The learning database is unavailable, or a review action was refused."""


class LearningBase(DeclarativeBase):
    pass


class TurnRow(LearningBase):
    __tablename__ = "learning_turns"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(), index=True)      # naive UTC
    sender: Mapped[str] = mapped_column(String(40))                      # a hash, never the id itself
    route: Mapped[str] = mapped_column(String(20))
    topic: Mapped[str | None] = mapped_column(String(20), nullable=True)
    entry_id: Mapped[str | None] = mapped_column(String(120), nullable=True, index=True)
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    doubt: Mapped[str | None] = mapped_column(String(20), nullable=True)


class QuestionRow(LearningBase):
    __tablename__ = "learning_questions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime())
    sender: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(String(500))                       # redacted
    kind: Mapped[str] = mapped_column(String(20))
    route: Mapped[str] = mapped_column(String(20))
    topic: Mapped[str | None] = mapped_column(String(20), nullable=True)
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    offered: Mapped[str] = mapped_column(Text, default="[]")             # JSON [{"id", "score"}]
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    entry_id: Mapped[str | None] = mapped_column(String(120), nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(), nullable=True)


class FeedbackRow(LearningBase):
    __tablename__ = "learning_feedback"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime())
    sender: Mapped[str] = mapped_column(String(40))
    entry_id: Mapped[str] = mapped_column(String(120), index=True)
    helpful: Mapped[bool] = mapped_column(Boolean)


class AuditRow(LearningBase):
    __tablename__ = "learning_audit"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime())
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(Text)


def sender_key(sender: str) -> str:
    """A resident's id as stored: a hash (participants are counted, never named)."""
    return hashlib.sha256(f"learning\x00{sender}".encode("utf-8", "surrogatepass")).hexdigest()[:32]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@dataclass
class Question:
    id: int
    at: dt.datetime
    text: str
    kind: str
    route: str
    topic: str | None
    confidence: float | None
    offered: list[dict[str, Any]]
    status: str
    entry_id: str | None = None
    decided_by: str | None = None


@dataclass
class EntryStats:
    entry_id: str
    hits: int = 0
    helpful: int = 0
    unhelpful: int = 0
    last_hit: dt.datetime | None = None

    @property
    def helpful_ratio(self) -> float | None:
        n = self.helpful + self.unhelpful
        return self.helpful / n if n else None


@dataclass
class Audit:
    at: dt.datetime
    actor: str
    action: str
    detail: dict[str, Any] = field(default_factory=dict)


def migrate(engine: Engine) -> None:
    """Upgrade the learning tables to head (``assistant.db.migrate``: one transaction, under a lock, retried)."""
    db.migrate(engine, MIGRATIONS, _PG_MIGRATE_LOCK)


def _question(r: QuestionRow) -> Question:
    return Question(r.id, r.at, r.text, r.kind, r.route, r.topic, r.confidence, json.loads(r.offered or "[]"),
                    r.status, r.entry_id, r.decided_by)


class LearningStore:
    """The learning tables in any SQLAlchemy database (the desk's by default)."""

    def __init__(self, url: str | Engine) -> None:
        try:
            if not isinstance(url, str):      # another store's engine: its URL, our own engine and transactions
                url = url.url.render_as_string(hide_password=False)
            if isinstance(url, str):
                u = make_url(url)
                if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
                    Path(u.database).parent.mkdir(parents=True, exist_ok=True)
                url = create_engine(url, future=True, pool_pre_ping=True)
            self.engine = url
            migrate(self.engine)
        except (SQLAlchemyError, OSError) as exc:
            raise LearningError(f"learning database unavailable: {type(exc).__name__}") from exc

    def dispose(self) -> None:
        self.engine.dispose()

    # -- writing ------------------------------------------------------------------------------
    def add_turn(self, sender: str, route: str, topic: str | None, entry_id: str | None, confidence: float | None,
                 doubt: str | None = None, at: dt.datetime | None = None) -> None:
        with Session(self.engine) as s, s.begin():
            s.add(TurnRow(at=at or utcnow(), sender=sender_key(sender), route=route, topic=topic,
                          entry_id=entry_id, confidence=confidence, doubt=doubt))

    def add_turns(self, rows: Iterable[dict[str, Any]]) -> None:
        """Bulk insert (the seeded benchmark quarter): dicts with TurnRow's columns."""
        with Session(self.engine) as s, s.begin():
            s.execute(insert(TurnRow), list(rows))

    def add_question(self, sender: str, text: str, kind: str, route: str, topic: str | None,
                     confidence: float | None, offered: Sequence[dict[str, Any]],
                     at: dt.datetime | None = None) -> int:
        """``text`` must already be redacted (the observer does it)."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}")
        row = QuestionRow(at=at or utcnow(), sender=sender_key(sender), text=text[:500], kind=kind, route=route,
                          topic=topic, confidence=confidence, status="open",
                          offered=json.dumps([{"id": o.get("id"), "title": o.get("title"), "score": o.get("score")}
                                              for o in offered][:3], ensure_ascii=False))
        with Session(self.engine) as s, s.begin():
            s.add(row)
            s.flush()
            return int(row.id)

    def add_feedback(self, sender: str, entry_id: str, helpful: bool, at: dt.datetime | None = None) -> None:
        with Session(self.engine) as s, s.begin():
            s.add(FeedbackRow(at=at or utcnow(), sender=sender_key(sender), entry_id=entry_id, helpful=helpful))

    def audit(self, actor: str, action: str, detail: dict[str, Any]) -> None:
        with Session(self.engine) as s, s.begin():
            s.add(AuditRow(at=utcnow(), actor=actor, action=action, detail=json.dumps(detail, ensure_ascii=False)))

    def decide(self, ids: Sequence[int], status: str, actor: str, entry_id: str | None = None) -> int:
        if status not in STATUSES[1:]:
            raise LearningError(f"unknown decision {status!r}")
        with Session(self.engine) as s, s.begin():
            res = s.execute(update(QuestionRow).where(QuestionRow.id.in_(list(ids)), QuestionRow.status == "open")
                            .values(status=status, entry_id=entry_id, decided_by=actor, decided_at=utcnow()))
            return int(getattr(res, "rowcount", 0) or 0)

    # -- reading ------------------------------------------------------------------------------
    def questions(self, status: str | None = "open", ids: Sequence[int] | None = None,
                  since: dt.datetime | None = None, until: dt.datetime | None = None,
                  limit: int = 5000) -> list[Question]:
        q = select(QuestionRow).order_by(QuestionRow.id.desc()).limit(limit)
        if status:
            q = q.where(QuestionRow.status == status)
        if ids is not None:
            q = q.where(QuestionRow.id.in_(list(ids)))
        if since is not None:
            q = q.where(QuestionRow.at >= since)
        if until is not None:
            q = q.where(QuestionRow.at < until)
        with Session(self.engine) as s:
            return [_question(r) for r in s.scalars(q)]

    def entry_stats(self, since: dt.datetime | None = None, until: dt.datetime | None = None) -> dict[str, EntryStats]:
        out: dict[str, EntryStats] = {}
        hq = (select(TurnRow.entry_id, func.count(), func.max(TurnRow.at))
              .where(TurnRow.route == "answer", TurnRow.entry_id.is_not(None)).group_by(TurnRow.entry_id))
        fq = select(FeedbackRow.entry_id, FeedbackRow.helpful, func.count()).group_by(FeedbackRow.entry_id,
                                                                                       FeedbackRow.helpful)
        if since is not None:
            hq, fq = hq.where(TurnRow.at >= since), fq.where(FeedbackRow.at >= since)
        if until is not None:
            hq, fq = hq.where(TurnRow.at < until), fq.where(FeedbackRow.at < until)
        with Session(self.engine) as s:
            for eid, n, last in s.execute(hq):
                out[str(eid)] = EntryStats(str(eid), int(n), last_hit=last)
            for eid, helpful, n in s.execute(fq):
                st = out.setdefault(str(eid), EntryStats(str(eid)))
                if helpful:
                    st.helpful += int(n)
                else:
                    st.unhelpful += int(n)
        return out

    def turns(self, since: dt.datetime, until: dt.datetime) -> list[tuple[dt.datetime, str, str, str | None]]:
        """(at, sender hash, route, topic) of the turns in [since, until)."""
        q = (select(TurnRow.at, TurnRow.sender, TurnRow.route, TurnRow.topic)
             .where(TurnRow.at >= since, TurnRow.at < until))
        with Session(self.engine) as s:
            return [(a, b, c, d) for a, b, c, d in s.execute(q)]

    def feedback_counts(self, since: dt.datetime, until: dt.datetime) -> tuple[int, int]:
        q = (select(FeedbackRow.helpful, func.count()).where(FeedbackRow.at >= since, FeedbackRow.at < until)
             .group_by(FeedbackRow.helpful))
        with Session(self.engine) as s:
            got = {bool(h): int(n) for h, n in s.execute(q)}
        return got.get(True, 0), got.get(False, 0)

    def audits(self, limit: int = 200) -> list[Audit]:
        q = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
        with Session(self.engine) as s:
            return [Audit(r.at, r.actor, r.action, json.loads(r.detail)) for r in s.scalars(q)]
