"""assistant.db.migrate, the one migration runner of every SQL seam, on SQLite: it takes the write lock
before Alembic runs, waits out "database is locked" (5 attempts, doubling back-off) and gives up with
the driver's error after the fifth, on both kinds of engine the seams hand it (the shared make_engine's,
and a plain create_engine's left to the driver's own transactions). PostgreSQL waits on its advisory
lock instead; the seams' own tests run it there."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import OperationalError

from assistant import db
from assistant.moderation.strikes import MIGRATIONS, VERSION_TABLE

LOCK_ID = 0x74657374


def _engine(kind: str, path: Path) -> Engine:
    url = f"sqlite:///{path}"
    if kind == "shared":
        return db.make_engine(url, busy_timeout=0.05)
    return create_engine(url, connect_args={"timeout": 0.05})


@pytest.fixture(params=["shared", "plain"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    e = _engine(request.param, tmp_path / "t.db")
    yield e
    e.dispose()


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """Another process's connection holding the write lock on the (WAL) database."""
    conn = sqlite3.connect(tmp_path / "t.db", isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("BEGIN IMMEDIATE")
    yield conn
    conn.close()


def _begins(engine: Engine) -> list[str]:
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute",
                 lambda _c, _cur, stmt, *_: seen.append(stmt) if stmt.startswith("BEGIN IMMEDIATE") else None)
    return seen


def _version(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()


def test_migrate_waits_out_a_held_lock(engine: Engine, holder: sqlite3.Connection) -> None:
    begins = _begins(engine)
    release = threading.Timer(0.5, holder.rollback)
    release.start()
    try:
        db.migrate(engine, MIGRATIONS, LOCK_ID)
    finally:
        release.join()
    assert _version(engine) == "0001"
    assert 2 <= len(begins) <= 5                       # locked at first, then through


def test_migrate_gives_up_after_five_attempts(engine: Engine, holder: sqlite3.Connection) -> None:
    begins = _begins(engine)
    with pytest.raises(OperationalError, match="locked"):
        db.migrate(engine, MIGRATIONS, LOCK_ID)
    assert len(begins) == 5
    holder.rollback()
    assert _version(engine) is None                    # nothing half-done


def test_other_errors_are_not_retried(tmp_path: Path) -> None:
    sqlite3.connect(tmp_path / "ro.db").close()
    engine = create_engine(f"sqlite:///file:{tmp_path / 'ro.db'}?mode=ro&uri=true")
    begins = _begins(engine)
    try:
        with pytest.raises(OperationalError, match="readonly"):
            db.migrate(engine, MIGRATIONS, LOCK_ID)
    finally:
        engine.dispose()
    assert len(begins) == 1
