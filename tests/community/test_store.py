"""The community tables under their own Alembic migrations and version table, beside the desk's
tables in the same database (SQLite and PostgreSQL): the migrated schema is the models', a second
open changes nothing, concurrent first opens all succeed."""

from __future__ import annotations

import threading

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from assistant.community.service import open_community
from assistant.community.store import VERSION_TABLE
from assistant.community.tables import CommunityBase
from assistant.desk.tickets.store import open_store


def test_migrations_make_the_models_schema_beside_the_desk(db_url: str) -> None:
    desk = open_store(db_url)
    try:
        errors: list[BaseException] = []

        def opener() -> None:
            try:
                open_community(db_url).close()
            except BaseException as exc:        # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=opener) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors
        c = open_community(db_url)
        try:
            with c.engine.connect() as conn:
                ours = {"version_table": VERSION_TABLE,          # the desk's tables are not compared
                        "include_name": lambda name, kind, _p: kind != "table" or name.startswith("community_")}
                ctx = MigrationContext.configure(conn, opts=ours)
                assert ctx.get_current_revision() == "0001"
                diff = compare_metadata(ctx, CommunityBase.metadata)
            assert diff == []
        finally:
            c.close()
        names = set(inspect(desk.engine).get_table_names())
        assert {"tickets", VERSION_TABLE, "tickets_alembic_version", "community_signups"} <= names
    finally:
        desk.dispose()
    create_engine(db_url).dispose()
