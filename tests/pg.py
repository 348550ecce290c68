"""Shared test helpers for the SQL stores: the local PostgreSQL server and a controllable clock.

PostgreSQL tests use $ASSISTANT_TEST_PG_URL (default the local server, trust auth) in a fresh
schema per test, dropped afterwards; they skip, naming host and port, when it is unreachable.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import pytest

PG_URL = os.environ.get("ASSISTANT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)  # Monday 2026-11-23 10:00 in Shanghai


class FakeClock:
    def __init__(self, start: datetime = MONDAY_10) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> datetime:
        self.now += timedelta(**kw)
        return self.now


def _conninfo(url: str = PG_URL) -> dict[str, object]:
    from sqlalchemy.engine import make_url

    u = make_url(url)
    return dict(host=u.host, port=u.port or 5432, user=u.username, password=u.password, dbname=u.database)


@lru_cache(maxsize=1)
def pg_problem() -> str | None:
    """Why the test PostgreSQL server cannot be used here, or None."""
    return problem_for(PG_URL)


def problem_for(url: str) -> str | None:
    """Why PostgreSQL at ``url`` cannot be used, or None."""
    info = _conninfo(url)
    try:
        import psycopg

        with psycopg.connect(**info, connect_timeout=3) as conn:  # type: ignore[arg-type]
            conn.execute("select 1")
    except Exception as exc:  # noqa: BLE001 - any failure means: skip with the reason
        first = str(exc).splitlines()[0] if str(exc) else repr(exc)
        return f"PostgreSQL at {info['host']}:{info['port']} unreachable: {first}"
    return None


def pg_schema_url(prefix: str) -> Iterator[str]:
    """A URL whose search_path is a fresh schema, dropped afterwards (skips without PostgreSQL)."""
    problem = pg_problem()
    if problem:
        pytest.skip(problem)
    import psycopg
    from sqlalchemy.engine import make_url

    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    info = _conninfo()
    with psycopg.connect(**info, autocommit=True) as conn:  # type: ignore[arg-type]
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False)
    finally:
        with psycopg.connect(**info, autocommit=True) as conn:  # type: ignore[arg-type]
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def sqlite_or_pg(request: pytest.FixtureRequest, tmp_path: object, prefix: str) -> Iterator[str]:
    """For a fixture parametrised over ["sqlite", "postgresql"]: a SQLite file in ``tmp_path``, or a
    fresh PostgreSQL schema named after ``prefix``."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/tickets.db"
    else:
        yield from pg_schema_url(prefix)
