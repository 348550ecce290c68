"""Alembic environment of the schedule's tables: runs on the connection ``store.migrate`` passes in
(no alembic.ini). Its own version table, so the schedule may share a database with the desk."""

from __future__ import annotations

from alembic import context

from assistant.schedule.schema import ScheduleBase
from assistant.schedule.store import VERSION_TABLE

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - offline/--sql mode is not supported
    raise RuntimeError("the schedule migrations run only through assistant.schedule.store.migrate()")
context.configure(connection=connection, target_metadata=ScheduleBase.metadata, version_table=VERSION_TABLE,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
