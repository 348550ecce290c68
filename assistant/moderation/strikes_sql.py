"""Strikes in SQL: the table, its Alembic migrations (``migrations/``), the store."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, cast

from sqlalchemy import DateTime, Index, Integer, String, create_engine, delete, select
from sqlalchemy.engine import CursorResult, Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from assistant import db
from assistant.moderation.strikes import MIGRATIONS, Strike, utc

_PG_MIGRATE_LOCK = 0x73747269    # advisory lock key held while migrating ("stri")


class StrikeBase(DeclarativeBase):
    pass


class _StrikeRow(StrikeBase):
    """Made by migrations/versions/0001_strikes.py; keep the two in step (tests compare them)."""

    __tablename__ = "moderation_strikes"
    __table_args__ = (Index("ix_moderation_strikes_who", "conversation_id", "sender_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(String(200))
    sender_id: Mapped[str] = mapped_column(String(200))
    rule_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(DateTime())            # naive UTC
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(), index=True)


def _naive(t: dt.datetime) -> dt.datetime:
    return utc(t).replace(tzinfo=None)


def migrate(engine: Engine) -> None:
    """Upgrade the strike table to head (``assistant.db.migrate``: one transaction, under a lock, retried)."""
    db.migrate(engine, MIGRATIONS, _PG_MIGRATE_LOCK)


class SqlStrikeStore:
    """Strikes in any SQLAlchemy database; a SQLite file by default. Migrates its table to head."""

    def __init__(self, url: str | Engine = "sqlite:///.run/moderation.sqlite3", *,
                 root: Path | None = None) -> None:
        if isinstance(url, str):
            url = self._resolve(url, root)
            self.engine = create_engine(url, future=True, pool_pre_ping=True)
        else:
            self.engine = url
        migrate(self.engine)

    @staticmethod
    def _resolve(url: str, root: Path | None) -> str:
        """Relative SQLite paths are taken from the project folder; their folder is created."""
        u = make_url(url)
        if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
            path = Path(u.database)
            if not path.is_absolute():
                path = (root or Path.cwd()) / path
            path.parent.mkdir(parents=True, exist_ok=True)
            return str(u.set(database=str(path)))
        return url

    def add(self, strike: Strike) -> None:
        with Session(self.engine) as session, session.begin():
            session.add(_StrikeRow(conversation_id=strike.conversation_id, sender_id=strike.sender_id,
                                   rule_id=strike.rule_id, at=_naive(strike.at),
                                   expires_at=_naive(strike.expires_at)))

    def active(self, conversation_id: str, sender_id: str, now: dt.datetime) -> list[Strike]:
        q = (select(_StrikeRow)
             .where(_StrikeRow.conversation_id == conversation_id, _StrikeRow.sender_id == sender_id,
                    _StrikeRow.expires_at > _naive(now))
             .order_by(_StrikeRow.at, _StrikeRow.id))
        with Session(self.engine) as session:
            return [Strike(r.conversation_id, r.sender_id, r.rule_id, utc(r.at), utc(r.expires_at))
                    for r in session.scalars(q)]

    def clear(self, conversation_id: str, sender_id: str) -> int:
        with Session(self.engine) as session, session.begin():
            result = cast("CursorResult[Any]", session.execute(delete(_StrikeRow).where(
                _StrikeRow.conversation_id == conversation_id, _StrikeRow.sender_id == sender_id)))
            return int(result.rowcount or 0)

    def purge_expired(self, now: dt.datetime) -> int:
        with Session(self.engine) as session, session.begin():
            result = cast("CursorResult[Any]",
                          session.execute(delete(_StrikeRow).where(_StrikeRow.expires_at <= _naive(now))))
            return int(result.rowcount or 0)

    def close(self) -> None:
        self.engine.dispose()
