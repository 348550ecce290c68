"""One conformance suite for every StrikeStore: in memory, SQLite file, PostgreSQL."""

from __future__ import annotations

import datetime as dt
import importlib.util
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.moderation import MemoryStrikeStore, SqlStrikeStore, Strike, StrikeStore

PG_HOST = "127.0.0.1:5432"
UTC = dt.timezone.utc
T0 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _pg_url() -> str:
    for module, dialect in (("psycopg", "psycopg"), ("psycopg2", "psycopg2"), ("pg8000", "pg8000")):
        if importlib.util.find_spec(module):
            return f"postgresql+{dialect}://postgres@{PG_HOST}/test"
    pytest.skip(f"PostgreSQL at {PG_HOST}: no driver installed (psycopg, psycopg2 or pg8000)")


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StrikeStore]:
    if request.param == "memory":
        yield MemoryStrikeStore()
        return
    if request.param == "sqlite":
        s = SqlStrikeStore("sqlite:///strikes/test.sqlite3", root=tmp_path)
        assert (tmp_path / "strikes" / "test.sqlite3").is_file()
        yield s
        s.close()
        return
    from sqlalchemy.exc import OperationalError
    try:
        s = SqlStrikeStore(_pg_url())
    except OperationalError as exc:
        pytest.skip(f"PostgreSQL at {PG_HOST} (user postgres, database test) unreachable: "
                    f"{str(exc).splitlines()[0][:120]}")
    yield s
    s.close()


def _who() -> tuple[str, str]:
    return f"group-{uuid.uuid4().hex[:8]}", f"user-{uuid.uuid4().hex[:8]}"


def _strike(conv: str, sender: str, rule: str, at: dt.datetime, days: float = 30) -> Strike:
    return Strike(conv, sender, rule, at, at + dt.timedelta(days=days))


def test_protocol(store: StrikeStore) -> None:
    assert isinstance(store, StrikeStore)


def test_add_and_active_in_order(store: StrikeStore) -> None:
    conv, user = _who()
    store.add(_strike(conv, user, "ad.wechat", T0 + dt.timedelta(minutes=5)))
    store.add(_strike(conv, user, "abuse", T0))
    got = store.active(conv, user, T0 + dt.timedelta(hours=1))
    assert [s.rule_id for s in got] == ["abuse", "ad.wechat"]
    assert got[0].at == T0 and got[0].at.tzinfo is not None
    assert got[0].expires_at == T0 + dt.timedelta(days=30)


def test_expiry(store: StrikeStore) -> None:
    conv, user = _who()
    store.add(_strike(conv, user, "flood", T0, days=1))
    store.add(_strike(conv, user, "abuse", T0 + dt.timedelta(hours=12), days=30))
    assert len(store.active(conv, user, T0 + dt.timedelta(hours=23))) == 2
    assert [s.rule_id for s in store.active(conv, user, T0 + dt.timedelta(days=3))] == ["abuse"]
    assert store.purge_expired(T0 + dt.timedelta(days=3)) >= 1
    assert [s.rule_id for s in store.active(conv, user, T0 + dt.timedelta(days=3))] == ["abuse"]


def test_scoped_per_group_and_sender(store: StrikeStore) -> None:
    conv, user = _who()
    other_conv, other_user = _who()
    store.add(_strike(conv, user, "abuse", T0))
    assert store.active(other_conv, user, T0) == []
    assert store.active(conv, other_user, T0) == []


def test_clear_is_a_pardon(store: StrikeStore) -> None:
    conv, user = _who()
    for k in range(3):
        store.add(_strike(conv, user, "ad.loan", T0 + dt.timedelta(minutes=k)))
    assert store.clear(conv, user) == 3
    assert store.active(conv, user, T0 + dt.timedelta(hours=1)) == []
    assert store.clear(conv, user) == 0


def test_naive_times_are_utc(store: StrikeStore) -> None:
    conv, user = _who()
    store.add(_strike(conv, user, "abuse", T0.replace(tzinfo=None)))
    beijing = dt.timezone(dt.timedelta(hours=8))
    got = store.active(conv, user, (T0 + dt.timedelta(hours=1)).astimezone(beijing))
    assert got and got[0].at == T0
