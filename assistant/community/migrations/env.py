"""Alembic environment of the community tables: runs on the connection ``store.migrate`` passes in
(no alembic.ini). Its own version table, so the tables may share the desk's database."""

from __future__ import annotations

from alembic import context

from assistant.community.store import VERSION_TABLE
from assistant.community.tables import CommunityBase

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - offline/--sql mode is not supported
    raise RuntimeError("the community migrations run only through assistant.community.store.migrate()")
context.configure(connection=connection, target_metadata=CommunityBase.metadata, version_table=VERSION_TABLE,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
