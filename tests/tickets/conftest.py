"""Fixtures for the ticket store: a fake clock, a fixed SLA, and store URLs for SQLite and PostgreSQL.

PostgreSQL tests use $ASSISTANT_TEST_PG_URL (default the local server, trust auth) in a fresh
schema per test, dropped afterwards; they skip, naming host and port, when it is unreachable.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from assistant.tickets.sla import Calendar, SLAPolicy, Target
from assistant.tickets.store import SQLTicketStore, open_store

PG_URL = os.environ.get("ASSISTANT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SHANGHAI = ZoneInfo("Asia/Shanghai")
# Monday 2026-11-23 10:00 in Shanghai.
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)


class FakeClock:
    def __init__(self, start: datetime = MONDAY_10) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> datetime:
        self.now += timedelta(**kw)
        return self.now


def test_sla() -> SLAPolicy:
    """Mon-Fri 09:00-12:00 and 13:00-18:00 Shanghai; default 4h / 16h, noise 2h / 8h."""
    cal = Calendar(tz=SHANGHAI, weekdays=frozenset(range(5)), hours=((time(9), time(12)), (time(13), time(18))))
    return SLAPolicy(calendar=cal, default=Target(timedelta(hours=4), timedelta(hours=16)),
                     categories={"noise": Target(timedelta(hours=2), timedelta(hours=8))},
                     priority_factor={"urgent": 0.25, "high": 0.5, "normal": 1.0, "low": 1.5})


test_sla.__test__ = False  # a helper, not a test


def _pg_problem(url: str = PG_URL) -> str | None:
    from sqlalchemy.engine import make_url

    u = make_url(url)
    try:
        import psycopg

        with psycopg.connect(host=u.host, port=u.port or 5432, user=u.username, password=u.password,
                             dbname=u.database, connect_timeout=3) as conn:
            conn.execute("select 1")
    except Exception as exc:  # noqa: BLE001 - any failure means: skip with the reason
        return f"PostgreSQL at {u.host}:{u.port or 5432} unreachable: {str(exc).splitlines()[0] if str(exc) else exc!r}"
    return None


_PG_PROBLEM: list[str | None] = []


def pg_problem() -> str | None:
    if not _PG_PROBLEM:
        _PG_PROBLEM.append(_pg_problem())
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
    schema = f"tickets_test_{uuid.uuid4().hex[:10]}"
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
def make_store(db_url: str, clock: FakeClock) -> Iterator[Callable[..., SQLTicketStore]]:
    opened: list[SQLTicketStore] = []

    def make(**kw: object) -> SQLTicketStore:
        kw.setdefault("sla", test_sla())
        kw.setdefault("clock", clock)
        s = open_store(db_url, **kw)  # type: ignore[arg-type]
        opened.append(s)
        return s

    yield make
    for s in opened:
        s.dispose()


@pytest.fixture
def store(make_store: Callable[..., SQLTicketStore]) -> SQLTicketStore:
    return make_store()
