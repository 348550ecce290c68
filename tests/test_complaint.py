"""The complaint form's reasoning (assistant/dialogue/complaint.py), without Rasa."""

from __future__ import annotations

import pytest

from assistant.dialogue import complaint as c

from .moderation.numbers import Numbers

_N = Numbers(7)
ID = _N.id()                          # valid checksum
CARD = _N.card(19)                    # Luhn-valid, 19 digits
PHONE = "13812345678"


@pytest.mark.parametrize(("text", "expected"), [
    ("楼上装修太吵了，我住5栋101", {c.CATEGORY: "noise", c.UNIT: "5-101"}),
    ("隔壁6-302装修天天敲墙，我家5-101", {c.CATEGORY: "renovation", c.UNIT: "5-101", c.OTHER_PARTY: "6-302"}),
    ("我住五号楼，楼上6-302每天半夜敲墙", {c.UNIT: "5", c.OTHER_PARTY: "6-302"}),
    ("邻居的狗乱叫，吵得睡不着", {c.CATEGORY: "pets"}),
    ("物业费收得不合理", {c.CATEGORY: "fees"}),
    ("5栋3单元楼道被杂物堵住了，很危险", {c.CATEGORY: "safety", c.URGENCY: "urgent"}),
    ("有人在楼道飞线充电", {c.CATEGORY: "safety", c.URGENCY: "high"}),
    ("小区垃圾好几天没人清，臭死了", {c.CATEGORY: "cleaning"}),
])
def test_the_opening_message_fills_what_it_says(text: str, expected: dict) -> None:
    slots = c.opening(text)
    assert {k: slots.get(k) for k in expected} == expected
    assert slots[c.DESCRIPTION]                     # the resident's own words are kept


@pytest.mark.parametrize("text", ["我要投诉", "投诉一下", "我想反映个问题", "我要投诉！"])
def test_a_bare_complaint_asks_for_everything(text: str) -> None:
    slots = c.opening(text)
    assert c.needed(slots) == [c.CATEGORY, c.UNIT, c.DESCRIPTION, c.URGENCY, c.CONFIRMED]


def test_the_other_party_is_asked_only_where_there_is_one() -> None:
    assert c.OTHER_PARTY in c.needed({c.CATEGORY: "noise"})
    assert c.OTHER_PARTY not in c.needed({c.CATEGORY: "fees"})
    assert c.OTHER_PARTY not in c.needed({c.CATEGORY: "safety"})


def test_personal_numbers_never_reach_the_description() -> None:
    slots = c.opening(f"物业乱收费，我的身份证{ID}，卡号{CARD}，电话{PHONE}")
    desc = slots[c.DESCRIPTION]
    assert ID not in desc and CARD not in desc and PHONE not in desc
    assert "身份证号已隐藏" in desc and "手机号已隐藏" in desc
    step = c.step(f"昨晚他们吵到两点，我电话{PHONE}", {c.CATEGORY: "noise"}, c.DESCRIPTION)
    assert PHONE not in step.updates[c.DESCRIPTION]


@pytest.mark.parametrize(("answer", "unit"), [
    ("5-101", "5-101"), ("5栋101", "5-101"), ("5号楼1单元101", "5-1-101"), ("五号楼", "5"),
    ("我住12栋", "12"), ("五号楼一单元一零一", "5-1-101"), ("１２－３０２", "12-302"),
])
def test_units_are_normalised(answer: str, unit: str) -> None:
    assert c.step(answer, {}, c.UNIT).updates[c.UNIT] == unit


def test_a_place_instead_of_a_unit_goes_into_the_description() -> None:
    step = c.step("地下车库B2", {c.DESCRIPTION: "车位被占"}, c.UNIT)
    assert step.updates[c.UNIT] == "" and "地下车库B2" in step.updates[c.DESCRIPTION]
    assert c.UNIT not in c.needed({**step.updates, c.CATEGORY: "parking"})


@pytest.mark.parametrize(("answer", "category"), [
    ("1", "noise"), ("2", "pets"), ("10", "other"), ("噪音", "noise"), ("费用账单", "fees"),
    ("是装修的问题", "renovation"), ("其他", "other"), ("狗的事", "pets"),
])
def test_category_answers(answer: str, category: str) -> None:
    assert c.step(answer, {}, c.CATEGORY).updates[c.CATEGORY] == category


@pytest.mark.parametrize(("answer", "urgency"), [
    ("紧急", "urgent"), ("很急", "urgent"), ("是", "urgent"), ("一般", "normal"), ("不急", "normal"),
    ("不紧急", "normal"), ("否", "normal"),
])
def test_urgency_answers(answer: str, urgency: str) -> None:
    assert c.step(answer, {}, c.URGENCY).updates[c.URGENCY] == urgency


def test_the_other_party_is_a_unit_never_a_name() -> None:
    named = c.step("老王家", {c.CATEGORY: "noise"}, c.OTHER_PARTY)
    assert named.updates[c.OTHER_PARTY] is None and "隐私" in named.said[0]
    assert c.step("6-302", {}, c.OTHER_PARTY).updates[c.OTHER_PARTY] == "6-302"
    assert c.step("不清楚是哪家", {}, c.OTHER_PARTY).updates[c.OTHER_PARTY] == c.NONE


