"""What the WeCom channel must remember across restarts (a kill -9 included), in SQL.

- ``wecom_cursors``: the ``kf/sync_msg`` cursor per 微信客服 account, saved after each page;
- ``wecom_messages``: every message id handled (``claimed`` while it is being answered, ``done``
  once its reply was sent) and every callback seen, so a retried callback, a page synced twice
  after a crash, or a second adapter process never answers a message twice.

Tables made by this folder's own Alembic migrations (version table ``wecom_alembic_version``), in
the desk's database by default (SQLite or PostgreSQL). No message text is stored.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import DateTime, String, delete, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from assistant import db

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "wecom_alembic_version"
_PG_MIGRATE_LOCK = 0x7765636F     # advisory lock key held while migrating ("weco")
NEW, CLAIMED, DONE = "new", "claimed", "done"


class WeComBase(DeclarativeBase):
    pass


class CursorRow(WeComBase):
    """Made by migrations/versions/0001_wecom.py; keep the two in step."""

    __tablename__ = "wecom_cursors"
    open_kfid: Mapped[str] = mapped_column(String(64), primary_key=True)
    cursor: Mapped[str] = mapped_column(String(512))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime())


class MessageRow(WeComBase):
    __tablename__ = "wecom_messages"
    msgid: Mapped[str] = mapped_column(String(160), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(8))
    at: Mapped[dt.datetime] = mapped_column(DateTime(), index=True)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def migrate(engine: Engine) -> None:
    """Upgrade the WeCom tables to head (``assistant.db.migrate``: one transaction, under a lock, retried)."""
    db.migrate(engine, MIGRATIONS, _PG_MIGRATE_LOCK)


class WeComStore:
    """Cursors and message ids in any SQLAlchemy database; migrated to head on opening."""

    def __init__(self, url: str | Engine) -> None:
        self.engine = db.make_engine(url) if isinstance(url, str) else url
        self._write = self.engine.execution_options(ticket_write=True)    # SQLite: BEGIN IMMEDIATE
        migrate(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()

    # -- cursors

    def cursor(self, open_kfid: str) -> str:
        with Session(self.engine) as s:
            row = s.get(CursorRow, open_kfid)
            return row.cursor if row is not None else ""

    def accounts(self) -> list[str]:
        with Session(self.engine) as s:
            return list(s.scalars(select(CursorRow.open_kfid)))

    def set_cursor(self, open_kfid: str, cursor: str) -> None:
        with Session(self._write) as s, s.begin():
            row = s.get(CursorRow, open_kfid)
            if row is None:
                s.add(CursorRow(open_kfid=open_kfid, cursor=cursor, updated_at=_now()))
            else:
                row.cursor, row.updated_at = cursor, _now()

    # -- message ids

    def claim(self, msgid: str, kind: str = "kf") -> str:
        """``new`` (now ``claimed`` by the caller), or the state a previous handling left:
        ``claimed`` (it stopped before the reply was confirmed) or ``done``."""
        try:
            with Session(self._write) as s, s.begin():
                s.add(MessageRow(msgid=msgid, kind=kind, state=CLAIMED, at=_now()))
            return NEW
        except IntegrityError:
            with Session(self.engine) as s:
                state = s.scalar(select(MessageRow.state).where(MessageRow.msgid == msgid))
            return state or CLAIMED

    def seen(self, key: str, kind: str = "callback") -> bool:
        """True when ``key`` was seen before; otherwise it is remembered (as done) now."""
        try:
            with Session(self._write) as s, s.begin():
                s.add(MessageRow(msgid=key, kind=kind, state=DONE, at=_now()))
            return False
        except IntegrityError:
            return True

    def done(self, msgid: str) -> None:
        with Session(self._write) as s, s.begin():
            s.execute(update(MessageRow).where(MessageRow.msgid == msgid).values(state=DONE))

    def state(self, msgid: str) -> str | None:
        with Session(self.engine) as s:
            return s.scalar(select(MessageRow.state).where(MessageRow.msgid == msgid))

    def prune(self, older_than: dt.timedelta = dt.timedelta(days=7)) -> int:
        """Forget ids older than ``older_than`` (WeCom keeps messages for sync 3 days)."""
        with Session(self._write) as s, s.begin():
            res = s.execute(delete(MessageRow).where(MessageRow.at < _now() - older_than))
            return int(getattr(res, "rowcount", 0) or 0)
