"""Fixtures for the handoff queue: a fake clock and store URLs for SQLite and PostgreSQL.

PostgreSQL tests use $ASSISTANT_TEST_PG_URL (default the local server, trust auth) in a fresh
schema per test, dropped afterwards; they skip, naming host and port, when it is unreachable.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from assistant.handoff.queue import SQLHandoffStore, open_handoffs

PG_URL = os.environ.get("ASSISTANT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)


class FakeClock:
    def __init__(self, start: datetime = MONDAY_10) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> datetime:
        self.now += timedelta(**kw)
        return self.now


_PG_PROBLEM: list[str | None] = []


def pg_problem() -> str | None:
    if not _PG_PROBLEM:
        from sqlalchemy.engine import make_url

        u = make_url(PG_URL)
        problem = None
        try:
            import psycopg

            with psycopg.connect(host=u.host, port=u.port or 5432, user=u.username, password=u.password,
                                 dbname=u.database, connect_timeout=3) as conn:
                conn.execute("select 1")
        except Exception as exc:  # noqa: BLE001 - any failure means: skip with the reason
            first = str(exc).splitlines()[0] if str(exc) else repr(exc)
            problem = f"PostgreSQL at {u.host}:{u.port or 5432} unreachable: {first}"
        _PG_PROBLEM.append(problem)
    return _PG_PROBLEM[0]


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A URL whose search_path is a fresh schema, dropped after the test."""
    problem = pg_problem()
    if problem:
        pytest.skip(problem)
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(PG_URL)
    schema = f"handoff_test_{uuid.uuid4().hex[:10]}"
    conninfo = dict(host=u.host, port=u.port or 5432, user=u.username, password=u.password, dbname=u.database)
    with psycopg.connect(**conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield u.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(**conninfo, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tickets.db'}"
    return request.getfixturevalue("pg_schema_url")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_store(db_url: str, clock: FakeClock) -> Iterator[Callable[..., SQLHandoffStore]]:
    opened: list[SQLHandoffStore] = []

    def make(**kw: object) -> SQLHandoffStore:
        kw.setdefault("clock", clock)
        s = open_handoffs(db_url, **kw)  # type: ignore[arg-type]
        opened.append(s)
        return s

    yield make
    for s in opened:
        s.dispose()


@pytest.fixture
def store(make_store: Callable[..., SQLHandoffStore]) -> SQLHandoffStore:
    return make_store()
