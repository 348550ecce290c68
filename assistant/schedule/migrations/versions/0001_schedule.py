"""Scheduled posts and their runs, notices and rumours, the activity calendar, quiet-hours
reminders and the group outbox.

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedule_posts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("template", sa.String(40), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("cron", sa.String(100), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=True),
        sa.Column("days", sa.String(20), nullable=False),
        sa.Column("tz", sa.String(60), nullable=False),
        sa.Column("target", sa.String(20), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("checked_until", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "schedule_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("job", sa.String(60), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("job", "due_at", name="uq_schedule_runs_job_due"),
    )
    op.create_table(
        "schedule_notices",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("tags", sa.String(200), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("rumour", sa.Text, nullable=False),
        sa.Column("source", sa.String(300), nullable=False),
        sa.Column("valid_from", sa.DateTime(), nullable=False),
        sa.Column("valid_until", sa.DateTime(), nullable=False),
        sa.Column("removed", sa.Boolean, nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_schedule_notices_valid_until", "schedule_notices", ["valid_until"])
    op.create_table(
        "schedule_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("place", sa.String(200), nullable=False),
        sa.Column("start", sa.DateTime(), nullable=False),
        sa.Column("end", sa.DateTime(), nullable=False),
        sa.Column("signup_id", sa.String(100), nullable=True),
        sa.Column("remind", sa.String(100), nullable=False),
        sa.Column("removed", sa.Boolean, nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_schedule_events_start", "schedule_events", ["start"])
    op.create_table(
        "schedule_quiet_reminders",
        sa.Column("conversation_id", sa.String(200), primary_key=True),
        sa.Column("sender_id", sa.String(200), primary_key=True),
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "schedule_group_outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("platform", sa.String(40), nullable=False),
        sa.Column("conversation_id", sa.String(200), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("job", sa.String(60), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_schedule_group_outbox_pending", "schedule_group_outbox", ["platform", "delivered_at"])


def downgrade() -> None:
    for table in ("schedule_group_outbox", "schedule_quiet_reminders", "schedule_events", "schedule_notices",
                  "schedule_runs", "schedule_posts"):
        op.drop_table(table)
