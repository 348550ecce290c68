"""Alembic environment of the WeCom channel's tables (``assistant.db.run_env``): own version table, so
the tables may share the desk's database."""

from __future__ import annotations

from assistant.channels.wecom.store import VERSION_TABLE, WeComBase
from assistant.db import run_env

run_env(WeComBase.metadata, VERSION_TABLE, "assistant.channels.wecom.store.migrate()")
