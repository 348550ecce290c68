"""The strike table under its own Alembic migrations, on SQLite and PostgreSQL: a database whose table
was made the old way (create_all, with rows) is adopted with nothing lost, a fresh one gets the same
table, a second open changes nothing, concurrent first opens all succeed, and the strikes can share a
database with the desk (separate version tables)."""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, insert

from assistant.moderation import SqlStrikeStore, Strike
from assistant.moderation.strikes import MIGRATIONS, VERSION_TABLE
from assistant.moderation.strikes_sql import StrikeBase, migrate

from ..legacy_schema import STRIKE_METADATA, STRIKES, make_old_strikes, table_ddl
from ..pg import sqlite_or_pg

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
WRITES = re.compile(r"^\s*(CREATE|ALTER|DROP|INSERT|UPDATE|DELETE)\b", re.IGNORECASE)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from sqlite_or_pg(request, tmp_path, "strikes_test")


def _head() -> str | None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(cfg).get_current_head()


def _current(engine: Engine, version_table: str = VERSION_TABLE) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn, opts={"version_table": version_table}).get_current_revision()


def _schema_diff(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}),
                                StrikeBase.metadata)


def test_adopts_the_old_strike_table_with_its_rows(db_url: str) -> None:
    engine = create_engine(db_url)
    make_old_strikes(engine)
    with engine.begin() as conn:                       # as the old store wrote them: naive UTC
        for rule, minutes in (("abuse", 0), ("ad.wechat", 5)):
            at = (T0 + dt.timedelta(minutes=minutes)).replace(tzinfo=None)
            conn.execute(insert(STRIKES).values(conversation_id="group-1", sender_id="user-1", rule_id=rule,
                                                at=at, expires_at=at + dt.timedelta(days=30)))
    with engine.connect() as conn:
        before = table_ddl(conn, "moderation_strikes")
    engine.dispose()

    store = SqlStrikeStore(db_url)
    try:
        got = store.active("group-1", "user-1", T0 + dt.timedelta(hours=1))
        assert [(s.rule_id, s.at) for s in got] == [("abuse", T0), ("ad.wechat", T0 + dt.timedelta(minutes=5))]
        store.add(Strike("group-1", "user-1", "flood", T0 + dt.timedelta(minutes=9), T0 + dt.timedelta(days=1)))
        assert len(store.active("group-1", "user-1", T0 + dt.timedelta(hours=1))) == 3
        assert _current(store.engine) == _head() == "0001"
        with store.engine.connect() as conn:
            assert table_ddl(conn, "moderation_strikes") == before          # adopted as it was
        assert _schema_diff(store.engine) == []
    finally:
        store.close()


def test_fresh_database_gets_the_old_table(db_url: str) -> None:
    engine = create_engine(db_url)
    make_old_strikes(engine)
    with engine.connect() as conn:
        old = table_ddl(conn, "moderation_strikes")
    STRIKE_METADATA.drop_all(engine)
    engine.dispose()
    store = SqlStrikeStore(db_url)
    try:
        assert _current(store.engine) == _head()
        with store.engine.connect() as conn:
            assert table_ddl(conn, "moderation_strikes") == old
        assert _schema_diff(store.engine) == []
    finally:
        store.close()


def test_second_open_is_a_no_op(db_url: str) -> None:
    SqlStrikeStore(db_url).close()
    engine = create_engine(db_url)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda _c, _cur, stmt, *_: statements.append(stmt))
    try:
        migrate(engine)
        assert _current(engine) == _head()
    finally:
        engine.dispose()
    assert statements and [s for s in statements if WRITES.match(s)] == []


def test_concurrent_first_opens(db_url: str) -> None:
    openers = 6
    barrier = threading.Barrier(openers)
    errors: list[BaseException] = []

    def opener(n: int) -> None:
        try:
            barrier.wait(timeout=60)
            store = SqlStrikeStore(db_url)
            try:
                store.add(Strike("group-1", f"user-{n}", "abuse", T0, T0 + dt.timedelta(days=1)))
            finally:
                store.close()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=opener, args=(n,)) for n in range(openers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    store = SqlStrikeStore(db_url)
    try:
        assert _current(store.engine) == _head()
        assert all(store.active("group-1", f"user-{n}", T0) for n in range(openers))
    finally:
        store.close()


def test_shares_a_database_with_the_desk(db_url: str) -> None:
    from assistant.desk.tickets.store import open_store

    store = SqlStrikeStore(db_url)
    try:
        with open_store(db_url) as tickets:
            assert _current(tickets.engine, "tickets_alembic_version") is not None
        assert _current(store.engine) == _head()
    finally:
        store.close()


def test_in_memory_sqlite() -> None:
    store = SqlStrikeStore("sqlite://")
    try:
        store.add(Strike("g", "u", "abuse", T0, T0 + dt.timedelta(days=1)))
        assert [s.rule_id for s in store.active("g", "u", T0)] == ["abuse"]
    finally:
        store.close()
