"""Strikes per sender and group.

Before this revision the strike store made its table itself (SQLAlchemy metadata). A database that
already has that table keeps it and its rows (adopted as it is; only a missing index is added);
elsewhere the table is created with the same schema.

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TABLE = "moderation_strikes"


def _columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("conversation_id", sa.String(200), nullable=False),
        sa.Column("sender_id", sa.String(200), nullable=False),
        sa.Column("rule_id", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),            # naive UTC
        sa.Column("expires_at", sa.DateTime(), nullable=False),
    ]


def _create_indexes(existing: set[str]) -> None:
    if "ix_moderation_strikes_who" not in existing:
        op.create_index("ix_moderation_strikes_who", TABLE, ["conversation_id", "sender_id"])
    if "ix_moderation_strikes_expires_at" not in existing:
        op.create_index("ix_moderation_strikes_expires_at", TABLE, ["expires_at"])


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if not inspector.has_table(TABLE):
        op.create_table(TABLE, *_columns())
        _create_indexes(set())
        return
    # made by the store itself before this revision: keep it and its rows
    have = {c["name"] for c in inspector.get_columns(TABLE)}
    missing = [c.name for c in _columns() if c.name not in have]
    if missing:
        raise RuntimeError(f"table {TABLE} exists without column(s) {', '.join(missing)}; "
                           "it was not made by the strike store")
    _create_indexes({ix["name"] for ix in inspector.get_indexes(TABLE) if ix["name"]})


def downgrade() -> None:
    op.drop_index("ix_moderation_strikes_expires_at", table_name=TABLE)
    op.drop_index("ix_moderation_strikes_who", table_name=TABLE)
    op.drop_table(TABLE)
