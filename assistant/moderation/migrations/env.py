"""Alembic environment of the strike store's database: runs on the connection the store passes in
(no alembic.ini). Its own version table, so the strikes may share a database with the desk."""

from __future__ import annotations

from alembic import context

from assistant.moderation.strikes import VERSION_TABLE
from assistant.moderation.strikes_sql import StrikeBase

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - offline/--sql mode is not supported
    raise RuntimeError("the strike migrations run only through assistant.moderation.strikes_sql.migrate()")
context.configure(connection=connection, target_metadata=StrikeBase.metadata, version_table=VERSION_TABLE,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
