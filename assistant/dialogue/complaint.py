"""The complaint form's reasoning: what the opening message already tells, what to ask next, how
to read each answer, cancellation and corrections. Pure functions over a dict of slot values;
``actions/`` runs them inside Rasa's ``complaint_form``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from assistant.moderation.pii import redact_text
from assistant.text.normalize import prepare
from assistant.text.units import find_unit, normalize_building, normalize_unit
from assistant.vocabulary import CATEGORIES, CATEGORY_NAMES, URGENCY_NAMES, infer_category

CATEGORY = "complaint_category"
UNIT = "complaint_unit"
DESCRIPTION = "complaint_description"
OTHER_PARTY = "complaint_other_party"
URGENCY = "complaint_urgency"
CONFIRMED = "complaint_confirmed"
STOP = "complaint_stop"          # why the form ended early: cancel | handoff | angry (the engine: answered, unreadable)
RETRIES = "complaint_retries"    # unreadable answers to the slot being asked
ASKED = (CATEGORY, UNIT, DESCRIPTION, OTHER_PARTY, URGENCY, CONFIRMED)
SLOTS = (*ASKED, STOP, RETRIES)

NONE = "无"                      # no other party / unknown
PARTY_CATEGORIES = {"noise", "pets", "parking", "neighbour", "renovation"}
MAX_RETRIES = 2
MENU = CATEGORIES               # numbered 1-10 in the category question

_CANCEL = re.compile(r"算了|不用了|取消|不投诉了?|不要了|不弄了|没事了|撤销|不想投诉|先不(?:用|要|弄)了?")
_HANDOFF = re.compile(r"转人工|人工客服|找(?:个)?(?:真)?人|真人|找管理员|管理员来|找物业(?:的人|经理)")
_ANGRY = re.compile(r"气死|忍无可忍|受够了|太过分|欺人太甚|什么破|垃圾物业|狗屁|去死|投诉到(?:12345|市长|媒体|电视台)"
                    r"|打12345|曝光你们|[\u4e00-\u9fff][!！]{3,}")   # "!!!" after Chinese words, not after markup
_URGENT = re.compile(r"紧急|很急|特别急|急急|马上|立刻|危险|着火|冒烟|漏电|砸到|受伤|救命|正在发生|^急|^是$|^是的")
_NOT_URGENT = re.compile(r"不急|不紧急|一般|普通|不着急|还好|^否|^不是|^没有?$|不太急")
_YES = re.compile(r"^(?:是|是的|对|对的|没错|确认|提交|好|好的|可以|行|嗯|ok|OK|yes|没问题)[啊呀吧的了。.!！~]*$")
_NO = re.compile(r"^(?:不是|不对|错了|有误|不正确|no|不)[啊呀吧的了。.!！~]*$")
_NONE = re.compile(r"没有|不知道|不清楚|不确定|无|不涉及|没对方|公共|^不$")
_FILLER = re.compile(r"我要|我想|想要|要|投诉|反映|举报|反馈|一下|物业|你们|帮我|请|麻烦|的|了|啊|吧|呢|哦|个|"
                     r"问题|事情?|[\s，,。.!！?？~、]")
_NAME_HINT = re.compile(r"姓|先生|女士|阿姨|大爷|老王|老李|老张|[张王李赵刘陈杨黄周吴]某")


@dataclass
class Step:
    """What one resident message changes: slot updates and anything to say first."""

    updates: dict[str, Any] = field(default_factory=dict)
    said: list[str] = field(default_factory=list)


def is_cancel(text: str) -> bool:
    return bool(_CANCEL.search(text)) and len(text) <= 20


def wants_human(text: str) -> bool:
    return bool(_HANDOFF.search(text))


def is_angry(text: str) -> bool:
    """Very angry (气死了, 什么破物业!!!) or abusive (the group rules' abuse patterns)."""
    return bool(_ANGRY.search(text)) or _abusive(text)


@lru_cache(maxsize=1)
def _abuse_rule() -> Any:
    from assistant.moderation.config import load_config

    return next((r for r in load_config().rules if r.id == "abuse"), None)


def _abusive(text: str) -> bool:
    from assistant.moderation.detect import match_rule, views

    rule = _abuse_rule()
    return rule is not None and match_rule(rule, views(text), False)


_QUESTION = re.compile(r"[?？]|吗|多少|多久|多长|几点|几号|怎么|怎样|如何|哪里|在哪|哪儿|是否|能否|"
                       r"可不可以|可以.{0,8}吗|有没有|啥|什么")
_DEMAND = re.compile(r"管管|管一管|处理一下|投诉|举报|受不了|太过分|没人管|凭什么|要求|赔|怎么这么|怎么又|"
                     r"为什么又|太差|[!！]")


_COMPLAINING = re.compile(r"太吵|吵死|吵得|吵到|扰民|受不了|忍不了|太臭|臭死|乱停|乱扔|乱叫|乱收|乱贴|乱放|"
                         r"没人管|不管不问|不合理|太差|太过分|投诉|举报|被.{0,6}占|堵死|天天.{0,6}(?:响|叫|吵)")


def is_complaint(text: str) -> bool:
    """A statement of grievance ("楼上装修太吵了"), even when NLU read it as a question on a topic."""
    return bool(_COMPLAINING.search(text)) and not _QUESTION.search(text)


def is_question(text: str) -> bool:
    """A question asked in complaint words ("楼道里可以放鞋柜吗"), not a demand ("能不能管管！")."""
    return bool(_QUESTION.search(text)) and not _DEMAND.search(text)


def describes(text: str) -> bool:
    """Whether the message says what happened (not just "我要投诉")."""
    return len(_FILLER.sub("", text)) >= 4


def parse_category(text: str) -> str | None:
    s = text.strip()
    m = re.fullmatch(r"(10|[1-9])\s*[.、号]?", s)
    if m:
        return MENU[int(m.group(1)) - 1]
    for key, name in CATEGORY_NAMES.items():
        if name in s:
            return key
    found = infer_category(s)
    if found != "other":
        return found
    return "other" if re.search(r"其他|其它|别的", s) else None


def parse_unit(text: str) -> str | None:
    """A unit (5-101), a building alone (五号楼 -> 5) or None."""
    unit = normalize_unit(re.sub(r"^(?:我住|我家|我是|住在|在)", "", text.strip())) or find_unit(text)
    if unit:
        return unit
    m = re.search(r"([0-9一二三四五六七八九十]+)\s*(?:号楼|栋|幢|座|号)", text)
    return normalize_building(m.group(0)) if m else normalize_building(text.strip())


def parse_urgency(text: str) -> str | None:
    if _NOT_URGENT.search(text):
        return "normal"
    if _URGENT.search(text):
        return "urgent"
    return None


def parse_yes_no(text: str) -> bool | None:
    s = text.strip()
    if _NO.match(s):
        return False
    if _YES.match(s):
        return True
    return None


def opening(text: str) -> dict[str, Any]:
    """Slots the complaint's first message already fills."""
    clean = prepare(text)
    slots: dict[str, Any] = {}
    category = infer_category(clean)
    if category != "other":
        slots[CATEGORY] = category
    mine, theirs = _units(clean)
    if mine:
        slots[UNIT] = mine
    if theirs:
        slots[OTHER_PARTY] = theirs
    if describes(clean):
        slots[DESCRIPTION] = redact_text(clean)
    if _URGENT.search(clean) and not _NOT_URGENT.search(clean):
        slots[URGENCY] = "urgent"
    elif slots.get(CATEGORY) == "safety":
        slots[URGENCY] = "high"
    if is_angry(clean):
        slots[STOP] = "angry"
    elif wants_human(clean):
        slots[STOP] = "handoff"
    return slots


_UNIT_SPAN = re.compile(r"[0-9一二三四五六七八九十]+\s*(?:号楼|栋|幢|座|号|#|-|/)\s*"
                        r"(?:[0-9一二三四五六七八九十]+\s*单元\s*)?(?:[0-9]{2,5}\s*(?:室|号)?)?")
_THEIRS = re.compile(r"(?:楼上|楼下|隔壁|对门|对面|邻居|对方)\S{0,2}$")
_MINE = re.compile(r"我(?:家|住|是|们家)?\S{0,2}$")


def _units(text: str) -> tuple[str | None, str | None]:
    """The resident's own unit (or building) and the other party's unit named in a message."""
    mine = theirs = None
    for m in _UNIT_SPAN.finditer(text):
        unit = find_unit(m.group(0)) or parse_unit(m.group(0))
        if not unit:
            continue
        before = text[max(0, m.start() - 4):m.start()]
        if _THEIRS.search(before) and theirs is None:
            theirs = unit
        elif (_MINE.search(before) and mine is None) or (
                mine is None and "-" in unit and theirs is None and not _MINE.search(text)):
            mine = unit
        elif theirs is None and "-" in unit:
            theirs = unit
    return mine, theirs


def needed(slots: dict[str, Any]) -> list[str]:
    """The slots still to ask for, in order; empty when the form is done or stopped."""
    if slots.get(STOP):
        return []
    order = [CATEGORY, UNIT, DESCRIPTION]
    if slots.get(CATEGORY) in PARTY_CATEGORIES:
        order.append(OTHER_PARTY)
    order += [URGENCY, CONFIRMED]
    return [s for s in order if slots.get(s) is None]


def step(text: str, slots: dict[str, Any], asked: str | None) -> Step:
    """Read one message. ``asked`` is the slot the resident was asked for (None when the form starts)."""
    clean = prepare(text)
    if asked is None:
        return Step(opening(clean))
    if is_cancel(clean):
        return Step({STOP: "cancel", asked: None})
    if wants_human(clean):
        return Step({STOP: "handoff", asked: None})
    value, said = _read(asked, clean, slots)
    if value is not None:
        return Step(value | {RETRIES: 0} if isinstance(value, dict) else {asked: value, RETRIES: 0}, said)
    retries = int(slots.get(RETRIES) or 0) + 1
    if retries > MAX_RETRIES:             # never loop forever: take a sensible default and go on
        fallback = {CATEGORY: "other", UNIT: "", DESCRIPTION: redact_text(clean) or "（未说明）", OTHER_PARTY: NONE,
                    URGENCY: "normal", CONFIRMED: None}[asked]
        if asked == CONFIRMED:            # three unclear answers to "submit?": a person takes over
            return Step({STOP: "handoff", RETRIES: 0}, said)
        return Step({asked: fallback, RETRIES: 0}, said)
    return Step({asked: None, RETRIES: retries}, said)


def _read(asked: str, text: str, slots: dict[str, Any]) -> tuple[Any, list[str]]:
    """The slot value (or a dict of updates) read from an answer, and anything to say."""
    if asked == CATEGORY:
        return parse_category(text), []
    if asked == UNIT:
        unit = parse_unit(text)
        if unit:
            return unit, []
        if len(text) >= 2 and not re.fullmatch(r"[\d\s]+", text):   # a place: 地下车库, 3栋楼道
            return {UNIT: "", DESCRIPTION: _add_place(slots.get(DESCRIPTION), text)}, []
        return None, []
    if asked == DESCRIPTION:
        if not describes(text):
            return None, []
        updates: dict[str, Any] = {DESCRIPTION: redact_text(text)}
        if slots.get(CATEGORY) is None and infer_category(text) != "other":
            updates[CATEGORY] = infer_category(text)
        return updates, []
    if asked == OTHER_PARTY:
        unit = find_unit(text) or (parse_unit(text) if re.search(r"楼|栋|幢|座|-|#", text) else None)
        if unit:
            return unit, []
        if _NONE.search(text):
            return NONE, []
        if _NAME_HINT.search(text) or len(text) <= 6:
            return None, ["为保护隐私，我只记录对方的楼号房号，不记录姓名。"]
        return None, []
    if asked == URGENCY:
        return parse_urgency(text), []
    if asked == CONFIRMED:
        answer = parse_yes_no(text)
        fixes = corrections(text, slots)
        if fixes:
            return fixes | {CONFIRMED: None}, ["已更正。"]
        if answer is False:
            return None, ["请告诉我哪里需要更正，例如“房号是5-102”“类别是噪音”“不紧急”；不需要了可以说“算了”。"]
        return answer, []
    raise ValueError(f"unknown complaint slot {asked!r}")


def corrections(text: str, slots: dict[str, Any]) -> dict[str, Any]:
    """Changes named in a reply to the confirmation: 房号/单元 → unit, 对方 → other party, category,
    urgency."""
    fixes: dict[str, Any] = {}
    unit = find_unit(text)
    if unit and re.search(r"对方|对面|邻居|隔壁|楼上|楼下", text):
        fixes[OTHER_PARTY] = unit
    elif unit or re.search(r"房号|单元|楼号|我家|我住", text):
        u = unit or parse_unit(text)
        if u:
            fixes[UNIT] = u
    if re.search(r"类别|类型|分类|不是.{0,6}是|应该是", text) or len(text) <= 8:
        category = parse_category(re.sub(r"房号|单元|楼号", "", text)) if not unit else None
        if category and category != slots.get(CATEGORY) and category != "other":
            fixes[CATEGORY] = category
    urgency = parse_urgency(text) if re.search(r"急|一般|普通", text) else None
    if urgency and urgency != slots.get(URGENCY):
        fixes[URGENCY] = urgency
    return fixes


def _add_place(description: str | None, place: str) -> str:
    place = redact_text(place)
    return f"{description}（地点：{place}）" if description else f"（地点：{place}）"


def question(slot: str, slots: dict[str, Any]) -> str:
    """What to ask for ``slot``."""
    if slot == CATEGORY:
        menu = "  ".join(f"{i + 1}.{CATEGORY_NAMES[c]}" for i, c in enumerate(MENU))
        return f"好的，我来帮您登记。请问是哪类问题？回复序号或名称：\n{menu}\n（不想登记了随时说“算了”）"
    if slot == UNIT:
        return "请问您的楼号-房号，或事情发生的位置？例如 5-101、5栋101、5号楼1单元101、3栋楼道。"
    if slot == DESCRIPTION:
        return "请简单说说发生了什么（时间、经过）。请不要发送身份证号、银行卡号等个人信息。"
    if slot == OTHER_PARTY:
        return "对方是哪一户？请只告诉我楼号房号（如 6-302），不要说姓名；不清楚或没有对方请回复“不清楚”。"
    if slot == URGENCY:
        return "情况紧急吗？有安全风险或正在发生请回复“紧急”，否则回复“一般”。"
    if slot == CONFIRMED:
        return (f"请确认工单信息：\n{summary(slots)}\n"
                "回复“是”提交；需要更正请直接说，如“房号是5-102”；不登记了说“算了”。")
    raise ValueError(f"unknown complaint slot {slot!r}")


def summary(slots: dict[str, Any]) -> str:
    category = slots.get(CATEGORY) or "other"
    lines = [f"类别：{CATEGORY_NAMES.get(category, category)}",
             f"位置：{slots.get(UNIT) or '（见描述）'}",
             f"经过：{slots.get(DESCRIPTION) or '（未说明）'}"]
    if category in PARTY_CATEGORIES:
        lines.append(f"对方：{slots.get(OTHER_PARTY) or NONE}")
    lines.append(f"紧急程度：{URGENCY_NAMES.get(slots.get(URGENCY) or 'normal', '一般')}")
    return "\n".join(lines)


def ticket_fields(slots: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments for ``TicketStore.open_or_append`` from the filled slots."""
    unit = slots.get(UNIT) or None
    other = slots.get(OTHER_PARTY)
    return {"category": slots.get(CATEGORY) or "other", "unit": unit,
            "text": slots.get(DESCRIPTION) or "（未说明）",
            "other_party": other if other and other != NONE else None,
            "priority": slots.get(URGENCY) or "normal"}
