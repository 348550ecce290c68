"""What every SQL seam shares: the engine factory, URL-safe messages, and Alembic to head under a lock.

SQLite runs in WAL mode with foreign keys on, a busy timeout and the chosen ``synchronous``; a
connection with the ``ticket_write`` execution option takes the write lock up front (``BEGIN
IMMEDIATE``) so concurrent writers queue instead of failing. Each seam keeps its own migrations
folder, version table and advisory lock key; ``migrate`` runs them, ``run_env`` is their env.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.pool import StaticPool

from assistant.errors import AssistantError

WRITE = "ticket_write"      # execution option: this connection writes (SQLite: BEGIN IMMEDIATE)


class DatabaseUnavailable(AssistantError):
    """The database URL is unreadable or has no driver."""


def safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<invalid URL>"


def error_line(exc: OperationalError) -> str:
    """The first line of the database driver's message (no SQL, no parameters): for errors that name the URL."""
    return (str(exc.orig) if exc.orig is not None else str(exc)).strip().splitlines()[0]


def make_engine(url: str, *, busy_timeout: float = 30.0, synchronous: str = "FULL") -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys, the busy timeout and explicit BEGINs."""
    try:
        u = make_url(url)
    except ArgumentError:
        raise DatabaseUnavailable(f"not a database URL: {url!r}") from None
    if u.get_backend_name() == "sqlite":
        memory = u.database in (None, "", ":memory:")
        if u.database and not memory:
            Path(u.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(u, connect_args={"timeout": busy_timeout, "check_same_thread": False},
                               **({"poolclass": StaticPool} if memory else {}))

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None          # SQLAlchemy's BEGIN below, not the driver's
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            if not memory:
                cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA foreign_keys = ON")
            cur.execute(f"PRAGMA synchronous = {synchronous}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            write = conn.get_execution_options().get(WRITE)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine
    try:
        return create_engine(u, pool_pre_ping=True)
    except (NoSuchModuleError, ImportError) as exc:
        raise DatabaseUnavailable(f"no driver for {safe_url(url)}: {exc}") from None


def _locked(exc: BaseException) -> bool:
    # Several processes opening a brand-new SQLite file at once can see "database is locked" before
    # the busy timeout applies (e.g. while one switches it to WAL).
    return isinstance(exc, OperationalError) and "locked" in str(exc)


def migrate(engine: Engine, script_location: str | Path, lock_id: int) -> None:
    """Upgrade the migrations in ``script_location`` to head in one transaction, concurrent openers
    waiting their turn: SQLite takes the write lock up front, PostgreSQL the advisory lock ``lock_id``.
    "database is locked" is tried again, 5 attempts in all (0.2 s back-off, doubling)."""
    from alembic import command
    from alembic.config import Config
    from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    for attempt in Retrying(stop=stop_after_attempt(5), wait=wait_exponential(multiplier=0.2),
                            retry=retry_if_exception(_locked), reraise=True):
        with attempt, engine.execution_options(**{WRITE: True}).connect() as conn:
            raw = conn.connection.dbapi_connection
            if conn.dialect.name == "sqlite" and getattr(raw, "isolation_level", None) is not None:
                conn.exec_driver_sql("BEGIN IMMEDIATE")     # an engine left to the driver's transactions
            else:
                conn.begin()                                # make_engine's: BEGIN IMMEDIATE on SQLite
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({int(lock_id)})")
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            conn.commit()


def open_engine(url: str, script_location: str | Path, lock_id: int, *,
                unavailable: Callable[[str], Exception] = DatabaseUnavailable, busy_timeout: float = 30.0,
                synchronous: str = "FULL") -> Engine:
    """``make_engine(url)`` migrated to head; ``unavailable(message)`` is raised (the engine disposed) for a
    bad URL or a database that cannot be opened."""
    try:
        engine = make_engine(url, busy_timeout=busy_timeout, synchronous=synchronous)
    except DatabaseUnavailable as exc:
        raise unavailable(str(exc)) from None
    try:
        migrate(engine, script_location, lock_id)
    except OperationalError as exc:
        engine.dispose()
        raise unavailable(f"cannot open {safe_url(url)}: {error_line(exc)}") from None
    except BaseException:
        engine.dispose()
        raise
    return engine


def run_env(metadata: MetaData | list[MetaData], version_table: str, runner: str) -> None:
    """The body of a seam's migrations/env.py: run on the connection ``migrate`` passed in (no alembic.ini),
    with the seam's own version table, so several seams may share one database."""
    from alembic import context

    connection: Connection | None = context.config.attributes.get("connection")
    if connection is None:  # pragma: no cover - offline/--sql mode is not supported
        raise RuntimeError(f"these migrations run only through {runner}")
    context.configure(connection=connection, target_metadata=metadata, version_table=version_table,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()
