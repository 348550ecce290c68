"""Anonymous suggestions (匿名建议): stored so that even a reader of the database cannot link one
back to its sender.

- The row holds a random id, the text (personal numbers redacted) and the day, never the sender,
  the conversation or a time finer than the day.
- No order leaks who sent it: the ids are random, the table keeps rows in id order (SQLite
  ``WITHOUT ROWID``), and every insert rewrites that day's rows in random order (PostgreSQL's heap
  then holds them shuffled too; writers take turns under an advisory lock); lists are ordered by day
  and id.
- Abuse limit: at most ``daily_limit`` suggestions per sender per day, counted under
  ``HMAC-SHA256(day key, sender)``. The day key is random, kept in a file outside the database
  (``models/community_feedback.key``, mode 0600) and replaced when the day changes (Beijing time), so
  yesterday's counts cannot be linked to anyone even with the file; past days' counts are deleted.
  A database reader without the key file sees only that some sender sent N today.
"""

from __future__ import annotations

import builtins
import datetime as dt
import hashlib
import hmac
import json
import os
import random
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, select, text
from sqlalchemy.exc import IntegrityError

from assistant.community.errors import BadInput, Refused
from assistant.community.store import Tables
from assistant.community.tables import FeedbackQuotaRow, FeedbackRow
from assistant.community.when import TZ
from assistant.moderation.pii import redact_text

MIN_CHARS, MAX_CHARS = 4, 1000
DEFAULT_LIMIT = 3
_PG_FEEDBACK_LOCK = 0x66656564     # advisory lock while a day's suggestions are rewritten ("feed")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Feedback:
    id: str
    day: dt.date
    text: str
    handled: bool


class DayKey:
    """The rate limit's key for today, in a file (mode 0600) replaced when the day changes."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._memory: tuple[str, bytes] | None = None
        self._lock = threading.Lock()

    def get(self, day: dt.date) -> bytes:
        with self._lock:
            if self.path is None:
                if self._memory is None or self._memory[0] != day.isoformat():
                    self._memory = (day.isoformat(), secrets.token_bytes(32))
                return self._memory[1]
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                if data.get("day") == day.isoformat():
                    return bytes.fromhex(data["key"])
            except (OSError, ValueError, KeyError, AttributeError):
                pass
            key = secrets.token_bytes(32)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"day": day.isoformat(), "key": key.hex()}, f)
            os.replace(tmp, self.path)
            return key


class FeedbackBox:
    def __init__(self, tables: Tables, key_file: Path | None = None, *, daily_limit: int = DEFAULT_LIMIT,
                 clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.tables = tables
        self.key = DayKey(key_file)
        self.daily_limit = daily_limit
        self.clock = clock

    def today(self) -> dt.date:
        return self.clock().astimezone(TZ).date()

    def submit(self, sender_key: str, text: str) -> Feedback:
        """Store a suggestion from ``sender_key`` (used only for the keyed-hash count)."""
        body = redact_text((text or "").strip())
        if len(body) < MIN_CHARS:
            raise BadInput("text", f"建议内容太短了（至少 {MIN_CHARS} 个字），"
                                   "例如：匿名建议 希望晚上十点后地库照明保留一半")
        if len(body) > MAX_CHARS:
            raise BadInput("text", f"建议内容太长了（最多 {MAX_CHARS} 字）")
        day = self.today()
        digest = hmac.new(self.key.get(day), sender_key.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
        item = Feedback(secrets.token_hex(16), day, body, False)
        for attempt in range(3):
            try:
                self._store(item, digest)
                return item
            except IntegrityError:      # PostgreSQL: the same sender's first two at once; count again
                if attempt == 2:
                    raise
        return item

    def _store(self, item: Feedback, digest: str) -> None:
        day = item.day
        with self.tables.write() as s:
            if self.tables.dialect == "postgresql":     # the day is rewritten: one writer at a time
                s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_FEEDBACK_LOCK})
            s.execute(delete(FeedbackQuotaRow).where(FeedbackQuotaRow.day < day))
            quota = s.get(FeedbackQuotaRow, (day, digest), with_for_update=True)
            if quota is not None and quota.count >= self.daily_limit:
                raise Refused(f"今天的匿名建议已达 {self.daily_limit} 条上限，明天再来吧")
            if quota is None:
                s.add(FeedbackQuotaRow(day=day, digest=digest, count=1))
            else:
                quota.count += 1
            # the day's rows, this one among them, written again in random order
            rows = [(r.id, r.text, r.handled) for r in s.scalars(select(FeedbackRow).where(FeedbackRow.day == day))]
            rows.append((item.id, item.text, False))
            random.SystemRandom().shuffle(rows)
            s.execute(delete(FeedbackRow).where(FeedbackRow.day == day))
            s.flush()
            for fid, body_, handled in rows:
                s.add(FeedbackRow(id=fid, day=day, text=body_, handled=handled))

    def list(self, limit: int = 500, include_handled: bool = True) -> builtins.list[Feedback]:
        q = select(FeedbackRow).order_by(FeedbackRow.day.desc(), FeedbackRow.id).limit(limit)
        if not include_handled:
            q = q.where(FeedbackRow.handled.is_(False))
        with self.tables.read() as s:
            return [Feedback(r.id, r.day, r.text, r.handled) for r in s.scalars(q)]

    def mark_handled(self, feedback_id: str, handled: bool = True) -> None:
        from assistant.community.errors import NotFound

        with self.tables.write() as s:
            row = s.get(FeedbackRow, feedback_id)
            if row is None:
                raise NotFound(f"没有编号为 {feedback_id[:40]} 的建议")
            row.handled = handled
