"""SLA targets per category, counted in business hours of a calendar loaded from YAML.

calendar.yml::

    timezone: Asia/Shanghai
    weekdays: [mon, tue, wed, thu, fri]          # or 1-7 (1 = Monday)
    hours: ["08:30-12:00", "13:30-17:30"]        # one or more ranges; "00:00-24:00" for all day
    holidays: [2026-10-01..2026-10-07, 2026-12-25]
    workdays: [2026-10-10]                       # make-up working days (调休) on weekends

sla.yml::

    calendar: calendar.yml                       # relative to this file
    default:  {first_response: 4h, resolution: 24h}
    categories:
      safety: {first_response: 30m, resolution: 8h}
    priority_factor: {urgent: 0.25, high: 0.5, normal: 1, low: 1.5}

Durations are business time: a number of hours, or a string like ``90m``, ``4h``, ``1.5h``.
Every error names the file and line.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from assistant.desk.tickets.errors import SLAConfigError
from assistant.desk.tickets.models import CATEGORIES, PRIORITIES

EXAMPLES = Path(__file__).resolve().parent / "examples"
_DAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6,
         "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6,
         "周一": 0, "周二": 1, "周三": 2, "周四": 3, "周五": 4, "周六": 5, "周日": 6, "周天": 6}
_MAX_DAYS = 3 * 366          # how far ahead a due time may be searched for


@dataclass(frozen=True)
class Calendar:
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    weekdays: frozenset[int] = frozenset(range(5))
    hours: tuple[tuple[time, time | None], ...] = ((time(9), time(18)),)   # None = midnight (24:00)
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()

    def is_workday(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() in self.weekdays and day not in self.holidays

    def _ranges(self, day: date) -> list[tuple[datetime, datetime]]:
        """The day's working ranges as UTC datetimes."""
        if not self.is_workday(day):
            return []
        out = []
        for start, end in self.hours:
            a = datetime.combine(day, start, tzinfo=self.tz)
            b = (datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.tz) if end is None
                 else datetime.combine(day, end, tzinfo=self.tz))
            out.append((a.astimezone(UTC), b.astimezone(UTC)))
        return out

    def add(self, start: datetime, amount: timedelta) -> datetime:
        """The moment ``amount`` of business time after ``start``."""
        left = amount.total_seconds()
        day = start.astimezone(self.tz).date() - timedelta(days=1)   # ranges may start before local midnight in UTC
        for _ in range(_MAX_DAYS):
            for a, b in self._ranges(day):
                a = max(a, start)
                if b <= a:
                    continue
                span = (b - a).total_seconds()
                if left <= span:
                    return a + timedelta(seconds=left)
                left -= span
            day += timedelta(days=1)
        raise SLAConfigError(f"the calendar has no working time within {_MAX_DAYS} days of {start:%Y-%m-%d}")

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Business time from ``start`` to ``end`` (zero when end <= start)."""
        if end <= start:
            return timedelta(0)
        total = 0.0
        day = start.astimezone(self.tz).date() - timedelta(days=1)
        last = end.astimezone(self.tz).date()
        while day <= last:
            for a, b in self._ranges(day):
                a, b = max(a, start), min(b, end)
                if b > a:
                    total += (b - a).total_seconds()
            day += timedelta(days=1)
        return timedelta(seconds=total)


@dataclass(frozen=True)
class Target:
    first_response: timedelta
    resolution: timedelta


@dataclass(frozen=True)
class SLAPolicy:
    calendar: Calendar
    default: Target
    categories: dict[str, Target] = field(default_factory=dict)
    priority_factor: dict[str, float] = field(default_factory=dict)
    source: str = ""

    def target(self, category: str, priority: str = "normal") -> Target:
        base = self.categories.get(category, self.default)
        f = self.priority_factor.get(priority, 1.0)
        return Target(base.first_response * f, base.resolution * f)

    def due(self, category: str, priority: str, start: datetime) -> tuple[datetime, datetime]:
        """(first response due, resolution due) for a ticket opened at ``start``."""
        t = self.target(category, priority)
        return self.calendar.add(start, t.first_response), self.calendar.add(start, t.resolution)

    def resume(self, due: datetime, paused_at: datetime, now: datetime) -> datetime:
        """A due time pushed back by the business time spent paused (unchanged if it had passed)."""
        if paused_at >= due:
            return due
        return self.calendar.add(now, self.calendar.between(paused_at, due))


# --- loading -------------------------------------------------------------------------------

class _Doc:
    """A YAML file's plain value plus the line of every node, for error messages."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SLAConfigError("file not found", path=self.path) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise SLAConfigError(f"cannot read: {exc}", path=self.path) from None
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            problem = getattr(exc, "problem", None) or str(exc)
            raise SLAConfigError(f"invalid YAML: {problem}", path=self.path,
                                 line=mark.line + 1 if mark else None) from None
        self.lines: dict[tuple[Any, ...], int] = {}
        self._ctor = yaml.SafeLoader("")
        self.value = self._walk(node, ()) if node is not None else {}

    def _walk(self, node: yaml.Node, key: tuple[Any, ...]) -> Any:
        self.lines[key] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for k, v in node.value:
                name = self._scalar(k)
                if name in out:
                    raise SLAConfigError(f"duplicate key {name!r}", path=self.path, line=k.start_mark.line + 1)
                out[name] = self._walk(v, (*key, name))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self._walk(v, (*key, i)) for i, v in enumerate(node.value)]
        return self._scalar(node)

    def _scalar(self, node: yaml.Node) -> Any:
        try:
            return self._ctor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, TypeError) as exc:
            raise SLAConfigError(f"bad value: {exc}", path=self.path, line=node.start_mark.line + 1) from None

    def error(self, key: tuple[Any, ...], message: str) -> SLAConfigError:
        while key and key not in self.lines:
            key = key[:-1]
        dotted = ".".join(str(k) for k in key) or None
        return SLAConfigError(message, path=self.path, line=self.lines.get(key), field=dotted)

    def mapping(self, key: tuple[Any, ...], value: Any, allowed: set[str]) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.error(key, f"must be a mapping, not {type(value).__name__}")
        for k in value:
            if k not in allowed:
                raise self.error((*key, k), f"unknown key {k!r}; expected one of {', '.join(sorted(allowed))}")
        return value


