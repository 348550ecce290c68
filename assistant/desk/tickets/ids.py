"""Ticket ids: ``T-<local creation date>-<database sequence>``, e.g. ``T-20261123-0007``.

The number is the row's autoincrement key, so ids stay unique under any concurrency; it is
padded to four digits and grows past them (T-20270105-12345). It does not restart each day.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from zoneinfo import ZoneInfo

_ID_RE = re.compile(r"^T-(\d{8})-(\d{4,})$")


def format_ticket_id(seq: int, created_at: datetime, tz: ZoneInfo) -> str:
    return f"T-{created_at.astimezone(tz):%Y%m%d}-{seq:04d}"


def normalize_ticket_id(text: str) -> str | None:
    """The canonical form of a typed id (spaces, full width and case forgiven); None if it is not one."""
    s = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text))).upper().replace("—", "-")
    return s if _ID_RE.match(s) else None


def ticket_seq(ticket_id: str) -> int | None:
    """The sequence number inside a well-formed id."""
    m = _ID_RE.match(ticket_id)
    return int(m.group(2)) if m else None
