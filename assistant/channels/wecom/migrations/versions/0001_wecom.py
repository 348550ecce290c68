"""The WeCom channel's memory: the 微信客服 sync cursor per account, and every message id seen.

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
        "wecom_cursors",
        sa.Column("open_kfid", sa.String(64), primary_key=True),
        sa.Column("cursor", sa.String(512), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False))
    op.create_table(
        "wecom_messages",
        sa.Column("msgid", sa.String(160), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False))
    op.create_index("ix_wecom_messages_at", "wecom_messages", ["at"])


def downgrade() -> None:
    op.drop_index("ix_wecom_messages_at", table_name="wecom_messages")
    op.drop_table("wecom_messages")
    op.drop_table("wecom_cursors")
