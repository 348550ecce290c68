"""Learning tables: turns (no text), doubtful questions (redacted), feedback, audit.

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
        "learning_turns",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("sender", sa.String(40), nullable=False),
        sa.Column("route", sa.String(20), nullable=False),
        sa.Column("topic", sa.String(20), nullable=True),
        sa.Column("entry_id", sa.String(120), nullable=True),
        sa.Column("confidence", sa.Float, nullable=True),
        sa.Column("doubt", sa.String(20), nullable=True),
    )
    op.create_index("ix_learning_turns_at", "learning_turns", ["at"])
    op.create_index("ix_learning_turns_entry", "learning_turns", ["entry_id"])
    op.create_table(
        "learning_questions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("sender", sa.String(40), nullable=False),
        sa.Column("text", sa.String(500), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("route", sa.String(20), nullable=False),
        sa.Column("topic", sa.String(20), nullable=True),
        sa.Column("confidence", sa.Float, nullable=True),
        sa.Column("offered", sa.Text, nullable=False, server_default="[]"),
        sa.Column("status", sa.String(20), nullable=False, server_default="open"),
        sa.Column("entry_id", sa.String(120), nullable=True),
        sa.Column("decided_by", sa.String(80), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_learning_questions_status", "learning_questions", ["status"])
    op.create_table(
        "learning_feedback",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("sender", sa.String(40), nullable=False),
        sa.Column("entry_id", sa.String(120), nullable=False),
        sa.Column("helpful", sa.Boolean, nullable=False),
    )
    op.create_index("ix_learning_feedback_entry", "learning_feedback", ["entry_id"])
    op.create_table(
        "learning_audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in ("learning_audit", "learning_feedback", "learning_questions", "learning_turns"):
        op.drop_table(table)
