"""Tables as the stores made them before they were under Alembic, for the migration tests.

Frozen copies of the SQLAlchemy tables the handoff queue and the strike store created with
``metadata.create_all`` when they opened (the code on branch ``layout``); do not update them when the
models change: they stand for databases that exist today. Also a snapshot of a table's DDL, to
compare a migrated table with a table made the old way.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import CheckConstraint, Column, DateTime, Index, Integer, MetaData, String, Table, text
from sqlalchemy.engine import Connection, Engine

from assistant.desk.tickets.schema import UTCDateTime


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


_OPEN = ("waiting", "taken")

HANDOFF_METADATA = MetaData()
HANDOFFS = Table(
    "handoffs", HANDOFF_METADATA,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(24), unique=True),
    Column("conversation_id", String(128), nullable=False),
    Column("resident_id", String(64), nullable=False),
    Column("reason", String(24), nullable=False),
    Column("summary", String(500), nullable=False),
    Column("state", String(10), nullable=False),
    Column("admin", String(64)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("taken_at", UTCDateTime),
    Column("released_at", UTCDateTime),
    Column("released_by", String(64)),
    Column("expired_at", UTCDateTime),
    CheckConstraint(_in("reason", ("request_human", "low_confidence", "abusive", "sensitive_category")),
                    name="ck_handoffs_reason"),
    CheckConstraint(_in("state", ("waiting", "taken", "released", "expired")), name="ck_handoffs_state"),
    Index("ux_handoffs_open_conversation", "conversation_id", unique=True,
          sqlite_where=text(_in("state", _OPEN)), postgresql_where=text(_in("state", _OPEN))),
    Index("ix_handoffs_state_created", "state", "created_at"),
    sqlite_autoincrement=True,
)

STRIKE_METADATA = MetaData()
STRIKES = Table(
    "moderation_strikes", STRIKE_METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String(200), nullable=False),
    Column("sender_id", String(200), nullable=False),
    Column("rule_id", String(64), nullable=False),
    Column("at", DateTime(), nullable=False),
    Column("expires_at", DateTime(), nullable=False, index=True),
    Index("ix_moderation_strikes_who", "conversation_id", "sender_id"),
)


def make_old_handoffs(engine: Engine) -> None:
    """What opening the handoff queue did before: create_all under the write lock."""
    with engine.execution_options(ticket_write=True).begin() as conn:
        HANDOFF_METADATA.create_all(conn)


def make_old_strikes(engine: Engine) -> None:
    """What opening the strike store did before."""
    STRIKE_METADATA.create_all(engine)


def table_ddl(conn: Connection, table: str) -> dict[str, Any]:
    """The table's definition as the database reports it: on SQLite the stored CREATE statements, on
    PostgreSQL its columns, constraints and index definitions."""
    if conn.dialect.name == "sqlite":
        rows = conn.execute(text("SELECT type, name, sql FROM sqlite_master WHERE tbl_name = :t ORDER BY name"),
                            {"t": table}).all()
        return {"sqlite_master": [tuple(r) for r in rows]}
    columns = conn.execute(text(
        "SELECT column_name, data_type, character_maximum_length, is_nullable, column_default "
        "FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = :t "
        "ORDER BY ordinal_position"), {"t": table}).all()
    constraints = conn.execute(text(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = to_regclass(:t) "
        "ORDER BY conname"), {"t": table}).all()
    indexes = conn.execute(text(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = :t "
        "ORDER BY indexname"), {"t": table}).all()
    return {"columns": [tuple(r) for r in columns], "constraints": [tuple(r) for r in constraints],
            "indexes": [tuple(r) for r in indexes]}
