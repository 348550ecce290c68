"""Opening the community database: an engine (the desk's engine factory: SQLite in WAL mode,
synchronous=NORMAL, with ``BEGIN IMMEDIATE`` for writes, or PostgreSQL) and the seam's own Alembic migrations
(``migrations/``, version table ``community_alembic_version``) run to head under a lock."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from assistant import db
from assistant.community.errors import CommunityUnavailable

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "community_alembic_version"
_PG_MIGRATE_LOCK = 0x636F6D6D    # advisory lock key held while migrating ("comm")


def migrate(engine: Engine) -> None:
    """Upgrade the community tables to head (``assistant.db.migrate``: one transaction, under a lock, retried)."""
    db.migrate(engine, MIGRATIONS, _PG_MIGRATE_LOCK)


def open_engine(url: str, *, busy_timeout: float = 30.0) -> Engine:
    """An engine on ``url`` with the community tables migrated to head."""
    # WAL with synchronous=NORMAL: never corrupt, and a commit does not wait for the disk (a power
    # cut may lose the last answers); the ticket store keeps FULL on its own connections.
    return db.open_engine(url, MIGRATIONS, _PG_MIGRATE_LOCK, unavailable=CommunityUnavailable,
                          busy_timeout=busy_timeout, synchronous="NORMAL")


MAX_ID = 2**31 - 1       # ids are 32-bit integers in both databases


def known_id(n: int) -> int:
    """``n`` if it can be a row id, else 0 (no row has it): a huge number typed in the chat or a URL
    must read as "not found", not overflow the driver."""
    return n if 0 < n <= MAX_ID else 0


class Tables:
    """Sessions on the community engine: ``read()`` and ``write()`` (SQLite: the write lock taken up
    front, so concurrent writers queue instead of failing)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._write = engine.execution_options(ticket_write=True)

    @contextmanager
    def read(self) -> Iterator[Session]:
        try:
            with Session(self.engine) as s:
                yield s
        except OperationalError as exc:
            raise CommunityUnavailable(f"database error: {type(exc.orig).__name__}") from None

    @contextmanager
    def write(self) -> Iterator[Session]:
        try:
            with Session(self._write) as s, s.begin():
                yield s
        except OperationalError as exc:
            raise CommunityUnavailable(f"database error: {type(exc.orig).__name__}") from None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name


__all__ = ["MAX_ID", "MIGRATIONS", "VERSION_TABLE", "SQLAlchemyError", "Tables", "known_id", "migrate", "open_engine"]