_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")
_RANGE = re.compile(r"^(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})$")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(h|hours?|m|min|minutes?|小时|分钟)?$", re.I)


def _clock(text: str) -> time | None:
    m = _CLOCK.match(text)
    if not m:
        raise ValueError(text)
    h, mi = int(m.group(1)), int(m.group(2))
    if (h, mi) == (24, 0):
        return None
    return time(h, mi)          # ValueError when out of range


def load_calendar(path: str | Path) -> Calendar:
    path = Path(path)
    doc = _Doc(path)
    v = doc.mapping((), doc.value, {"timezone", "weekdays", "hours", "holidays", "workdays"})
    tz_name = v.get("timezone", "Asia/Shanghai")
    try:
        tz = ZoneInfo(str(tz_name))
    except (ZoneInfoNotFoundError, ValueError):
        raise doc.error(("timezone",), f"unknown time zone {tz_name!r}") from None

    weekdays = set()
    raw = v.get("weekdays", ["mon", "tue", "wed", "thu", "fri"])
    if not isinstance(raw, list) or not raw:
        raise doc.error(("weekdays",), "must be a non-empty list of days (mon..sun or 1..7)")
    for i, d in enumerate(raw):
        if isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 7:
            weekdays.add(d - 1)
        elif isinstance(d, str) and d.strip().lower() in _DAYS:
            weekdays.add(_DAYS[d.strip().lower()])
        else:
            raise doc.error(("weekdays", i), f"{d!r} is not a day (mon..sun or 1..7)")

    raw = v.get("hours", ["09:00-18:00"])
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise doc.error(("hours",), 'must be a list of ranges like "09:00-18:00"')
    hours: list[tuple[time, time | None]] = []
    for i, r in enumerate(raw):
        m = _RANGE.match(r.strip()) if isinstance(r, str) else None
        try:
            if not m:
                raise ValueError
            start, end = _clock(m.group(1)), _clock(m.group(2))
            if start is None or (end is not None and end <= start):
                raise ValueError
        except ValueError:
            raise doc.error(("hours", i), f'{r!r} is not a range like "09:00-18:00" (start before end)') from None
        hours.append((start, end))
    hours.sort()
    for (_, b1), (a2, _) in itertools.pairwise(hours):
        if b1 is None or a2 < b1:
            raise doc.error(("hours",), "ranges overlap")

    def dates(name: str) -> frozenset[date]:
        raw = v.get(name) or []
        if not isinstance(raw, list):
            raise doc.error((name,), "must be a list of dates (YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD)")
        out: set[date] = set()
        for i, d in enumerate(raw):
            if isinstance(d, date) and not isinstance(d, datetime):
                out.add(d)
                continue
            m = (re.match(r"^(\d{4}-\d{2}-\d{2})\s*\.\.\s*(\d{4}-\d{2}-\d{2})$", d.strip())
                 if isinstance(d, str) else None)
            try:
                if not m:
                    raise ValueError
                a, b = date.fromisoformat(m.group(1)), date.fromisoformat(m.group(2))
                if b < a or (b - a).days > 366:
                    raise ValueError
            except ValueError:
                raise doc.error((name, i), f"{d!r} is not a date or a range YYYY-MM-DD..YYYY-MM-DD") from None
            out.update(a + timedelta(days=k) for k in range((b - a).days + 1))
        return frozenset(out)

    return Calendar(tz=tz, weekdays=frozenset(weekdays), hours=tuple(hours),
                    holidays=dates("holidays"), workdays=dates("workdays"))


