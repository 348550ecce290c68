"""Tickets and their append-only audit trail.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

UTC_TIME = sa.DateTime(timezone=True)  # schema.UTCDateTime stores these as UTC

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

CATEGORIES = ("noise", "pets", "parking", "service", "fees", "neighbour", "cleaning", "safety",
              "renovation", "other")
PRIORITIES = ("low", "normal", "high", "urgent")
STATUSES = ("open", "assigned", "in_progress", "waiting_resident", "resolved", "closed")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        "tickets",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(24), unique=True),
        sa.Column("category", sa.String(20), nullable=False),
        sa.Column("unit", sa.String(40)),
        sa.Column("other_party_unit", sa.String(40)),
        sa.Column("description", sa.String(2000), nullable=False),
        sa.Column("reporter_id", sa.String(64), nullable=False),
        sa.Column("reporter_name", sa.String(64), nullable=False),
        sa.Column("priority", sa.String(10), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("assignee", sa.String(64)),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.Column("first_response_due", UTC_TIME, nullable=False),
        sa.Column("resolution_due", UTC_TIME, nullable=False),
        sa.Column("first_response_at", UTC_TIME),
        sa.Column("resolved_at", UTC_TIME),
        sa.Column("closed_at", UTC_TIME),
        sa.Column("paused_at", UTC_TIME),
        sa.Column("satisfaction", sa.Integer),
        sa.Column("satisfaction_comment", sa.String(500)),
        sa.CheckConstraint(_in("category", CATEGORIES), name="ck_tickets_category"),
        sa.CheckConstraint(_in("priority", PRIORITIES), name="ck_tickets_priority"),
        sa.CheckConstraint(_in("status", STATUSES), name="ck_tickets_status"),
        sa.CheckConstraint("satisfaction IS NULL OR satisfaction BETWEEN 1 AND 5", name="ck_tickets_satisfaction"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_tickets_status", "tickets", ["status"])
    op.create_index("ix_tickets_dedup", "tickets", ["reporter_id", "category", "created_at"])
    op.create_index("ix_tickets_unit", "tickets", ["unit"])
    op.create_index("ix_tickets_assignee", "tickets", ["assignee"])

    op.create_table(
        "ticket_events",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ticket_id", sa.String(24), sa.ForeignKey("tickets.id"), nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("from_status", sa.String(20)),
        sa.Column("to_status", sa.String(20)),
        sa.Column("comment", sa.String(2000)),
        sa.Column("value", sa.String(64)),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_ticket_events_ticket", "ticket_events", ["ticket_id", "seq"])

    # The audit trail is append-only in the database too, not only in the store's code.
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER ticket_events_no_{verb.lower()} BEFORE {verb} ON ticket_events "
                       "BEGIN SELECT RAISE(ABORT, 'ticket_events is append-only'); END")
    elif op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE FUNCTION ticket_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
                   "BEGIN RAISE EXCEPTION 'ticket_events is append-only'; END $$")
        op.execute("CREATE TRIGGER ticket_events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
                   "ON ticket_events FOR EACH STATEMENT EXECUTE FUNCTION ticket_events_append_only()")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS ticket_events_append_only ON ticket_events")
        op.execute("DROP FUNCTION IF EXISTS ticket_events_append_only()")
    op.drop_table("ticket_events")
    op.drop_table("tickets")
