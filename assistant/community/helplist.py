"""The mutual-help list (互助清单): residents offer or ask for help by category; a new post is
matched privately with the other side's posts of the same category. And elderly residents'
emergency contacts, recorded by an admin with the consent given, shown to admins only.

    互助 提供 宠物 周末可以帮忙喂猫         互助 需要 工具 想借电钻用一下
"""

from __future__ import annotations

import builtins
import datetime as dt
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select

from assistant.community.errors import BadInput, NotFound
from assistant.community.store import Tables, known_id
from assistant.community.tables import ContactRow, HelpRow
from assistant.moderation.pii import is_mobile, redact_text

OFFER, ASK = "offer", "ask"
KIND_WORDS = {OFFER: ("提供", "我能", "能帮", "可以帮", "可提供", "出借", "借出", "offer"),
              ASK: ("需要", "求助", "想借", "求", "需求", "ask")}
KIND_NAMES = {OFFER: "我能提供", ASK: "我需要"}
# key: (Chinese name, words that name it)
CATEGORIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "pets": ("宠物照看", ("宠物", "猫", "狗", "遛狗", "喂猫", "铲屎")),
    "tools": ("工具借用", ("工具", "电钻", "梯子", "打气筒", "扳手", "螺丝刀", "锤子", "轮椅", "推车")),
    "legal": ("法律咨询", ("法律", "律师", "合同", "维权", "纠纷咨询")),
    "tutoring": ("辅导功课", ("辅导", "功课", "作业", "家教", "补习", "英语", "数学")),
    "errands": ("代收代办", ("快递", "代收", "代买", "跑腿", "浇花")),
    "elderly": ("助老陪护", ("老人", "陪诊", "就医", "陪护", "探望")),
    "medical": ("健康咨询", ("医生", "护士", "健康", "用药")),
    "other": ("其他", ("其他",)),
}
CATEGORY_NAMES = {k: v[0] for k, v in CATEGORIES.items()}
MAX_TEXT = 200
EXAMPLE = "例如：互助 提供 宠物 周末可以帮忙喂猫；互助 需要 工具 想借电钻"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class HelpPost:
    id: int
    kind: str
    category: str
    unit: str
    sender_id: str
    text: str
    created_at: dt.datetime
    active: bool


@dataclass(frozen=True)
class Posted:
    post: HelpPost
    matches: builtins.list[HelpPost]          # the other side's active posts, same category, other units


@dataclass(frozen=True)
class Contact:
    id: int
    unit: str
    resident: str
    contact_name: str
    relation: str
    phone: str
    consent_text: str
    consent_at: dt.datetime
    recorded_by: str


def _category(text: str) -> str | None:
    for key, (name, words) in CATEGORIES.items():
        if text.startswith(key) or text.startswith(name) or any(w in text for w in words):
            return key
    return None


def parse_post(text: str) -> tuple[str, str, str]:
    """``提供|需要 [类别] 内容`` -> (kind, category, text); ``BadInput`` when kind or text is missing."""
    s = unicodedata.normalize("NFKC", text or "").strip()
    kind = None
    for k, words in KIND_WORDS.items():
        for w in words:
            if s.startswith(w):
                kind, s = k, s[len(w):].strip(" :：,，")
                break
        if kind:
            break
    if kind is None:
        raise BadInput("kind", f"请说明是“提供”还是“需要”，{EXAMPLE}")
    first, _, rest = s.partition(" ")
    named = next((k for k, (name, _w) in CATEGORIES.items() if first in (k, name) or first == name[:2]), None)
    if named:
        category, body = named, rest.strip()
    else:
        category, body = _category(s) or "other", s
    if not body:
        raise BadInput("text", f"请写上具体内容，{EXAMPLE}")
    if len(body) > MAX_TEXT:
        raise BadInput("text", f"内容太长了（最多 {MAX_TEXT} 字）")
    return kind, category, body


def _post(r: HelpRow) -> HelpPost:
    return HelpPost(r.id, r.kind, r.category, r.unit, r.sender_id, r.text, r.created_at.replace(tzinfo=dt.UTC),
                    r.active)


