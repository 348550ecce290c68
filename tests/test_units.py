"""Units read from what residents type (assistant/text/units.py)."""

from __future__ import annotations

import pytest

from assistant.text.units import cn_number, find_unit, normalize_building, normalize_unit


@pytest.mark.parametrize("text, unit", [
    ("5-101", "5-101"), ("5栋101", "5-101"), ("5栋101室", "5-101"), ("5号楼101", "5-101"), ("5幢101", "5-101"),
    ("5#101", "5-101"), ("五号楼101", "5-101"), ("五栋一零一", "5-101"), ("十二栋1002", "12-1002"),
    ("5号楼1单元101", "5-1-101"), ("5栋2单元302室", "5-2-302"), ("五号楼一单元一零一", "5-1-101"),
    ("5-1-101", "5-1-101"), ("5/1/101", "5-1-101"), ("５－１０１", "5-101"), (" 5 栋 101 ", "5-101"),
    ("二十三号楼2201", "23-2201"), ("05-0101", "5-101"),
])
def test_normalize_unit(text: str, unit: str) -> None:
    assert normalize_unit(text) == unit


@pytest.mark.parametrize("text", ["", "foo", "5栋", "0-101", "5-0", "5-1-2-3", "楼上", "A-101", None, "5" * 50,
                                  "一二百栋101"])
def test_normalize_unit_unparseable(text: str | None) -> None:
    assert normalize_unit(text) is None


def test_cn_number() -> None:
    read = ("五", "十", "十二", "二十三", "一百零一", "一零一", "两千", "幺零幺", "壹佰零壹", "一〇一", "○一", "1002")
    assert [cn_number(s) for s in read] == [5, 10, 12, 23, 101, 101, 2000, 101, 101, 101, 1, 1002]
    for bad in ("一二百", "百百", "十百一", "一百一", "x", "", "五x"):
        assert cn_number(bad) is None, bad


def test_buildings_and_units_in_sentences() -> None:
    assert normalize_building("5栋") == "5" and normalize_building("五号楼") == "5"
    assert normalize_building("5-101") is None
    assert normalize_building("两千栋") is None                          # more than 999 buildings is not a building
    assert find_unit("我家五号楼1单元101，楼上很吵") == "5-1-101"
    assert find_unit("住在5栋101室的邻居") == "5-101" and find_unit("楼上很吵") is None
