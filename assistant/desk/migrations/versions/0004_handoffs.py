"""The handoff queue, now under the desk's migrations.

Before this revision the handoff store made its table itself (SQLAlchemy metadata) when it opened.
A database that already has that table keeps it and its rows (adopted as it is; only a missing index
is added); elsewhere the table is created with the same schema.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

UTC_TIME = sa.DateTime(timezone=True)  # schema.UTCDateTime stores these as UTC

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

REASONS = ("request_human", "low_confidence", "abusive", "sensitive_category")
STATES = ("waiting", "taken", "released", "expired")
OPEN = ("waiting", "taken")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(24), unique=True),
        sa.Column("conversation_id", sa.String(128), nullable=False),
        sa.Column("resident_id", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(24), nullable=False),
        sa.Column("summary", sa.String(500), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("admin", sa.String(64)),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.Column("taken_at", UTC_TIME),
        sa.Column("released_at", UTC_TIME),
        sa.Column("released_by", sa.String(64)),
        sa.Column("expired_at", UTC_TIME),
    ]


def _create_indexes(existing: set[str]) -> None:
    if "ux_handoffs_open_conversation" not in existing:
        # one open handoff per conversation: the database refuses a second
        op.create_index("ux_handoffs_open_conversation", "handoffs", ["conversation_id"], unique=True,
                        sqlite_where=sa.text(_in("state", OPEN)), postgresql_where=sa.text(_in("state", OPEN)))
    if "ix_handoffs_state_created" not in existing:
        op.create_index("ix_handoffs_state_created", "handoffs", ["state", "created_at"])


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if not inspector.has_table("handoffs"):
        op.create_table(
            "handoffs",
            *_columns(),
            sa.CheckConstraint(_in("reason", REASONS), name="ck_handoffs_reason"),
            sa.CheckConstraint(_in("state", STATES), name="ck_handoffs_state"),
            sqlite_autoincrement=True,
        )
        _create_indexes(set())
        return
    # made by the store itself before this revision: keep it and its rows
    have = {c["name"] for c in inspector.get_columns("handoffs")}
    missing = [c.name for c in _columns() if c.name not in have]
    if missing:
        raise RuntimeError(f"table handoffs exists without column(s) {', '.join(missing)}; "
                           "it was not made by the handoff store")
    _create_indexes({ix["name"] for ix in inspector.get_indexes("handoffs") if ix["name"]})


def downgrade() -> None:
    op.drop_index("ix_handoffs_state_created", table_name="handoffs")
    op.drop_index("ux_handoffs_open_conversation", table_name="handoffs")
    op.drop_table("handoffs")
