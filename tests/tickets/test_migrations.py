"""The desk's packaged Alembic migrations: one head, schema equal to the models (tickets and handoffs), SQLite
settings, skip reasons."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from assistant.desk.handoff.queue import Base as HandoffBase
from assistant.desk.tickets.schema import Base
from assistant.desk.tickets.store import MIGRATIONS, SQLTicketStore, open_store

from ..pg import problem_for as _pg_problem
from .conftest import test_sla


def test_single_head() -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(cfg).get_heads() == ["0004"]


def test_migrated_schema_matches_models(store: SQLTicketStore) -> None:
    with store.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"version_table": "tickets_alembic_version"})
        assert compare_metadata(ctx, [Base.metadata, HandoffBase.metadata]) == []  # type: ignore[arg-type]


def test_sqlite_settings(tmp_path) -> None:  # noqa: ANN001
    with open_store(f"sqlite:///{tmp_path / 'sub' / 'dir' / 't.db'}", sla=test_sla(), busy_timeout=7) as store:
        with store.engine.connect() as conn:
            pragma = lambda name: conn.execute(text(f"PRAGMA {name}")).scalar()  # noqa: E731
            assert pragma("journal_mode") == "wal"
            assert pragma("foreign_keys") == 1
            assert pragma("busy_timeout") == 7000
            assert pragma("synchronous") == 2          # FULL


def test_in_memory_sqlite_works() -> None:
    with open_store("sqlite://", sla=test_sla()) as store:
        t = store.create("r", "other", None, "x")
        assert store.get(t.id).description == "x"


def test_pg_skip_reason_names_host_and_port() -> None:
    reason = _pg_problem("postgresql+psycopg://postgres@127.0.0.1:1/test")
    assert reason is not None and "127.0.0.1:1" in reason