def _duration(doc: _Doc, key: tuple[Any, ...], value: Any) -> timedelta:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        hours = float(value)
    else:
        m = _DURATION.match(value.strip()) if isinstance(value, str) else None
        if not m:
            raise doc.error(key, f"{value!r} is not a duration (hours, or e.g. 30m, 4h)")
        unit = (m.group(2) or "h").lower()
        hours = float(m.group(1)) / (60 if unit.startswith("m") or unit == "分钟" else 1)
    if not 0 < hours <= 24 * 366:
        raise doc.error(key, f"{value!r} is out of range (more than 0, at most a year)")
    return timedelta(hours=hours)


def _target(doc: _Doc, key: tuple[Any, ...], value: Any, fallback: Target | None) -> Target:
    v = doc.mapping(key, value, {"first_response", "resolution"})
    if fallback is None:
        for k in ("first_response", "resolution"):
            if k not in v:
                raise doc.error(key, f"needs {k}")
    # without a fallback both keys are there (checked above)
    fr = (_duration(doc, (*key, "first_response"), v["first_response"])
          if "first_response" in v or fallback is None else fallback.first_response)
    res = (_duration(doc, (*key, "resolution"), v["resolution"])
           if "resolution" in v or fallback is None else fallback.resolution)
    if fr > res:
        raise doc.error(key, "first_response is longer than resolution")
    return Target(fr, res)


def load_sla(path: str | Path | None = None) -> SLAPolicy:
    """The SLA policy from ``path`` (default: the packaged example, examples/sla.yml)."""
    path = Path(path) if path else EXAMPLES / "sla.yml"
    doc = _Doc(path)
    v = doc.mapping((), doc.value, {"calendar", "default", "categories", "priority_factor"})
    cal_ref = v.get("calendar")
    if cal_ref is None:
        calendar = Calendar()
    elif isinstance(cal_ref, str):
        calendar = load_calendar((path.parent / cal_ref) if not Path(cal_ref).is_absolute() else Path(cal_ref))
    else:
        raise doc.error(("calendar",), "must be the path of a calendar file")
    if "default" not in v:
        raise doc.error((), "needs a default: {first_response: ..., resolution: ...}")
    default = _target(doc, ("default",), v["default"], None)
    cats = {}
    for name, t in doc.mapping(("categories",), v.get("categories"), set(CATEGORIES)).items():
        cats[name] = _target(doc, ("categories", name), t, default)
    factors = {}
    for name, f in doc.mapping(("priority_factor",), v.get("priority_factor"), set(PRIORITIES)).items():
        if isinstance(f, bool) or not isinstance(f, (int, float)) or not 0 < f <= 100:
            raise doc.error(("priority_factor", name), f"{f!r} must be a number above 0")
        factors[name] = float(f)
    return SLAPolicy(calendar=calendar, default=default, categories=cats, priority_factor=factors, source=str(path))
