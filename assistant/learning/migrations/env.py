"""Alembic environment of the learning tables: runs on the connection the store passes in (no
alembic.ini). Its own version table, so the tables may share the desk's database."""

from __future__ import annotations

from alembic import context

from assistant.learning.store import VERSION_TABLE, LearningBase

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - offline/--sql mode is not supported
    raise RuntimeError("the learning migrations run only through assistant.learning.store.migrate()")
context.configure(connection=connection, target_metadata=LearningBase.metadata, version_table=VERSION_TABLE,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
