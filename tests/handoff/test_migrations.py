"""The handoff table under the desk's Alembic migrations (revision 0004), on SQLite and PostgreSQL: a
database whose handoff table was made the old way (create_all, with rows) is adopted with nothing lost,
a fresh one gets the same table, a second open changes nothing, concurrent first opens all succeed."""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, event, insert, text, update

from assistant.db import make_engine
from assistant.desk.handoff.queue import Base as HandoffBase
from assistant.desk.handoff.queue import open_handoffs
from assistant.desk.tickets import Reporter
from assistant.desk.tickets.schema import Base as TicketBase
from assistant.desk.tickets.store import MIGRATIONS, migrate, open_store

from ..legacy_schema import HANDOFF_METADATA, HANDOFFS, make_old_handoffs, table_ddl
from ..pg import MONDAY_10, FakeClock

VERSION_TABLE = "tickets_alembic_version"
WRITES = re.compile(r"^\s*(CREATE|ALTER|DROP|INSERT|UPDATE|DELETE)\b", re.IGNORECASE)


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def _head() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()


def _current(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()


def _upgrade_to(engine: Engine, revision: str) -> None:
    cfg = _config()
    with engine.execution_options(ticket_write=True).begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def _old_handoff(conn: Any, conversation: str, state: str, **extra: Any) -> str:
    """Insert a handoff row as the old store did (id from the database's seq, set after the insert)."""
    at = MONDAY_10
    seq = conn.execute(insert(HANDOFFS).values(conversation_id=conversation, resident_id="wx-1",
                                               reason="request_human", summary="想找人工 [手机号已隐藏]",
                                               state=state, created_at=at, updated_at=at, **extra)
                       ).inserted_primary_key[0]
    hid = f"H-{at:%Y%m%d}-{seq:04d}"
    conn.execute(update(HANDOFFS).where(HANDOFFS.c.seq == seq).values(id=hid))
    return hid


def _schema_diff(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        return compare_metadata(ctx, [TicketBase.metadata, HandoffBase.metadata])  # type: ignore[arg-type]


@pytest.mark.parametrize("tickets_at", [None, "0003"], ids=["handoffs-only", "tickets-at-0003"])
def test_adopts_the_old_handoff_table_with_its_rows(db_url: str, tickets_at: str | None) -> None:
    engine = make_engine(db_url)
    if tickets_at:
        _upgrade_to(engine, tickets_at)
    make_old_handoffs(engine)
    with engine.begin() as conn:
        waiting = _old_handoff(conn, "conv-1", "waiting")
        taken = _old_handoff(conn, "conv-2", "taken", admin="wang", taken_at=MONDAY_10)
        released = _old_handoff(conn, "conv-3", "released", released_at=MONDAY_10, released_by="wang")
    with engine.connect() as conn:
        before = table_ddl(conn, "handoffs")
    engine.dispose()

    clock = FakeClock(MONDAY_10 + timedelta(minutes=5))
    with open_handoffs(db_url, clock=clock) as q:
        assert [h.id for h in q.list()] == [waiting, taken, released]
        assert q.get(taken).admin == "wang" and q.get(taken).taken_at == MONDAY_10
        assert q.get(waiting).summary == "想找人工 [手机号已隐藏]"
        assert q.is_paused("conv-1") and q.is_paused("conv-2") and not q.is_paused("conv-3")
        again, created = q.request("conv-1", "wx-1", "request_human")      # the partial unique index still holds
        assert (again.id, created) == (waiting, False)
        new, created = q.request("conv-3", "wx-1", "low_confidence")       # the id sequence goes on
        assert created and new.id not in (waiting, taken, released)
        assert _current(q.engine) == _head() == "0004"
        with q.engine.connect() as conn:
            assert table_ddl(conn, "handoffs") == before                   # adopted as it was
        assert _schema_diff(q.engine) == []
    with open_store(db_url) as tickets:                                    # the tickets' tables are there too
        assert tickets.create(Reporter("wx-1"), "noise", "5栋101", "楼上很吵").id.startswith("T-")


def test_fresh_database_gets_the_old_table(db_url: str) -> None:
    engine = make_engine(db_url)
    make_old_handoffs(engine)
    with engine.connect() as conn:
        old = table_ddl(conn, "handoffs")
    with engine.execution_options(ticket_write=True).begin() as conn:
        HANDOFF_METADATA.drop_all(conn)
    engine.dispose()
    with open_handoffs(db_url) as q:
        assert _current(q.engine) == _head()
        with q.engine.connect() as conn:
            assert table_ddl(conn, "handoffs") == old
        assert _schema_diff(q.engine) == []


def test_second_open_is_a_no_op(db_url: str) -> None:
    open_handoffs(db_url).dispose()
    engine = make_engine(db_url)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda _c, _cur, stmt, *_: statements.append(stmt))
    try:
        migrate(engine)
        assert _current(engine) == _head()
    finally:
        engine.dispose()
    assert statements and [s for s in statements if WRITES.match(s)] == []


def test_downgrade_to_0003_drops_only_the_handoffs(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        migrate(engine)
        cfg = _config()
        with engine.execution_options(ticket_write=True).begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0003")
        with engine.connect() as conn:
            assert table_ddl(conn, "handoffs") in ({"sqlite_master": []},
                                                   {"columns": [], "constraints": [], "indexes": []})
            assert conn.execute(text("SELECT count(*) FROM notices")).scalar() == 0
        assert _current(engine) == "0003"
    finally:
        engine.dispose()


def test_concurrent_first_opens(db_url: str) -> None:
    """Handoff queues and ticket stores opening a fresh database at the same moment all succeed."""
    openers = 6
    barrier = threading.Barrier(openers)
    errors: list[BaseException] = []

    def opener(n: int) -> None:
        try:
            barrier.wait(timeout=60)
            with (open_handoffs(db_url) if n % 2 else open_store(db_url)) as s, s.engine.connect() as conn:
                conn.execute(text("SELECT count(*) FROM handoffs")).scalar()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=opener, args=(n,)) for n in range(openers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with open_handoffs(db_url) as q:
        assert _current(q.engine) == _head()
