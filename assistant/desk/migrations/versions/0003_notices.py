"""The resident outbox: texts Rasa returned for a channel it cannot push to, until a gateway delivers them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

UTC_TIME = sa.DateTime(timezone=True)  # schema.UTCDateTime stores these as UTC

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("conversation_id", sa.String(128), nullable=False),
        sa.Column("text", sa.String(2000), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("ticket_id", sa.String(24)),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("delivered_at", UTC_TIME),
        sa.CheckConstraint("kind IN ('csat', 'handoff_timeout', 'other')", name="ck_notices_kind"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_notices_pending", "notices", ["conversation_id", "id"],
                    sqlite_where=sa.text("delivered_at IS NULL"), postgresql_where=sa.text("delivered_at IS NULL"))


def downgrade() -> None:
    op.drop_index("ix_notices_pending", table_name="notices")
    op.drop_table("notices")
