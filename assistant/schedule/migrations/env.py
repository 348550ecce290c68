"""Alembic environment of the schedule's tables (``assistant.db.run_env``): own version table, so the
schedule may share a database with the desk."""

from __future__ import annotations

from assistant.db import run_env
from assistant.schedule.schema import ScheduleBase
from assistant.schedule.store import VERSION_TABLE

run_env(ScheduleBase.metadata, VERSION_TABLE, "assistant.schedule.store.migrate()")
