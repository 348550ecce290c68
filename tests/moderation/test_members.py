from __future__ import annotations

from pathlib import Path

import pytest

from assistant.errors import DataError
from assistant.moderation import Moderator, Roster, Unit, load_config, parse_nickname


@pytest.mark.parametrize("nick, unit", [
    ("5-101-张三", Unit("5", None, "101")),
    ("5-1-101-张三", Unit("5", "1", "101")),
    ("５－１０１－张三", Unit("5", None, "101")),
    ("5—1—1202—李女士", Unit("5", "1", "1202")),
    ("12-2-1802-王先生", Unit("12", "2", "1802")),
    ("5 101 张三", Unit("5", None, "101")),
    ("5栋1单元101室张三", Unit("5", "1", "101")),
    ("5-101-李女士（租）", Unit("5", None, "101")),
    ("05-101-Tom", Unit("5", None, "101")),
    ("5-101-张三🌸", Unit("5", None, "101")),
])
def test_good_nicknames(nick: str, unit: Unit) -> None:
    assert parse_nickname(nick) == unit


@pytest.mark.parametrize("nick", ["张三", "小王", "5-张三", "101-张三", "5-101", "快乐每一天", "", "5-1-2-3-张三"])
def test_bad_nicknames(nick: str) -> None:
    assert parse_nickname(nick) is None


def test_join_greets_with_rules_and_asks_to_rename() -> None:
    mod = Moderator(load_config())
    ok = mod.on_member_joined("5-101-张三")
    assert ok.nickname_ok and ok.request is None and "群规" in ok.greeting and "1. " in ok.greeting
    bad = mod.on_member_joined("小王")
    assert not bad.nickname_ok and "楼号-房号-姓名" in bad.request and len(bad.replies) == 2


def test_roster(tmp_path: Path) -> None:
    csv = tmp_path / "roster.csv"
    csv.write_text("building,unit,room\n5,,101\n5,,102\n12,2,1802\n", encoding="utf-8")
    mod = Moderator(load_config(), roster=Roster.load(csv))
    assert mod.on_member_joined("5-101-张三").unit_known is True
    assert mod.on_member_joined("12-2-1802-王五").unit_known is True
    assert mod.on_member_joined("12-1802-王五").unit_known is True
    miss = mod.on_member_joined("5-999-李四")
    assert miss.unit_known is False and "5-999" in miss.request


def test_roster_from_rules_file(tmp_path: Path) -> None:
    (tmp_path / "units.csv").write_text("building,unit,room\n7,,302\n", encoding="utf-8")
    text = (Path(load_config().path).read_text(encoding="utf-8")
            .replace("  roster: null", "  roster: units.csv"))
    (tmp_path / "rules.yml").write_text(text, encoding="utf-8")
    mod = Moderator(load_config(tmp_path / "rules.yml"))
    assert mod.on_member_joined("7-302-小李").unit_known is True


@pytest.mark.parametrize("body, line, field", [
    ("building,unit,room\n5,,101\n5,x,102\n", 3, "unit"),
    ("building,unit,room\n5,,101\n\n6,1\n", 4, None),
    ("building,room\n5,101\n,102\n", 3, "building"),
    ("house,room\n5,101\n", 1, "building"),
])
def test_bad_roster_names_the_line(tmp_path: Path, body: str, line: int, field: str | None) -> None:
    p = tmp_path / "r.csv"
    p.write_text(body, encoding="utf-8")
    with pytest.raises(DataError) as err:
        Roster.load(p)
    assert err.value.line == line and err.value.field == field and str(p) in str(err.value)
