"""Alembic environment of the strike store (``assistant.db.run_env``): own version table, so the strikes
may share a database with the desk."""

from __future__ import annotations

from assistant.db import run_env
from assistant.moderation.strikes import VERSION_TABLE
from assistant.moderation.strikes_sql import StrikeBase

run_env(StrikeBase.metadata, VERSION_TABLE, "assistant.moderation.strikes_sql.migrate()")
