"""The admin roster and its monthly rotation (轮值制度).

A YAML file (see ``examples/roster.yml``)::

    timezone: Asia/Shanghai            # optional, the default
    admins:
      - id: wang
        name: 王管家（占位）
        contacts: {wecom: wang-placeholder, telegram: "@wang_placeholder", phone: "{{wang_phone}}"}
        sensitive_categories: [fees, safety]     # optional
    rotation:
      order: [wang, li, zhang]         # rotated by month number: January wang, February li, ...
      start: 2026-01                   # optional: count months from here instead, continuing across years
      months:                          # optional fixed months; beat ``order``
        8: li                          # every August
        2026-12: zhang                 # December 2026 only
    overrides:                         # optional, one admin for one day
      2026-11-25: li

``contacts.wecom`` is the admin's WeCom user id (账号 in 通讯录, e.g. ``WangJianGuo``): the 微信客服
session is transferred to that member on a handoff (the member must be one of the account's 接待人员),
app notices go to it, and replies in the app from it act as this admin; a ``{{placeholder}}`` is no id.
``contacts.mobile`` (or ``phone``), when a real mobile number, is @-mentioned by the WeCom group robot.

Every month must have someone: ``order``, or ``months`` naming all twelve month numbers.
``on_duty(when)`` gives the admin for a day (override, then ``YYYY-MM``, then month number, then
``order``); ``handler(when, category)`` prefers someone who handles a sensitive category.
Errors name the file, the line and the field (``RosterError``, a ``DataError``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from assistant.errors import DataError
from assistant.text.yamlfile import LINE, read_yaml
from assistant.text.yamlfile import LineLoader as _LineLoader

EXAMPLE = Path(__file__).resolve().parent / "examples" / "roster.yml"
ROSTER_ENV = "ASSISTANT_HANDOFF_ROSTER"
KEYS = "__keys__"                 # per-mapping {key: line}, added by _KeyLineLoader
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}$")
_MONTH_RE = re.compile(r"^(\d{4})-(\d{1,2})$")


class RosterError(DataError):
    """The roster file is wrong, or nobody is on duty; the message names file, line and field."""


@dataclass(frozen=True)
class Admin:
    id: str
    name: str
    contacts: Mapping[str, str] = field(default_factory=dict)    # channel -> handle (placeholders)
    sensitive_categories: frozenset[str] = frozenset()

    def handles(self, category: str) -> bool:
        return category in self.sensitive_categories

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "contacts": dict(self.contacts),
                "sensitive_categories": sorted(self.sensitive_categories)}


@dataclass(frozen=True)
class DutyRoster:
    """Which admin is on duty when (the residents' units are ``assistant.moderation.members.Roster``)."""

    admins: tuple[Admin, ...]
    order: tuple[str, ...] = ()
    start: tuple[int, int] | None = None                      # (year, month) the order counts from
    months: Mapping[int, str] = field(default_factory=dict)   # month number -> admin id
    year_months: Mapping[tuple[int, int], str] = field(default_factory=dict)
    overrides: Mapping[date, str] = field(default_factory=dict)
    tz: ZoneInfo = ZoneInfo("Asia/Shanghai")
    path: str | None = None

    @property
    def by_id(self) -> dict[str, Admin]:
        return {a.id: a for a in self.admins}

    def get(self, admin_id: str) -> Admin | None:
        return self.by_id.get(admin_id.strip())

    def day(self, when: datetime | date) -> date:
        """The roster-local day of ``when`` (a naive datetime is taken as roster-local)."""
        if isinstance(when, datetime):
            return (when.astimezone(self.tz) if when.tzinfo else when).date()
        return when

    def on_duty(self, when: datetime | date) -> Admin:
        d = self.day(when)
        admin_id = (self.overrides.get(d) or self.year_months.get((d.year, d.month))
                    or self.months.get(d.month))
        if admin_id is None and self.order:
            i = d.month - 1 if self.start is None else (d.year - self.start[0]) * 12 + d.month - self.start[1]
            admin_id = self.order[i % len(self.order)]
        if admin_id is None:      # load() refuses such rosters; a hand-built one may get here
            raise RosterError(f"nobody is on duty on {d.isoformat()}", path=self.path, field="rotation")
        return self.by_id[admin_id]

    def handler(self, when: datetime | date, category: str | None = None) -> Admin:
        """Who takes a handoff: the admin on duty, unless ``category`` is sensitive and someone
        else (first in file order) handles it while the admin on duty does not."""
        duty = self.on_duty(when)
        if category is None or duty.handles(category):
            return duty
        return next((a for a in self.admins if a.handles(category)), duty)


class _KeyLineLoader(_LineLoader):
    """The knowledge loader, also recording the line of every key (under ``__keys__``)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        mapping = super().construct_mapping(node, deep=deep)
        lines: dict[str, int] = {}
        for key_node, _ in node.value:
            lines[str(key_node.value)] = key_node.start_mark.line + 1
        mapping[KEYS] = lines
        return mapping

    def construct_yaml_timestamp(self, node: yaml.ScalarNode, values: Any = None) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError:        # 2026-11-31: keep the text, the checker reports it with its line
            return self.construct_scalar(node)


_KeyLineLoader.add_constructor("tag:yaml.org,2002:timestamp", _KeyLineLoader.construct_yaml_timestamp)


def _read(path: Path) -> Any:
    return read_yaml(path, _KeyLineLoader, RosterError)


class _Checker:
    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def fail(self, msg: str, where: Mapping[Any, Any] | None, fld: str) -> RosterError:
        line = None
        if isinstance(where, Mapping):
            key = fld.rsplit(".", 1)[-1].split("[", 1)[0]
            line = where.get(KEYS, {}).get(key, where.get(LINE))
        return RosterError(msg, path=self.path, line=line, field=fld)

    def mapping(self, raw: Any, parent: Mapping[Any, Any] | None, fld: str) -> dict[Any, Any]:
        if not isinstance(raw, dict):
            raise self.fail(f"must be a mapping, not {type(raw).__name__}", parent, fld)
        return raw

    @staticmethod
    def keys(raw: Mapping[Any, Any]) -> list[Any]:
        return [k for k in raw if k not in (LINE, KEYS)]

    def unknown(self, raw: Mapping[Any, Any], allowed: set[str], prefix: str) -> None:
        for k in self.keys(raw):
            if str(k) not in allowed:
                raise self.fail(f"unknown field (expected one of {', '.join(sorted(allowed))})", raw,
                                f"{prefix}{k}")

    def text(self, raw: Mapping[Any, Any], key: str, fld: str, *, required: bool = True) -> str | None:
        v = raw.get(key)
        if v is None and not required:
            return None
        if isinstance(v, bool) or not isinstance(v, (str, int)) or not str(v).strip():
            raise self.fail("missing or empty" if v in (None, "") else f"must be text, not {type(v).__name__}",
                            raw, fld)
        return str(v).strip()


def load_roster(path: str | Path | None = None) -> DutyRoster:
    """Read and check a roster file (default the packaged example; the app passes
    ``Settings.handoff_roster``, $ASSISTANT_HANDOFF_ROSTER)."""
    p = Path(path or EXAMPLE)
    if not p.is_file():
        raise RosterError("no such file", path=str(p))
    ck = _Checker(p)
    raw = _read(p)
    if not isinstance(raw, dict):
        raise RosterError("the file must be a mapping with admins and rotation", path=str(p), line=1)
    ck.unknown(raw, {"timezone", "admins", "rotation", "overrides"}, "")

    tz = ZoneInfo("Asia/Shanghai")
    if raw.get("timezone") is not None:
        name = ck.text(raw, "timezone", "timezone")
        try:
            tz = ZoneInfo(str(name))
        except (ZoneInfoNotFoundError, ValueError):
            raise ck.fail(f"unknown time zone {name!r}", raw, "timezone") from None

    admins_raw = raw.get("admins")
    if not isinstance(admins_raw, list) or not admins_raw:
        raise ck.fail("must be a non-empty list of admins", raw, "admins")
    admins: list[Admin] = []
    seen: set[str] = set()
    for i, a in enumerate(admins_raw):
        a = ck.mapping(a, raw, f"admins[{i}]")
        ck.unknown(a, {"id", "name", "contacts", "sensitive_categories"}, f"admins[{i}].")
        aid = ck.text(a, "id", f"admins[{i}].id") or ""
        if not _ID_RE.match(aid):
            raise ck.fail(f"{aid!r} is not an id (letters, digits, _.:@-, at most 64)", a, f"admins[{i}].id")
        if aid in seen:
            raise ck.fail(f"duplicate admin id {aid!r}", a, f"admins[{i}].id")
        seen.add(aid)
        name = ck.text(a, "name", f"admins[{i}].name") or ""
        contacts: dict[str, str] = {}
        if a.get("contacts") is not None:
            c = ck.mapping(a["contacts"], a, f"admins[{i}].contacts")
            for ch in ck.keys(c):
                contacts[str(ch)] = ck.text(c, ch, f"admins[{i}].contacts.{ch}") or ""
        if not contacts:
            raise ck.fail("needs at least one contact handle (wecom, telegram, phone, ...)", a,
                          f"admins[{i}].contacts")
        cats = a.get("sensitive_categories") or []
        if not isinstance(cats, list) or not all(isinstance(x, str) and x.strip() for x in cats):
            raise ck.fail("must be a list of category names", a, f"admins[{i}].sensitive_categories")
        admins.append(Admin(aid, name, contacts, frozenset(x.strip() for x in cats)))

    def admin_ref(value: Any, where: Mapping[Any, Any], fld: str) -> str:
        if not isinstance(value, (str, int)) or isinstance(value, bool) or str(value).strip() not in seen:
            raise ck.fail(f"unknown admin {value!r} (not in admins)", where, fld)
        return str(value).strip()

    rot = ck.mapping(raw.get("rotation"), raw, "rotation")
    ck.unknown(rot, {"order", "start", "months"}, "rotation.")
    order: tuple[str, ...] = ()
    if rot.get("order") is not None:
        if not isinstance(rot["order"], list) or not rot["order"]:
            raise ck.fail("must be a non-empty list of admin ids", rot, "rotation.order")
        order = tuple(admin_ref(v, rot, f"rotation.order[{j}]") for j, v in enumerate(rot["order"]))
    start: tuple[int, int] | None = None
    if rot.get("start") is not None:
        start = _year_month(rot["start"])
        if start is None:
            raise ck.fail(f"{rot['start']!r} is not a month like 2026-01", rot, "rotation.start")
        if not order:
            raise ck.fail("start needs an order to rotate", rot, "rotation.start")
    months: dict[int, str] = {}
    year_months: dict[tuple[int, int], str] = {}
    if rot.get("months") is not None:
        m = ck.mapping(rot["months"], rot, "rotation.months")
        for k in ck.keys(m):
            fld = f"rotation.months.{k}"
            if isinstance(k, int) and not isinstance(k, bool) and 1 <= k <= 12:
                months[k] = admin_ref(m[k], m, fld)
            elif (ym := _year_month(k)) is not None:
                year_months[ym] = admin_ref(m[k], m, fld)
            else:
                raise ck.fail(f"{k!r} is not a month number 1-12 or a month like 2026-12", m, fld)
    if not order:
        missing = sorted(set(range(1, 13)) - set(months))
        if missing:
            raise ck.fail(f"no admin for month(s) {', '.join(map(str, missing))}: add an order or list "
                          "all twelve months", raw, "rotation")

    overrides: dict[date, str] = {}
    if raw.get("overrides") is not None:
        o = ck.mapping(raw["overrides"], raw, "overrides")
        for k in ck.keys(o):
            d = k if isinstance(k, date) and not isinstance(k, datetime) else _date(k)
            if d is None:
                raise ck.fail(f"{k!r} is not a date like 2026-11-25", o, f"overrides.{k}")
            overrides[d] = admin_ref(o[k], o, f"overrides.{k}")

    return DutyRoster(tuple(admins), order, start, months, year_months, overrides, tz, str(p))


def _year_month(value: Any) -> tuple[int, int] | None:
    m = _MONTH_RE.match(str(value).strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        return None
    return int(m.group(1)), int(m.group(2))


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        return None
