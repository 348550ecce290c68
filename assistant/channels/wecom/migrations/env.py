"""Alembic environment of the WeCom channel's tables: runs on the connection the store passes in
(no alembic.ini). Its own version table, so the tables may share the desk's database."""

from __future__ import annotations

from alembic import context

from assistant.channels.wecom.store import VERSION_TABLE, WeComBase

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - offline/--sql mode is not supported
    raise RuntimeError("the WeCom migrations run only through assistant.channels.wecom.store.migrate()")
context.configure(connection=connection, target_metadata=WeComBase.metadata, version_table=VERSION_TABLE,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
