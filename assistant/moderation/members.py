"""New members: the greeting with the group rules, the nickname check, the optional roster."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.errors import DataError
from assistant.moderation.config import ModerationConfig
from assistant.text.normalize import strip_emoji

# 5-101-张三, 5-1-101-张三, 5栋1单元101室张三, 5-101-李女士（租）
_DASHES = re.compile(r"[\s\-‐-―−_~·・/\\|]+")
_NICK = re.compile(
    r"^(?P<b>\d{1,3})(?:栋|幢|号楼|号|座)?-?"
    r"(?:(?P<u>\d{1,2})单元-?|(?P<u2>\d{1,2})-(?=\d{3,4}))?"
    r"(?P<r>\d{3,4})(?:室|号)?-?"
    r"(?P<n>[\u4e00-\u9fffA-Za-z][\u4e00-\u9fffA-Za-z·]{0,11})"
    r"(?:[(（]?租[)）]?)?$")


@dataclass(frozen=True)
class Unit:
    building: str
    unit: str | None
    room: str

    def __str__(self) -> str:
        return "-".join(p for p in (self.building, self.unit, self.room) if p)


@dataclass(frozen=True)
class JoinReply:
    nickname_ok: bool
    unit: Unit | None
    unit_known: bool | None      # None when there is no roster
    greeting: str
    request: str | None          # the rename / check-your-unit request, if any

    @property
    def replies(self) -> list[str]:
        return [self.greeting] + ([self.request] if self.request else [])


def parse_nickname(nickname: str) -> Unit | None:
    """The unit in a 楼号-房号-姓名 nickname (full-width digits and dashes accepted), or None."""
    text = strip_emoji(unicodedata.normalize("NFKC", nickname or "")).strip()
    text = _DASHES.sub("-", text).strip("-")
    text = text.replace("（", "(").replace("）", ")")
    m = _NICK.match(text)
    if not m:
        return None
    unit = m.group("u") or m.group("u2")
    return Unit(str(int(m.group("b"))), str(int(unit)) if unit else None, m.group("r"))


class Roster:
    """The estate's units from a CSV with columns building, unit (may be empty), room."""

    def __init__(self, units: set[tuple[str, str | None, str]]) -> None:
        self.units = units

    @classmethod
    def load(cls, path: str | Path) -> Roster:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise DataError("roster file not found", path=str(path)) from None
        except UnicodeDecodeError as exc:
            raise DataError(f"not UTF-8 text ({exc.reason})", path=str(path)) from exc
        except OSError as exc:     # a folder, no permission
            raise DataError(f"cannot read the roster: {exc.strerror or type(exc).__name__}",
                            path=str(path)) from None
        return cls.parse(text, str(path))

    @classmethod
    def parse(cls, text: str, path: str = "<roster>") -> Roster:
        rows = csv.reader(io.StringIO(text))
        header = next(rows, None)
        if header is None:
            raise DataError("empty roster: needs a header building,unit,room", path=path, line=1)
        cols = [h.strip().lower() for h in header]
        for need in ("building", "room"):
            if need not in cols:
                raise DataError(f"header must name the columns building,unit,room (missing {need})",
                                path=path, line=1, field=need)
        units: set[tuple[str, str | None, str]] = set()
        try:
            cls._rows(rows, cols, path, units)
        except csv.Error as exc:
            raise DataError(f"not valid CSV: {exc}", path=path, line=rows.line_num) from None
        if not units:
            # An empty roster would flag every new member's unit as unknown.
            raise DataError("the roster lists no units (one building,unit,room row per unit)", path=path,
                            line=rows.line_num or 1)
        return cls(units)

    @staticmethod
    def _rows(rows: Any, cols: list[str], path: str, units: set[tuple[str, str | None, str]]) -> None:
        for row in rows:
            line = rows.line_num
            if not any(c.strip() for c in row):
                continue
            if len(row) != len(cols):
                raise DataError(f"expected {len(cols)} columns, found {len(row)}", path=path, line=line)
            rec = {c: v.strip() for c, v in zip(cols, row, strict=False)}
            for fld in ("building", "unit", "room"):
                value = unicodedata.normalize("NFKC", rec.get(fld, ""))
                if fld == "unit" and not value:
                    continue
                if not value.isdigit():
                    raise DataError(f"{fld} must be a number, got {value!r}", path=path, line=line, field=fld)
            b = str(int(unicodedata.normalize("NFKC", rec["building"])))
            u = rec.get("unit") or ""
            units.add((b, str(int(unicodedata.normalize("NFKC", u))) if u else None,
                       unicodedata.normalize("NFKC", rec["room"])))

    def __contains__(self, unit: Unit) -> bool:
        if (unit.building, unit.unit, unit.room) in self.units:
            return True
        if unit.unit is None:   # "5-101" is fine when some unit of building 5 has room 101
            return any(b == unit.building and r == unit.room for b, _, r in self.units)
        return False


def member_joined(nickname: str, cfg: ModerationConfig, roster: Roster | None = None) -> JoinReply:
    rules = "\n".join(f"{i}. {r}" for i, r in enumerate(cfg.group_rules, 1))
    greeting = cfg.members.greeting.format(estate=cfg.estate, rules=rules)
    unit = parse_nickname(nickname)
    if unit is None:
        return JoinReply(False, None, None, greeting, cfg.members.rename.format(estate=cfg.estate))
    if roster is None:
        return JoinReply(True, unit, None, greeting, None)
    known = unit in roster
    request = None if known else cfg.members.unknown_unit.format(estate=cfg.estate, unit=str(unit))
    return JoinReply(True, unit, known, greeting, request)
