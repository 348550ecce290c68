"""Fixtures of the community tests: a community on a SQLite file or a fresh PostgreSQL schema, with a
clock the test moves."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.community.service import Community, open_community

from ..pg import FakeClock, sqlite_or_pg

# Tuesday 2026-12-01 15:00 in Shanghai
TUESDAY_15 = dt.datetime(2026, 12, 1, 7, 0, tzinfo=dt.UTC)


@pytest.fixture
def now() -> FakeClock:
    return FakeClock(TUESDAY_15)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from sqlite_or_pg(request, tmp_path, "community_test")


@pytest.fixture
def community(db_url: str, tmp_path: Path, now: FakeClock) -> Iterator[Community]:
    c = open_community(db_url, key_file=tmp_path / "feedback.key", clock=now)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture
def lite(tmp_path: Path, now: FakeClock) -> Iterator[Community]:
    """SQLite only, for tests that do not depend on the database."""
    c = open_community(f"sqlite:///{tmp_path}/c.db", key_file=tmp_path / "feedback.key", clock=now)
    try:
        yield c
    finally:
        c.close()
