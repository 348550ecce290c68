"""Ticket domain: the lifecycle, limits and the plain records the store returns. Categories, statuses
and priorities come from ``assistant.vocabulary``."""

from __future__ import annotations

import unicodedata
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Literal, overload

from assistant.desk.tickets.errors import InvalidTransition, ValidationError
from assistant.desk.tickets.text import clean, mask_name
from assistant.moderation.pii import redact_text
from assistant.text.units import normalize_building, normalize_unit
from assistant.vocabulary import ACTIVE, CATEGORIES, CATEGORY_ALIASES, OVERDUE_KINDS, PRIORITIES, STATUSES

PAUSED = "waiting_resident"                                            # SLA clock stopped
SYSTEM = "system"            # the assistant's own notes: never a first response

# open -> assigned -> in_progress <-> waiting_resident -> resolved -> closed; resolved/closed -> open.
TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"assigned"}),
    "assigned": frozenset({"in_progress", "resolved"}),
    "in_progress": frozenset({"waiting_resident", "resolved"}),
    "waiting_resident": frozenset({"in_progress", "resolved"}),
    "resolved": frozenset({"closed", "open"}),
    "closed": frozenset({"open"}),
}

# Longest accepted value of each text field, in characters.
LIMITS = {"description": 2000, "comment": 2000, "rating_comment": 500, "reporter_id": 64,
          "reporter_name": 64, "assignee": 64, "actor": 64, "unit": 40}


def check_transition(ticket_id: str, current: str, wanted: str) -> None:
    if wanted not in STATUSES:
        raise ValidationError("status", f"unknown status {wanted!r}; one of {', '.join(STATUSES)}")
    if wanted == current:
        raise InvalidTransition(ticket_id, current, wanted, "it already is")
    if wanted not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current]))
        raise InvalidTransition(ticket_id, current, wanted, f"allowed from {current}: {allowed}")


@overload
def text_field(name: str, value: Any, *, required: Literal[True] = ..., limit: str | None = ...,
               redacted: bool = ...) -> str: ...
@overload
def text_field(name: str, value: Any, *, required: bool, limit: str | None = ...,
               redacted: bool = ...) -> str | None: ...
def text_field(name: str, value: Any, *, required: bool = True, limit: str | None = None,
               redacted: bool = True) -> str | None:
    """Validate one free-text field: a string, not blank when required, within its limit.
    The limit applies to what was given; the stored value is cleaned and redacted."""
    if value is None:
        if required:
            raise ValidationError(name, "is required")
        return None
    if not isinstance(value, str):
        raise ValidationError(name, f"must be text, not {type(value).__name__}")
    cap = LIMITS[limit or name]
    if len(value) > cap:
        raise ValidationError(name, f"is {len(value)} characters long; the limit is {cap}")
    value = clean(value)
    if not value:
        if required:
            raise ValidationError(name, "is empty")
        return None
    return redact_text(value) if redacted else value


@overload
def name_field(name: str, value: Any, *, required: Literal[True] = ...) -> str: ...
@overload
def name_field(name: str, value: Any, *, required: bool) -> str | None: ...
def name_field(name: str, value: Any, *, required: bool = True) -> str | None:
    """An identifier-like field (resident id, assignee, actor): one line, no redaction."""
    out = text_field(name, value, required=required, redacted=False)
    if out is not None and ("\n" in out or "\t" in out):
        raise ValidationError(name, "must be a single line")
    return out


def category_field(value: Any) -> str:
    if not isinstance(value, str):
        raise ValidationError("category", "is required")
    key = unicodedata.normalize("NFKC", value).strip().lower()
    key = CATEGORY_ALIASES.get(key, key)
    if key not in CATEGORIES:
        raise ValidationError("category", f"unknown category {value!r}; one of {', '.join(CATEGORIES)}")
    return key


def priority_field(value: Any) -> str:
    key = str(value or "normal").strip().lower()
    if key not in PRIORITIES:
        raise ValidationError("priority", f"unknown priority {value!r}; one of {', '.join(PRIORITIES)}")
    return key


def unit_field(name: str, value: Any) -> str | None:
    """A unit normalised by normalize_unit(); None stays None, unparseable text is refused."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) or len(value) > LIMITS["unit"]:
        raise ValidationError(name, f"is not a unit: {str(value)[:40]!r}")
    unit = normalize_unit(value) or normalize_building(value)
    if unit is None:
        raise ValidationError(name, f"cannot read {value!r} as a unit (e.g. 5-101, 5栋101, 5号楼1单元101, 五号楼)")
    return unit


def score_field(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValidationError("score", "must be a whole number from 1 to 5")
    try:
        score = int(value)
    except ValueError:
        raise ValidationError("score", f"{value!r} is not a whole number from 1 to 5") from None
    if not 1 <= score <= 5:
        raise ValidationError("score", f"{score} is out of range; 1 to 5")
    return score


def utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValidationError("time", "must be timezone-aware")
    return value.astimezone(UTC)


@dataclass(frozen=True)
class Reporter:
    """Who reported: the resident's id (e.g. a chat sender id) and a display name (masked on store)."""

    id: str
    name: str = ""


@dataclass(frozen=True)
class Ticket:
    id: str
    category: str
    unit: str | None
    description: str
    reporter_id: str
    reporter_name: str
    other_party_unit: str | None
    priority: str
    status: str
    assignee: str | None
    created_at: datetime
    updated_at: datetime
    first_response_due: datetime
    resolution_due: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    paused_at: datetime | None
    satisfaction: int | None
    satisfaction_comment: str | None

    def overdue_kind(self, now: datetime) -> str | None:
        """'first_response' or 'resolution' when past due at ``now``; None when on time or paused."""
        if self.status not in ACTIVE or self.status == PAUSED:
            return None
        if self.first_response_at is None and now > self.first_response_due:
            return "first_response"
        if now > self.resolution_due:
            return "resolution"
        return None

    def as_dict(self) -> dict[str, Any]:
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in asdict(self).items()}


@dataclass(frozen=True)
class Event:
    """One row of the append-only audit trail."""

    seq: int
    ticket_id: str
    at: datetime
    actor: str
    action: str          # created, appended, assigned, commented, status, rated, reminded
    from_status: str | None
    to_status: str | None
    comment: str | None
    value: str | None    # the assignee for 'assigned', the score for 'rated', the kind for 'reminded'

    def as_dict(self) -> dict[str, Any]:
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in asdict(self).items()}


__all__ = [
    "ACTIVE",
    "CATEGORIES",
    "LIMITS",
    "OVERDUE_KINDS",
    "PRIORITIES",
    "STATUSES",
    "SYSTEM",
    "TRANSITIONS",
    "Event",
    "Reporter",
    "Ticket",
    "check_transition",
    "mask_name",
    "normalize_unit",
]