class HelpList:
    def __init__(self, tables: Tables, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.tables = tables
        self.clock = clock

    def post(self, unit: str, sender_id: str, text: str) -> Posted:
        kind, category, body = parse_post(text)
        return self.add(kind, category, unit, sender_id, body)

    def add(self, kind: str, category: str, unit: str, sender_id: str, text: str, limit: int = 5) -> Posted:
        if kind not in KIND_NAMES:
            raise BadInput("kind", f"kind 要是 offer 或 ask，收到 {kind!r}")
        if category not in CATEGORIES:
            raise BadInput("category", f"没有“{category}”这个类别，可选：{'、'.join(CATEGORY_NAMES.values())}")
        body = redact_text(text.strip())
        if not body or len(body) > MAX_TEXT:
            raise BadInput("text", f"内容要有 1-{MAX_TEXT} 个字")
        row = HelpRow(kind=kind, category=category, unit=unit, sender_id=sender_id, text=body,
                      created_at=self.clock().astimezone(dt.UTC).replace(tzinfo=None), active=True)
        other = ASK if kind == OFFER else OFFER
        with self.tables.write() as s:
            s.add(row)
            s.flush()
            matches = [_post(r) for r in s.scalars(
                select(HelpRow).where(HelpRow.category == category, HelpRow.kind == other, HelpRow.active.is_(True),
                                      HelpRow.unit != unit).order_by(HelpRow.id.desc()).limit(limit))]
            return Posted(_post(row), matches)

    def list(self, category: str | None = None, kind: str | None = None,
             active_only: bool = True) -> builtins.list[HelpPost]:
        q = select(HelpRow).order_by(HelpRow.category, HelpRow.kind, HelpRow.id)
        if category:
            q = q.where(HelpRow.category == category)
        if kind:
            q = q.where(HelpRow.kind == kind)
        if active_only:
            q = q.where(HelpRow.active.is_(True))
        with self.tables.read() as s:
            return [_post(r) for r in s.scalars(q)]

    def withdraw(self, post_id: int, unit: str | None = None) -> HelpPost:
        """Take a post off the list; with ``unit``, only that unit's own post."""
        with self.tables.write() as s:
            row = s.get(HelpRow, known_id(post_id))
            if row is None or (unit is not None and row.unit != unit):
                raise NotFound(f"没有您登记的第 {post_id} 条互助信息")
            row.active = False
            return _post(row)

    # -- emergency contacts (admins only) -----------------------------------------------------------

    def add_contact(self, unit: str, resident: str, contact_name: str, relation: str, phone: str,
                    consent_text: str, recorded_by: str) -> Contact:
        """Record an elderly resident's emergency contact; the consent text is required."""
        phone_n = re.sub(r"[\s\-]", "", unicodedata.normalize("NFKC", phone or ""))
        if not (is_mobile(phone_n) or re.fullmatch(r"0\d{2,3}\d{7,8}", phone_n)):
            raise BadInput("phone", f"电话号码格式不对：要 11 位手机号或带区号的固话，收到 {len(phone_n)} 位")
        for name, value, most in (("resident", resident, 50), ("contact_name", contact_name, 50),
                                  ("relation", relation, 20)):
            if not (value or "").strip() or len(value) > most:
                raise BadInput(name, f"{name} 要有 1-{most} 个字")
        consent = (consent_text or "").strip()
        if len(consent) < 6 or len(consent) > 500:
            raise BadInput("consent", "须记录老人（或其监护人）同意登记的原话或书面同意内容（6-500 字）")
        row = ContactRow(unit=unit, resident=resident.strip(), contact_name=contact_name.strip(),
                         relation=relation.strip(), phone=phone_n, consent_text=consent,
                         consent_at=self.clock().astimezone(dt.UTC).replace(tzinfo=None), recorded_by=recorded_by)
        with self.tables.write() as s:
            s.add(row)
            s.flush()
            return _contact(row)

    def contacts(self, unit: str | None = None) -> builtins.list[Contact]:
        q = select(ContactRow).order_by(ContactRow.unit, ContactRow.id)
        if unit:
            q = q.where(ContactRow.unit == unit)
        with self.tables.read() as s:
            return [_contact(r) for r in s.scalars(q)]

    def remove_contact(self, contact_id: int) -> None:
        with self.tables.write() as s:
            row = s.get(ContactRow, known_id(contact_id))
            if row is None:
                raise NotFound(f"没有编号为 {contact_id} 的紧急联系人")
            s.delete(row)


def _contact(r: ContactRow) -> Contact:
    return Contact(r.id, r.unit, r.resident, r.contact_name, r.relation, r.phone, r.consent_text,
                   r.consent_at.replace(tzinfo=dt.UTC), r.recorded_by)
