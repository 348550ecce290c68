"""Alembic environment of the community tables (``assistant.db.run_env``): own version table, so the
tables may share the desk's database."""

from __future__ import annotations

from assistant.community.store import VERSION_TABLE
from assistant.community.tables import CommunityBase
from assistant.db import run_env

run_env(CommunityBase.metadata, VERSION_TABLE, "assistant.community.store.migrate()")
