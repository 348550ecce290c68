"""Fixtures for the handoff queue: a fake clock and store URLs for SQLite and PostgreSQL.

PostgreSQL tests use $ASSISTANT_TEST_PG_URL (default the local server, trust auth) in a fresh
schema per test, dropped afterwards; they skip, naming host and port, when it is unreachable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from assistant.desk.handoff.queue import SQLHandoffStore, open_handoffs

from ..pg import MONDAY_10, PG_URL, SHANGHAI, FakeClock, pg_problem  # noqa: F401 - re-exported
from ..pg import pg_schema_url as shared_pg_schema_url
from ..pg import sqlite_or_pg


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    yield from shared_pg_schema_url("handoff_test")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from sqlite_or_pg(request, tmp_path, "handoff_test")


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
