"""Alembic environment of the learning tables (``assistant.db.run_env``): own version table, so the
tables may share the desk's database."""

from __future__ import annotations

from assistant.db import run_env
from assistant.learning.store import VERSION_TABLE, LearningBase

run_env(LearningBase.metadata, VERSION_TABLE, "assistant.learning.store.migrate()")
