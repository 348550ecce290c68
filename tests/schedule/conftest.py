from __future__ import annotations

from collections.abc import Iterator

import pytest

from ..pg import FakeClock, sqlite_or_pg


@pytest.fixture(params=["sqlite", "postgresql"])
def schedule_url(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[str]:
    yield from sqlite_or_pg(request, tmp_path, "sched")


@pytest.fixture
def sqlite_url(tmp_path: object) -> str:
    return f"sqlite:///{tmp_path}/schedule.db"


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()
