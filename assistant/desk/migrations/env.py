"""Alembic environment of the desk database (tickets, reminders, notices, handoffs): runs on the
connection the desk stores pass in (no alembic.ini)."""

from __future__ import annotations

from alembic import context

from assistant.desk.handoff.queue import Base as HandoffBase
from assistant.desk.tickets.schema import Base as TicketBase

VERSION_TABLE = "tickets_alembic_version"      # the name predates the handoff tables; kept for existing databases
METADATA = [TicketBase.metadata, HandoffBase.metadata]

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - offline/--sql mode is not supported
    raise RuntimeError("the desk migrations run only through assistant.desk.tickets.store.migrate()")
context.configure(connection=connection, target_metadata=METADATA, version_table=VERSION_TABLE,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
