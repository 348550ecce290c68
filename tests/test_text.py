from __future__ import annotations

import pytest

from assistant.text import queries
from assistant.text.normalize import clip, is_blank, normalize, prepare, strip_emoji


def test_full_width_becomes_half_width() -> None:
    assert normalize("ＥＶ充电桩在哪？１２３") == "EV充电桩在哪?123"


def test_traditional_becomes_simplified() -> None:
    assert normalize("停車位怎麼租") == "停车位怎么租"
    assert normalize("垃圾幾點扔") == "垃圾几点扔"


def test_control_characters_and_spaces_are_removed() -> None:
    assert normalize("车位\x00怎么\u200b租\t\n  ?") == "车位 怎么 租 ?"
    assert normalize("\ufeff你好") == "你好"


def test_blank_detection() -> None:
    for text in ("", "   ", "\n\t", "👍👍", "🙏😊!!", "？？？", "\x00\x01"):
        assert is_blank(normalize(text)), text
    for text in ("车位", "ok", "5-101", "🚗车位怎么租"):
        assert not is_blank(normalize(text)), text


def test_emoji_are_stripped_from_words() -> None:
    assert strip_emoji("🚗车位怎么租😡") == "车位怎么租"


def test_clip_keeps_the_question_at_the_end() -> None:
    text = "事情是这样的" * 1000 + "请问车位怎么租？"
    out = clip(text, 400)
    assert len(out) <= 400
    assert out.endswith("请问车位怎么租？")
    assert out.startswith("事情是这样的")


def test_prepare_combines_all() -> None:
    assert prepare("  停車位\x07怎麼租？ ") == "停车位 怎么租?"


@pytest.mark.parametrize(("text", "why"), [
    ("<iframe src=\"javascript:alert('XSS')\"></iframe>", "markup"),
    ("'; DROP TABLE users; --", "markup"),
    ("مرحبا، متى يتم جمع القمامة؟", "script"),
    ("Привет, когда вывоз мусора?", "script"),
    ("สวัสดีครับ เก็บขยะกี่โมง", "script"),
    ("asdkjh qwe zxcmnb 12398", "noise"),
    ("车位怎么租", None), ("请问 EV charging pile 在哪里？", None), ("<b>车位怎么租</b>", None), ("5-101", None),
    ("1", None), ("5分", None), ("where is the parking lot?", None), ("ok", None), ("Привет 车位怎么租", None),
])
def test_unreadable(text: str, why: str | None) -> None:
    from assistant.text.readable import unreadable

    assert unreadable(text) == why


@pytest.mark.parametrize(("text", "other"), [
    ("隔壁翠湖花园的物业费多少钱一平", True), ("翡翠湾小区的快递柜在哪", True), ("别的小区车位一般多少钱", True),
    ("我妈住的阳光小区电梯老坏", True), ("朋友那个小区物业很烂 能换物业吗", True), ("那隔壁小区的呢", True),
    # this estate, or another said later as a comparison, or a place inside this one
    ("之前在别的小区地库刮过 咱们地库限高多少", False), ("扔垃圾有积分能兑东西吗 听说别的小区有", False),
    ("我爸在小区门口被人拉去听讲座", False), ("楼顶花园业主能上去吗", False), ("小区花园几点关门", False),
    ("外卖能进小区吗", False), ("我们小区和隔壁小区物业费一样吗", False),
    # named after 隔壁, an estate ending in 苑/府 pointed at, the old home
    ("隔壁绿城小区停车费贵不贵", True), ("枫林苑那边快递放哪", True), ("我老家房子水管裂了找谁", True),
    ("以前住的老小区物业费怎么退", True), ("老房子装修要报备吗", False), ("小区花园的秋千坏了", False)])
def test_another_estate_as_the_subject(text: str, other: bool) -> None:
    assert queries.elsewhere(text) is other