@pytest.mark.parametrize("text", ["算了", "不用了", "算了吧，不投诉了", "取消", "先不弄了"])
def test_cancel_at_any_point(text: str) -> None:
    for asked in c.ASKED:
        step = c.step(text, {c.CATEGORY: "noise"}, asked)
        assert step.updates[c.STOP] == "cancel"
        assert c.needed({c.CATEGORY: "noise", **step.updates}) == []


def test_asking_for_a_person_ends_the_form_with_a_handoff() -> None:
    step = c.step("我要转人工", {}, c.UNIT)
    assert step.updates[c.STOP] == "handoff"
    assert c.opening("气死了，什么破物业！！！")[c.STOP] == "angry"


def test_corrections_at_the_confirmation() -> None:
    slots = {c.CATEGORY: "noise", c.UNIT: "5-101", c.DESCRIPTION: "楼上吵", c.OTHER_PARTY: "6-302",
             c.URGENCY: "normal"}
    unit = c.step("房号是5-102", slots, c.CONFIRMED)
    assert unit.updates[c.UNIT] == "5-102" and unit.updates[c.CONFIRMED] is None
    other = c.step("对方是6-402", slots, c.CONFIRMED)
    assert other.updates[c.OTHER_PARTY] == "6-402" and c.UNIT not in other.updates
    category = c.step("类别是宠物", slots, c.CONFIRMED)
    assert category.updates[c.CATEGORY] == "pets"
    urgent = c.step("应该是紧急", slots, c.CONFIRMED)
    assert urgent.updates[c.URGENCY] == "urgent"
    assert c.step("是的", slots, c.CONFIRMED).updates[c.CONFIRMED] is True
    unclear = c.step("不对", slots, c.CONFIRMED)
    assert unclear.updates[c.CONFIRMED] is None and "更正" in unclear.said[0]


def test_unreadable_answers_never_loop_forever() -> None:
    slots: dict = {c.CATEGORY: "noise"}
    for _ in range(c.MAX_RETRIES):
        step = c.step("嗯嗯嗯", slots, c.URGENCY)
        assert step.updates[c.URGENCY] is None
        slots.update(step.updates)
    last = c.step("嗯嗯嗯", slots, c.URGENCY)
    assert last.updates[c.URGENCY] == "normal" and last.updates[c.RETRIES] == 0
    confirm: dict = {c.CATEGORY: "noise", c.RETRIES: c.MAX_RETRIES}
    assert c.step("啥", confirm, c.CONFIRMED).updates[c.STOP] == "handoff"   # never submitted unconfirmed


def test_the_summary_and_ticket_fields() -> None:
    slots = {c.CATEGORY: "noise", c.UNIT: "5-101", c.DESCRIPTION: "<b>楼上</b>'; DROP TABLE tickets;--",
             c.OTHER_PARTY: c.NONE, c.URGENCY: "urgent", c.CONFIRMED: True}
    text = c.question(c.CONFIRMED, slots)
    assert "噪音" in text and "5-101" in text and "紧急" in text and "DROP TABLE" in text
    fields = c.ticket_fields(slots)
    assert fields == {"category": "noise", "unit": "5-101", "text": slots[c.DESCRIPTION], "other_party": None,
                      "priority": "urgent"}
    assert c.ticket_fields({})["category"] == "other"


def test_sensitive_categories_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant.settings import load_settings

    monkeypatch.delenv("ASSISTANT_SENSITIVE_CATEGORIES", raising=False)
    assert load_settings().sensitive_categories == {"fees"}
    monkeypatch.setenv("ASSISTANT_SENSITIVE_CATEGORIES", "fees, safety")
    assert load_settings().sensitive_categories == {"fees", "safety"}


@pytest.mark.parametrize(("text", "grievance"), [
    ("楼上装修太吵了", True), ("隔壁的狗天天叫，烦死了", True), ("地库车位又被人占了", True),
    ("物业费收得不合理", True), ("垃圾站臭死了没人管", True),
    ("装修几点可以开始", False), ("车位被占了怎么办", False), ("接到诈骗电话怎么举报", False),
    ("垃圾几点扔", False), ("宠物要办证吗", False),
])
def test_grievances_are_told_from_questions(text: str, grievance: bool) -> None:
    assert c.is_complaint(text) is grievance


@pytest.mark.parametrize(("text", "angry"), [
    ("你个傻逼机器人", True), ("气死了！！！", True), ("什么破物业，去死吧", True), ("nmsl", True),
    ("垃圾分类怎么分", False), ("狗粮放哪里", False), ("滚筒洗衣机能修吗", False), ("我快急死了 电梯坏了", False),
])
def test_anger_and_abuse_use_the_group_rules_patterns(text: str, angry: bool) -> None:
    assert c.is_angry(text) is angry


def test_the_form_reasoning_imports_without_databases_or_web_clients() -> None:
    import subprocess
    import sys

    code = ("import sys, assistant.dialogue.complaint as c; c.opening('楼上5栋101很吵，电话13812345678'); "
            "print(sorted(m for m in ('sqlalchemy', 'httpx', 'fastapi', 'assistant.desk') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "[]"
