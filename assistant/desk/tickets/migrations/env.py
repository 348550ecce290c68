"""Alembic environment: runs on the connection the ticket store passes in (no alembic.ini)."""

from __future__ import annotations

from alembic import context

from assistant.desk.tickets.schema import Base

VERSION_TABLE = "tickets_alembic_version"

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - offline/--sql mode is not supported
    raise RuntimeError("the ticket migrations run only through assistant.desk.tickets.store.migrate()")
context.configure(connection=connection, target_metadata=Base.metadata, version_table=VERSION_TABLE,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
