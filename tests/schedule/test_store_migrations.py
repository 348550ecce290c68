"""The schedule's tables under their own Alembic version table, beside the desk's, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from assistant.schedule.schema import ScheduleBase
from assistant.schedule.store import VERSION_TABLE, open_schedule


def test_migrations_match_the_models_and_share_the_desks_database(schedule_url: str) -> None:
    from assistant.desk.tickets.store import open_store

    tickets = open_store(schedule_url)                 # the desk's tables and version table first
    store = open_schedule(schedule_url)
    again = open_schedule(schedule_url)                # opening again is a no-op
    try:
        with store.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
            # the desk's tables are not in this metadata (reported as removed): only ours must match
            diff = [d for d in compare_metadata(ctx, ScheduleBase.metadata) if "schedule_" in repr(d)]
            names = set(inspect(conn).get_table_names())
        assert diff == []
        assert {VERSION_TABLE, "tickets", "schedule_posts", "schedule_runs", "schedule_group_outbox"} <= names
    finally:
        again.close()
        store.close()
        tickets.dispose()
