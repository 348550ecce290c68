"""Sign-ups, surveys, anonymous feedback, the mutual-help list, emergency contacts.

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

NO_ROWID = {"sqlite_with_rowid": False}     # SQLite keeps these rows in key order, not insertion order


def upgrade() -> None:
    op.create_table(
        "community_signups",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("conversation_id", sa.String(200), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("capacity", sa.Integer, nullable=True),
        sa.Column("deadline", sa.DateTime(), nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_community_signups_conversation_id", "community_signups", ["conversation_id"])
    op.create_table(
        "community_signup_entries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("signup_id", sa.Integer, sa.ForeignKey("community_signups.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("unit", sa.String(20), nullable=False),
        sa.Column("sender_id", sa.String(200), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("joined_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("signup_id", "unit", name="uq_community_signup_unit"),
    )
    op.create_index("ix_community_signup_entries_signup_id", "community_signup_entries", ["signup_id"])
    op.create_table(
        "community_surveys",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("anonymous", sa.Boolean, nullable=False),
        sa.Column("questions", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
    )
    op.create_table(
        "community_survey_respondents",
        sa.Column("survey_id", sa.Integer, sa.ForeignKey("community_surveys.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("unit", sa.String(20), primary_key=True),
        **NO_ROWID,
    )
    op.create_table(
        "community_survey_responses",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("survey_id", sa.Integer, sa.ForeignKey("community_surveys.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("unit", sa.String(20), nullable=True),
        sa.Column("answers", sa.Text, nullable=False),
        **NO_ROWID,
    )
    op.create_index("ix_community_survey_responses_survey_id", "community_survey_responses", ["survey_id"])
    op.create_table(
        "community_survey_sessions",
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("survey_id", sa.Integer, sa.ForeignKey("community_surveys.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("unit", sa.String(20), nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("answers", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "community_feedback",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("handled", sa.Boolean, nullable=False),
        **NO_ROWID,
    )
    op.create_index("ix_community_feedback_day", "community_feedback", ["day"])
    op.create_table(
        "community_feedback_quota",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("count", sa.Integer, nullable=False),
    )
    op.create_table(
        "community_help",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("category", sa.String(20), nullable=False),
        sa.Column("unit", sa.String(20), nullable=False),
        sa.Column("sender_id", sa.String(200), nullable=False),
        sa.Column("text", sa.String(500), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
    )
    op.create_index("ix_community_help_match", "community_help", ["category", "kind", "active"])
    op.create_table(
        "community_emergency_contacts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("unit", sa.String(20), nullable=False),
        sa.Column("resident", sa.String(50), nullable=False),
        sa.Column("contact_name", sa.String(50), nullable=False),
        sa.Column("relation", sa.String(20), nullable=False),
        sa.Column("phone", sa.String(30), nullable=False),
        sa.Column("consent_text", sa.String(500), nullable=False),
        sa.Column("consent_at", sa.DateTime(), nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
    )
    op.create_index("ix_community_emergency_contacts_unit", "community_emergency_contacts", ["unit"])


def downgrade() -> None:
    for table in ("community_emergency_contacts", "community_help", "community_feedback_quota",
                  "community_feedback", "community_survey_sessions", "community_survey_responses",
                  "community_survey_respondents", "community_surveys", "community_signup_entries",
                  "community_signups"):
        op.drop_table(table)
