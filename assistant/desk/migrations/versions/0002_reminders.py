"""Overdue reminders: one row per ticket and kind, so a reminder is sent once across processes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

UTC_TIME = sa.DateTime(timezone=True)  # schema.UTCDateTime stores these as UTC

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ticket_reminders",
        sa.Column("ticket_id", sa.String(24), sa.ForeignKey("tickets.id"), primary_key=True),
        sa.Column("kind", sa.String(20), primary_key=True),
        sa.Column("due", UTC_TIME, nullable=False),
        sa.Column("sent_at", UTC_TIME, nullable=False),
        sa.CheckConstraint("kind IN ('first_response', 'resolution')", name="ck_ticket_reminders_kind"),
    )


def downgrade() -> None:
    op.drop_table("ticket_reminders")
