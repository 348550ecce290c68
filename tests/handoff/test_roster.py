"""The admin roster: rotation, overrides, sensitive categories, and errors naming file, line and field."""

from __future__ import annotations

import textwrap
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from assistant.errors import DataError
from assistant.desk.handoff.roster import EXAMPLE, RosterError, load_roster

BASE = """\
admins:
  - id: wang
    name: 王管家
    contacts: {wecom: wang-placeholder, phone: "{{property_phone}}"}
    sensitive_categories: [fees]
  - id: li
    name: 李主任
    contacts: {telegram: "@li_placeholder"}
  - id: zhang
    name: 张委员
    contacts: {phone: 10000}
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "roster.yml"
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    return p


def test_example_loads() -> None:
    r = load_roster(EXAMPLE)
    assert [a.id for a in r.admins] == ["wang", "li", "zhang"]
    assert r.on_duty(date(2026, 11, 25)).id == "li"           # override
    assert r.on_duty(date(2026, 2, 10)).id == "wang"          # fixed month
    assert r.get("wang") and r.get("nobody") is None


def test_order_rotates_by_month_number(tmp_path: Path) -> None:
    r = load_roster(write(tmp_path, BASE + "rotation:\n  order: [wang, li, zhang]\n"))
    assert [r.on_duty(date(2026, m, 1)).id for m in range(1, 13)] == ["wang", "li", "zhang"] * 4
    assert r.on_duty(date(2027, 1, 31)).id == "wang"


def test_order_with_start_continues_across_years(tmp_path: Path) -> None:
    r = load_roster(write(tmp_path, BASE + "rotation:\n  order: [wang, li]\n  start: 2026-11\n"))
    got = [r.on_duty(date(y, m, 1)).id for y, m in ((2026, 11), (2026, 12), (2027, 1), (2027, 2), (2025, 10))]
    assert got == ["wang", "li", "wang", "li", "li"]


def test_months_overrides_and_time_zone(tmp_path: Path) -> None:
    months = "\n".join(f"    {m}: {'li' if m % 2 else 'zhang'}" for m in range(1, 13))
    r = load_roster(write(tmp_path, BASE + f"rotation:\n  months:\n{months}\n    2026-12: wang\n"
                          "overrides:\n  2026-11-30: wang\n"))
    assert r.on_duty(date(2026, 11, 29)).id == "li"
    assert r.on_duty(date(2026, 11, 30)).id == "wang"
    assert r.on_duty(date(2026, 12, 5)).id == "wang" and r.on_duty(date(2027, 12, 5)).id == "zhang"
    # 2026-11-29 16:30 UTC is 2026-11-30 00:30 in Shanghai: the override day
    assert r.on_duty(datetime(2026, 11, 29, 16, 30, tzinfo=timezone.utc)).id == "wang"
    assert r.on_duty(datetime(2026, 11, 29, 15, 30, tzinfo=timezone.utc)).id == "li"
    assert r.on_duty(datetime(2026, 11, 30, 0, 30)).id == "wang"       # naive: roster-local


def test_handler_prefers_who_handles_a_sensitive_category(tmp_path: Path) -> None:
    r = load_roster(write(tmp_path, BASE + "rotation:\n  order: [wang, li, zhang]\n"))
    feb = date(2026, 2, 1)                                 # li on duty
    assert r.handler(feb).id == "li" and r.handler(feb, "noise").id == "li"
    assert r.handler(feb, "fees").id == "wang"
    assert r.handler(date(2026, 1, 1), "fees").id == "wang"
    a = r.get("zhang")
    assert a is not None and a.contacts == {"phone": "10000"} and a.as_dict()["sensitive_categories"] == []


@pytest.mark.parametrize(("text", "line", "field", "words"), [
    (BASE + "rotation:\n  order: [wang, nobody]\n", 13, "rotation.order[1]", "unknown admin"),
    (BASE + "rotation:\n  months:\n    1: wang\n", 12, "rotation", "no admin for month(s) 2, 3"),
    (BASE + "rotation:\n  order: [wang]\n  months:\n    13: li\n", 15, "rotation.months.13", "month number"),
    (BASE + "rotation:\n  order: [wang]\n  start: next\n", 14, "rotation.start", "not a month"),
    (BASE + "rotation:\n  order: [wang]\noverrides:\n  2026-11-31: li\n", 15, "overrides.2026-11-31", "not a date"),
    (BASE + "rotation:\n  order: [wang]\noverrides:\n  2026-11-30: ghost\n", 15, "overrides.2026-11-30",
     "unknown admin"),
    (BASE + "rotation:\n  order: [wang]\n  shifts: weekly\n", 14, "rotation.shifts", "unknown field"),
    (BASE + "rotation:\n  order: [wang]\ntimezone: Mars/Base\n", 14, "timezone", "unknown time zone"),
    (BASE + "  - id: wang\n    name: 重名\n    contacts: {wecom: x}\nrotation:\n  order: [wang]\n", 12,
     "admins[3].id", "duplicate"),
    (BASE.replace("    name: 李主任\n", ""), 6, "admins[1].name", "missing"),
    (BASE.replace('    contacts: {telegram: "@li_placeholder"}\n', ""), 6, "admins[1].contacts", "at least one"),
    (BASE.replace("{phone: 10000}", "{phone: ''}"), 11, "admins[2].contacts.phone", "missing or empty"),
    (BASE.replace("[fees]", "fees") + "rotation:\n  order: [wang]\n", 5, "admins[0].sensitive_categories",
     "list of category"),
    (BASE.replace("id: li", "id: 李 主任"), 6, "admins[1].id", "is not an id"),
    (BASE, 1, "rotation", "must be a mapping"),
    ("admins: []\nrotation: {order: [x]}\n", 1, "admins", "non-empty list"),
])
def test_errors_name_file_line_and_field(tmp_path: Path, text: str, line: int, field: str, words: str) -> None:
    p = write(tmp_path, text)
    with pytest.raises(RosterError) as err:
        load_roster(p)
    e = err.value
    assert isinstance(e, DataError)
    assert (e.path, e.line, e.field) == (str(p), line, field), str(e)
    assert words in str(e) and str(e).startswith(f"{p}:{line} [{field}]")


def test_file_level_errors(tmp_path: Path) -> None:
    with pytest.raises(RosterError, match="no such file"):
        load_roster(tmp_path / "missing.yml")
    p = write(tmp_path, "admins:\n  - id: wang\n   name: [unclosed\n")
    with pytest.raises(RosterError, match="bad YAML") as err:
        load_roster(p)
    assert err.value.path == str(p) and err.value.line == 3
    p.write_bytes(b"admins: \xff\xfe\n")
    with pytest.raises(RosterError, match="not UTF-8"):
        load_roster(p)
    p.write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(RosterError, match="must be a mapping") as err:
        load_roster(p)
    assert err.value.line == 1


def test_env_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant.runtime.app import open_desk
    from assistant.settings import load_settings

    p = write(tmp_path, BASE + "rotation:\n  order: [zhang]\n")
    monkeypatch.setenv("ASSISTANT_HANDOFF_ROSTER", str(p))
    monkeypatch.setenv("ASSISTANT_TICKETS_URL", f"sqlite:///{tmp_path / 'desk.db'}")
    with open_desk(load_settings()) as desk:              # the app reads the roster the setting names
        assert desk.roster.on_duty(date(2026, 5, 5)).id == "zhang"
    assert load_roster().path == str(EXAMPLE)              # the library default: the packaged example
