"""Alembic environment of the desk database (tickets, reminders, notices, handoffs): ``assistant.db.run_env``."""

from __future__ import annotations

from assistant.db import run_env
from assistant.desk.handoff.queue import Base as HandoffBase
from assistant.desk.tickets.schema import Base as TicketBase

VERSION_TABLE = "tickets_alembic_version"      # the name predates the handoff tables; kept for existing databases

run_env([TicketBase.metadata, HandoffBase.metadata], VERSION_TABLE, "assistant.desk.tickets.store.migrate()")
