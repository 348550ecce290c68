"""Strikes (rule violations) per sender and group, with expiry: in memory or in SQL.

A strike records who, where, which rule and when; never the message. The SQL store lives in
``strikes_sql`` (SQLAlchemy is imported only when it is used: the web chat's channel in the Rasa
environment moderates with the memory store). Its table is made by the store's own Alembic
migrations (``migrations/``, version table ``strikes_alembic_version``), run to head when the
store opens; revision 0001 adopts the table that older versions made themselves.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

UTC = dt.timezone.utc
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "strikes_alembic_version"


def utc(t: dt.datetime) -> dt.datetime:
    """Aware UTC; naive times are taken as UTC."""
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


@dataclass(frozen=True)
class Strike:
    conversation_id: str
    sender_id: str
    rule_id: str
    at: dt.datetime
    expires_at: dt.datetime


@runtime_checkable
class StrikeStore(Protocol):
    def add(self, strike: Strike) -> None: ...

    def active(self, conversation_id: str, sender_id: str, now: dt.datetime) -> list[Strike]:
        """Unexpired strikes, oldest first."""
        ...

    def clear(self, conversation_id: str, sender_id: str) -> int:
        """Remove every strike of the sender in the group (a pardon); how many were removed."""
        ...

    def purge_expired(self, now: dt.datetime) -> int: ...


class MemoryStrikeStore:
    def __init__(self) -> None:
        self._by_key: dict[tuple[str, str], list[Strike]] = {}
        self._lock = threading.Lock()

    def add(self, strike: Strike) -> None:
        s = Strike(strike.conversation_id, strike.sender_id, strike.rule_id, utc(strike.at),
                   utc(strike.expires_at))
        with self._lock:
            self._by_key.setdefault((s.conversation_id, s.sender_id), []).append(s)

    def active(self, conversation_id: str, sender_id: str, now: dt.datetime) -> list[Strike]:
        now = utc(now)
        with self._lock:
            found = [s for s in self._by_key.get((conversation_id, sender_id), []) if s.expires_at > now]
        return sorted(found, key=lambda s: s.at)

    def clear(self, conversation_id: str, sender_id: str) -> int:
        with self._lock:
            return len(self._by_key.pop((conversation_id, sender_id), []))

    def purge_expired(self, now: dt.datetime) -> int:
        now = utc(now)
        removed = 0
        with self._lock:
            for key in list(self._by_key):
                keep = [s for s in self._by_key[key] if s.expires_at > now]
                removed += len(self._by_key[key]) - len(keep)
                if keep:
                    self._by_key[key] = keep
                else:
                    del self._by_key[key]
        return removed


__all__ = ["MIGRATIONS", "VERSION_TABLE", "MemoryStrikeStore", "Strike", "StrikeStore",
           "utc"]
