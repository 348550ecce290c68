"""Fixtures for the ticket store: a fake clock, a fixed SLA, and store URLs for SQLite and PostgreSQL.

PostgreSQL tests use $ASSISTANT_TEST_PG_URL (default the local server, trust auth) in a fresh
schema per test, dropped afterwards; they skip, naming host and port, when it is unreachable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import time, timedelta
from pathlib import Path

import pytest

from assistant.desk.tickets.sla import Calendar, SLAPolicy, Target
from assistant.desk.tickets.store import SQLTicketStore, open_store

from ..pg import MONDAY_10, PG_URL, SHANGHAI, FakeClock, pg_problem  # noqa: F401 - re-exported
from ..pg import pg_schema_url as shared_pg_schema_url
from ..pg import sqlite_or_pg


def test_sla() -> SLAPolicy:
    """Mon-Fri 09:00-12:00 and 13:00-18:00 Shanghai; default 4h / 16h, noise 2h / 8h."""
    cal = Calendar(tz=SHANGHAI, weekdays=frozenset(range(5)), hours=((time(9), time(12)), (time(13), time(18))))
    return SLAPolicy(calendar=cal, default=Target(timedelta(hours=4), timedelta(hours=16)),
                     categories={"noise": Target(timedelta(hours=2), timedelta(hours=8))},
                     priority_factor={"urgent": 0.25, "high": 0.5, "normal": 1.0, "low": 1.5})


test_sla.__test__ = False  # a helper, not a test




@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    yield from shared_pg_schema_url("tickets_test")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from sqlite_or_pg(request, tmp_path, "tickets_test")


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
