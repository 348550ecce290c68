"""The complaint form's reasoning: what the opening message already tells, what to ask next, how
to read each answer, cancellation and corrections. Pure functions over a dict of slot values;
``actions/`` runs them inside Rasa's ``complaint_form``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from assistant.moderation.pii import redact_text
from assistant.text.normalize import prepare
from assistant.text.units import find_place, find_unit, normalize_building, normalize_unit, with_room
from assistant.vocabulary import (
    CATEGORIES,
    CATEGORY_ALIASES,
    CATEGORY_NAMES,
    CATEGORY_TABLE,
    URGENCY_NAMES,
    infer_category,
)

if TYPE_CHECKING:
    from assistant.knowledge.embedding import Embedder

CATEGORY = "complaint_category"
UNIT = "complaint_unit"
DESCRIPTION = "complaint_description"
OTHER_PARTY = "complaint_other_party"
URGENCY = "complaint_urgency"
CONFIRMED = "complaint_confirmed"
STOP = "complaint_stop"          # why the form ended early: cancel | handoff | angry (the engine: answered, unreadable)
RETRIES = "complaint_retries"    # times the slot being asked was asked again (unclear answer, interruption)
WANTED = "complaint_wanted"      # the resident asked for the form (投诉/反映 said, a grievance told, a category
                                 # chosen): thanks do not leave it
ASKED = (CATEGORY, UNIT, DESCRIPTION, OTHER_PARTY, URGENCY, CONFIRMED)
SLOTS = (*ASKED, STOP, RETRIES, WANTED)

NONE = "无"                      # no other party / unknown
PARTY_CATEGORIES = {"noise", "pets", "parking", "neighbour", "renovation"}
SHORT_ANSWER = 6                 # up to this many characters an answer is a word or two, not a sentence
MAX_RETRIES = 1                  # a question is asked at most twice; then a default is taken (DEFAULTS)
MENU = CATEGORIES               # numbered 1-10 in the category question
DEFAULTS: dict[str, Any] = {CATEGORY: "other", UNIT: "", DESCRIPTION: "（未说明）", OTHER_PARTY: NONE,
                            URGENCY: "normal"}
INTERRUPTIONS = {"question": "action_answer", "chitchat": "action_chitchat"}   # what answers an interruption
BACK = "我们继续登记："            # before a question asked again after an interruption

_CANCEL = re.compile(r"算了|不用了|取消|不(?:用|想|要)?投诉了?|不要了|不(?:弄|整|搞)了|没事了|撤销"
                     r"|(?:先|暂时|还是)不(?:用|要|弄|提交|登记)了?|不(?:提交|登记)了"
                     r"|[搞弄发点整]错了|拉倒|不是(?:要)?投诉|拜拜|再见|never\s*mind|forget\s+it|\bcancel\b"
                     r"|\bno\s+need\b|don'?t\s+bother", re.I)
_THANKS = re.compile(r"谢谢|多谢|感谢|谢啦|3q|thanks?|知道了|明白了|了解了|好的好的", re.I)
_CHITCHAT_INTENTS = ("greet", "thank", "bot_challenge")
_HANDOFF = re.compile(r"转人工|人工客服|找(?:个)?(?:真)?人|真人|找管理员|管理员来|找物业(?:的人|经理)")
_ANGRY = re.compile(r"气死|忍无可忍|受够了|太过分|欺人太甚|什么破|垃圾物业|狗屁|去死|投诉到(?:12345|市长|媒体|电视台)"
                    r"|打12345|曝光你们")
# "!!!" after Chinese words (not markup): angry when the message tells something
_BANGS = re.compile(r"[\u4e00-\u9fff][!！]{3,}")
# Urgency on a small graded scale (URGENCY_LEVELS): the 急 family scored by its intensity (很/特别 + 急,
# 急急急, 急！！ are stronger than 有点急), a negation before it (不/没/别/无需 … 急) turns it to "low"; danger
# and immediacy are "urgent", deadlines "high", indifference "normal", no hurry "low".
URGENCY_LEVELS = ("low", "normal", "high", "urgent")
_NEGATED_RUSH = re.compile(r"(?:不|没|唔|冇|(?<![特区分级类告识])别|无需|不用|不必|用不着)[^急，,。.!！?？]{0,3}急"
                           r"|不[着赶]急|不[赶慌]")
_RUSH = re.compile(r"(紧急|火急|急+|着急)([!！]*)")
_ENGLISH_URGENCY = re.compile(r"\b(not\s+(?:very\s+)?|no\s+)?(?:urgent|asap|emergency|rush|hurry)\b", re.I)
_STRONG = re.compile(r"(?:很|非常|特别|太|超级?|十分|相当|真的?|好|万分|极其|巨)$")
_DANGER = re.compile(r"危险|着火|起火|冒烟|漏电|触电|砸到|砸伤|受伤|救命|正在发生|煤气|燃气味|刻不容缓")
_NOW = re.compile(r"马上|立刻|立即|越快越好|现在就|赶快|火速|等不了|一刻")
_SOON = re.compile(r"尽快|尽早|赶紧|抓紧|早点|快点|今天|今晚|明天|这两天|两天内|之前|以前|前处理")
_SO_SO = re.compile(r"一般|普通|正常|还好|还行|无所谓|随便|都行|都可以|看着办|你们定|^否$|^不是$|^没有?$")
_RELAXED = re.compile(r"不赶时间|慢慢来|有空|有时间|不用太快|过几天|下周|改天|不要紧|不打紧")
_YES = re.compile(r"^(?:是|是的|对|对的|没错|确认|提交|好|好的|可以|行|嗯|ok|OK|yes|没问题)[啊呀吧的了。.!！~]*$")
_YES_WORD = (r"(?:是的?|系|对的?|没错|冇错|确认|确定|无误|提交|好的?|可以|行|嗯[嗯呐哪]?|ok|yes|yep|没问题|没毛病"
             r"|就这样|就这么(?:办|定)|yeah|yup|sure|right|correct|that'?s\s+right|confirm(?:ed)?)[啊呀吧的了。.!！~]*")
_CONFIRM = re.compile(rf"^{_YES_WORD}(?:[\s，,]*{_YES_WORD})*$", re.I)   # one yes word or several: 嗯 确认, 对的没错
_NO = re.compile(r"^(?:不是|不对|错了|有误|不正确|no|不)[啊呀吧的了。.!！~]*$", re.I)
_NONE = re.compile(r"没有|不(?:知道|晓得|清楚|确定|认识|记得)|没(?:看清|注意)|无|不涉及|没对方|公共|^不$")
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


_IDENTITY = re.compile(r"(?:是|你)(?:不是)?(?:机器人|真人|人工|AI|ai)(?:吗|么|嘛|还是|呀|啊)"
                       r"|机器人还是真人|真人还是机器人")


def wants_human(text: str) -> bool:
    """Asks for a person ("转人工", "找个真人"), not whether the bot is one ("你是机器人还是真人")."""
    return bool(_HANDOFF.search(text)) and not _IDENTITY.search(text)


def is_angry(text: str) -> bool:
    """Very angry (气死了, 什么破物业!!!) or abusive (the group rules' abuse patterns)."""
    return bool(_ANGRY.search(text)) or (bool(_BANGS.search(text)) and describes(text)) or _abusive(text)


_AT_BOT = re.compile(r"你|机器人|助手|客服|(?<![a-z])ai(?![a-z])|bot", re.I)


def insults_others(text: str) -> bool:
    """Abuse aimed at a neighbour or the staff, not at the bot, and no fury ("物业都是一群废物",
    "姓李的就是个垃圾人"): the group's warning is the answer, not a person taking over."""
    return _abusive(text) and not _ANGRY.search(text) and not _AT_BOT.search(text)


@lru_cache(maxsize=1)
def _abuse_rule() -> Any:
    from assistant.moderation.config import load_config

    return next((r for r in load_config().rules if r.id == "abuse"), None)


def _abusive(text: str) -> bool:
    from assistant.moderation.detect import match_rule, views

    rule = _abuse_rule()
    return rule is not None and match_rule(rule, views(text), False)


_QUESTION = re.compile(r"[?？]|想问|请问|问一?下|[该要].{0,8}还是(?!没|不|在)"
                       r"|(?<![还也都又就])(?:没有?|不)[呀啊]?[。.!！~]*$"
                       r"|([\u4e00-\u9fff])不\1|吗|多少|多久|多长|几点|几号|怎么|怎样|如何|哪里|在哪|去哪"
                       r"|到哪|哪儿|哪[\s。.!！~]*$|是否|能否|可不可以|可以.{0,8}吗|有没有|啥|什么")
_DEMAND = re.compile(r"管管|管一管|管不管|来管|管一?下|处理一下|投诉|举报|受不了|太过分|没人管|凭什么|要求|赔|"
                     r"怎么这么|怎么又|"
                     r"为什么又|太差|[!！]|到底|赶紧|催|拖了|[两三四五六七八九十几]次了|摆设")   # rhetorical: 到底…


_COMPLAINING = re.compile(r"什么(?:素质|态度)|(?:老|总|天天|经常)(?:是)?有人|太吵|吵死|吵得|吵到|扰民|受不了|忍不了|"
                         r"太臭|臭死|乱停|乱扔|乱叫|乱收|乱贴|乱放|"
                         r"没人(?:管|修|处理|理|清|扫)|不管不问|不合理|太差|太过分|投诉|举报|被.{0,6}占|堵死|天天.{0,6}(?:响|叫|吵)")


def is_complaint(text: str) -> bool:
    """A statement of grievance ("楼上装修太吵了"), even when NLU read it as a question on a topic."""
    return bool(_COMPLAINING.search(text)) and not _QUESTION.search(_RHETORIC.sub("", text))


def is_question(text: str) -> bool:
    """A question asked in complaint words ("楼道里可以放鞋柜吗"), not a demand ("能不能管管！") or scorn
    ("什么素质")."""
    return bool(_QUESTION.search(_RHETORIC.sub("", text))) and not _DEMAND.search(text)


_RHETORIC = re.compile(r"什么(?:素质|态度)")        # scorn in question words, asking nothing


def describes(text: str) -> bool:
    """Whether the message says what happened (not just "我要投诉")."""
    return len(_FILLER.sub("", text)) >= 4


def parse_category(text: str) -> str | None:
    """A category from an answer: its menu number, name or alias (停车, 保洁), or words that imply it
    (狗的事 -> pets); "other" for 其他; None when nothing fits."""
    s = text.strip()
    m = re.fullmatch(r"(?:第\s*)?(10|[1-9]|十|[一二三四五六七八九])\s*(?:个|项|类|种)?\s*[.、号。]?", s)
    if m:
        n = m.group(1)
        return MENU[(int(n) if n.isdigit() else "一二三四五六七八九十".index(n) + 1) - 1]
    for word, key in [*((k, k) for k in CATEGORIES if k != "other"), *CATEGORY_ALIASES.items()]:
        if word.isascii() and re.search(rf"\b{word}\b", s, re.I):     # English: noise, parking, neighbor
            return key
    short = len(s) <= SHORT_ANSWER        # a name or alias inside a sentence may be part of another word (卫生间)
    for key, name in CATEGORY_NAMES.items():
        if short and name in s:
            return key
    for alias, key in CATEGORY_ALIASES.items():
        if short and len(alias) >= 2 and alias in s and not alias.isascii():
            return key
    found = infer_category(s)
    if found != "other":
        return found
    return "other" if re.search(r"其他|其它|别的", s) else None


class CategoryGuesser:
    """A category by meaning, for an answer to the category question that names none ("路灯一直不亮"):
    the engine's embedder compares it with each category's own words (name, aliases and the words that
    imply it, from vocabulary.py); the closest counts only when clearly ahead of the next and closer
    than an answer with no content (ABSTAIN: "说不清楚", "随便"). Floor and margin were set by eye on e5-small
    with made-up answers; the category is shown at the confirmation, where it can be fixed."""

    ABSTAIN = ("不知道", "说不清楚", "随便", "嗯", "那个", "没什么", "我想想", "都行")

    def __init__(self, embedder: Embedder, *, floor: float = 0.85, margin: float = 0.012) -> None:
        self.embedder, self.floor, self.margin = embedder, floor, margin
        self._words: list[tuple[str, Any]] | None = None
        self._abstain: Any = None

    @staticmethod
    def category_words() -> list[tuple[str, list[str]]]:
        """Each category's own words (name, Chinese aliases, the Chinese words that imply it), "other" left out."""
        return [(c.key, [c.name, *(a for a in c.aliases if not a.isascii()),
                         *(w for w in c.keywords.split("|") if re.fullmatch(r"[\u4e00-\u9fff]+", w))])
                for c in CATEGORY_TABLE if c.key != "other"]

    @classmethod
    def passages(cls) -> list[str]:
        """Every text the guesser encodes as a passage (setup keeps their vectors for the action server)."""
        return [w for _, words in cls.category_words() for w in words] + list(cls.ABSTAIN)

    def _table(self) -> list[tuple[str, Any]]:
        if self._words is None:
            self._words = [(key, self.embedder.encode_passages(words)) for key, words in self.category_words()]
            self._abstain = self.embedder.encode_passages(list(self.ABSTAIN))
        return self._words

    def warm(self) -> None:
        """Encode the categories' words now."""
        self._table()

    def __call__(self, text: str) -> str | None:
        query = self.embedder.encode_queries([text])[0]
        scores = sorted(((float((vecs @ query).max()), key) for key, vecs in self._table()), reverse=True)
        (best, key), (second, _) = scores[0], scores[1]
        empty = float((self._abstain @ query).max())
        return key if best >= self.floor and best - second >= self.margin and best > empty else None


def guessed_opening(step: Step, text: str, guess: Callable[[str], str | None]) -> Step:
    """An opening that tells what happened but names no category ("楼道里有人拉飞线给电瓶车充电"): the
    category read by meaning (``guess``), shown at the confirmation where it can be fixed."""
    if CATEGORY in step.updates or DESCRIPTION not in step.updates or STOP in step.updates:
        return step
    key = guess(prepare(text))
    if key is None and {UNIT, URGENCY} <= step.updates.keys():
        key = "other"             # all else told at once: the summary next, where the category can be named
    if key is None:
        return step
    return Step(step.updates | {CATEGORY: key}, [*step.said, f"类别先按“{CATEGORY_NAMES[key]}”登记，确认时可以更正。"])


def guessed_category(text: str, asked: str | None, guess: Callable[[str], str | None]) -> Step | None:
    """The category read by meaning (``guess``, e.g. a CategoryGuesser) from an answer to the category
    question that is neither a menu choice nor a known word, nor a question or a cancel; None otherwise."""
    clean = prepare(text)
    if (asked != CATEGORY or parse_category(clean) is not None or is_cancel(clean) or wants_human(clean)
            or is_question(clean) or len(set(re.findall(r"[\u4e00-\u9fff]", _FILLER.sub("", clean)))) < 2):
        return None
    key = guess(clean)
    if key is None:
        return None
    updates: dict[str, Any] = {CATEGORY: key, RETRIES: 0}
    if len(clean) >= 8 and describes(clean):       # the grievance told at once: it is the description too
        updates[DESCRIPTION] = redact_text(text)
    return Step(updates, [f"类别先按“{CATEGORY_NAMES[key]}”登记，确认时可以更正。"])


def parse_unit(text: str) -> str | None:
    """A unit (5-101), a building alone (五号楼 -> 5), a building and a room said apart ("13栋的 房号1001"
    -> 13-1001) or None."""
    unit = normalize_unit(re.sub(r"^(?:我住|我家|我是|住在|在)", "", text.strip())) or find_unit(text)
    if unit:
        return unit
    m = re.search(r"([0-9一二三四五六七八九十]+)\s*(?:号楼|栋|幢|座|号)", text)
    building = normalize_building(m.group(0)) if m else normalize_building(text.strip())
    room = _ROOM.search(text[m.end():]) if m else None
    return (with_room(building, room.group(1)) or building) if room else building


def parse_location(text: str) -> str | None:
    """Where: a unit normalised (5-101, 5-1-101, 5) or a parking space or garage zone as written
    (B2-105车位, 地库B区); None otherwise."""
    place = find_place(text)
    unit = None if place and find_unit(text) is None else parse_unit(text)
    rest = re.sub(r"[0-9一二三四五六七八九十]+\s*(?:号楼|栋|幢|座|号)", "", text)
    if unit and "-" not in unit and _PLACE_WORD.search(rest):
        return text.strip()              # 3栋楼道, 5号楼电梯: a place in a building, kept as written
    return unit or place


_SENTENCE = re.compile(r"[我你他她它]|有人|被|把|了|吗|[?？]")   # a sentence, not a place's name
_PLACE_WORD = re.compile(r"[门库场道梯口园厅层位旁边角处站坪台顶室间]|单元|楼[道梯顶下前后]|大堂|花园|广场|车位")


def parse_urgency(text: str, *, answer: bool = True) -> str | None:
    """The urgency a message states, on URGENCY_LEVELS; None when it states none. ``answer``: the message
    answers the urgency question, so deadlines and indifference count too (in an opening complaint,
    "今天" is when it happened)."""
    english = _ENGLISH_URGENCY.search(text)
    if english:
        return "low" if english.group(1) else "urgent"
    rush = _rush_level(text)
    if _DANGER.search(text) and rush != 0:
        return "urgent"
    if rush is not None:
        return URGENCY_LEVELS[rush]
    if not answer:
        return None
    if _NOW.search(text):
        return "urgent"
    if _RELAXED.search(text):
        return "low"
    if _SOON.search(text):
        return "high"
    if _SO_SO.search(text):
        return "normal"
    return None


def _rush_level(text: str) -> int | None:
    """0-3 from the 急 family: negated 0; 有点急/挺急/急 2; 很急/急急/急！！/紧急 3; None without it."""
    if _NEGATED_RUSH.search(text):
        return 0
    level = None
    for m in _RUSH.finditer(text):
        word, bangs = m.group(1), m.group(2)
        strong = (word in ("紧急", "火急") or (len(word) >= 2 and word != "着急") or len(bangs) >= 2
                  or bool(_STRONG.search(text[max(0, m.start() - 3):m.start()])))
        level = max(level or 0, 3 if strong else 2)
    return level


def parse_yes_no(text: str) -> bool | None:
    s = text.strip()
    if _NO.match(s):
        return False
    if _CONFIRM.match(s):
        return True
    lead = _LEADING_YES.match(s)
    if lead and len(lead.group(1)) <= 15 and not _BUT.search(lead.group(1)) and not _FIX_WORDS.search(lead.group(1)) \
            and not _QUESTION.search(lead.group(1)):
        return True                   # "yes, submit it", "yes please", "对，麻烦你们了": a yes and a courtesy
    return None


_BACKCHANNEL = re.compile(r"^嗯+[嗯呐哪]?[。.!！~]*$")     # 嗯: listening, not saying yes to a question
_LEADING_YES = re.compile(rf"^{_YES_WORD}[\s，,!！.。]+(.+)$", re.I)
_BUT = re.compile(r"不|没|别|但|可是|还有|\b(?:no|not|but|wrong|change|wait)\b", re.I)


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
    elif find_place(clean):
        slots[UNIT] = find_place(clean)
    theirs = theirs or _relative_room(clean, mine)
    if theirs:
        slots[OTHER_PARTY] = theirs
    if describes(clean) and not announces(clean):     # 我要反映一个公共设施的问题: what about, not what happened
        slots[DESCRIPTION] = redact_text(clean)
    urgency = parse_urgency(clean, answer=False) or _opening_pace(clean)
    if urgency:
        slots[URGENCY] = urgency
    elif slots.get(CATEGORY) == "safety":
        slots[URGENCY] = "high"
    if OTHER_PARTY not in slots and mine and URGENCY in slots and DESCRIPTION in slots:
        # everything told at once (who they are, what happened, how urgent): the other party, when it is no
        # unit (a car, "楼上那家"), is shown as unknown at the confirmation rather than asked
        slots[OTHER_PARTY] = NONE
    if _ASKS_FORM.search(clean) or announces(clean) or is_complaint(clean):
        slots[WANTED] = True
    if is_angry(clean) and not insults_others(clean):     # fury, or abuse at the bot: a person
        slots[STOP] = "angry"
    elif wants_human(clean):
        slots[STOP] = "handoff"
    return slots


_ASKS_FORM = re.compile(r"投.?诉|反映|举报|意见|complain", re.I)


_UNIT_SPAN = re.compile(r"[0-9一二三四五六七八九十]+\s*(?:号楼|栋|幢|座|号|#|-|/)\s*"
                        r"(?:[0-9一二三四五六七八九十]+\s*单元\s*)?"
                        r"(?:[0-9]{2,5}\s*(?:室|号)?|[零〇○一二三四五六七八九幺两]{3,4}(?![十百千万点号]))?")
_RELATIVE = re.compile(r"(?:楼上|楼下|隔壁|对门|对面)(?:的|那家|那户)?\s*"
                       r"([0-9]{3,5}|[零〇○一二三四五六七八九幺两]{3,4})(?![0-9])")
# the pace an opening states in words that cannot be when it happened (越快越好, 有空处理下就行)
_OPENING_PACE = (("urgent", re.compile(r"越快越好|马上|立刻|立即|刻不容缓")),
                 ("high", re.compile(r"尽快|尽早|赶紧|抓紧")),
                 ("low", re.compile(r"不赶时间|慢慢来|有空(?:再|的时候|处理|弄|管|看)|不用太快|不要紧|不打紧")),
                 # "…，一般" closing a form-like opening: its urgency
                 ("normal", re.compile(r"[，,。\s](?:一般|普通|还好)(?:急)?[。.!！~]*$")))


def _relative_room(text: str, mine: str | None) -> str | None:
    """The other party by a room next to the resident's ("楼上402家", "楼下1602"): in the resident's building."""
    m = _RELATIVE.search(text)
    return with_room(mine, m.group(1)) if m and mine else None


def _opening_pace(text: str) -> str | None:
    return next((level for level, words in _OPENING_PACE if words.search(text)), None)
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


_ANNOUNCE = re.compile(r"^(?:我|俺|咱|想|要|有|个|点|些|件|一下|来|跟|向|给|找|你们|物业)*"
                       r"(?:反映|反馈|投(?:个|一下|下)?诉|举报|告状|申诉|报告|吐(?:个|一下|下)?槽"
                       r"|提(?:个|点|些)?意见|意见要提|意见)"
                       r"(?:一下|下|个|点|些|件)*(?:问题|情况|事儿?|意见)?[。.!！~]*$")


_ANNOUNCE_ABOUT = re.compile(r"^(?:我|俺|咱|想|要|有|来|跟|向|给|你们|物业)*(?:反映|反馈|投(?:个|一下|下)?诉|举报)"
                             r"(?:一下|下|一个|个|点|些|件)*(?P<what>[\u4e00-\u9fff]{1,6}?)的?"
                             r"(?P<tail>问题|情况|事儿?)?[。.!！~]*$")
# the property asked to step in, nothing told yet: 物业能不能管一管啊, 让物业来管管
_CALL_IN = re.compile(r"(?:物业|保安|管家|你们).{0,5}(?:管(?:一)?管|管一下|来管|处理(?:一)?下|出面|过问)")


def reports(text: str, opened: dict[str, Any]) -> bool:
    """A report in the form's own shape (``opened``: the slots its opening fills): where (the resident's unit
    or a place), what happened and how urgent, and no question ("我是3-2201的，车位被占三天了，比较急")."""
    return {UNIT, DESCRIPTION, URGENCY} <= opened.keys() and not is_question(text) and (
        parse_urgency(text, answer=False) or _opening_pace(text)) is not None


def announces(text: str) -> bool:
    """A complaint announced before its content: 我要反映个问题, 我有意见要提, 想投诉, 我要反映噪音问题
    (a subject named: a category word, or a few words and 问题/情况), 物业能不能管一管 (the property asked
    to step in, in a short message)."""
    t = text.replace(" ", "")
    if _ANNOUNCE.match(t):
        return True
    m = _ANNOUNCE_ABOUT.match(t)
    if m and (m.group("tail") or m.group("what") in CATEGORY_NAMES.values() or m.group("what") in CATEGORY_ALIASES):
        return True
    # little besides the call (物业能不能来管一下): a few characters, not a story
    return len(t) <= 14 and bool(_CALL_IN.search(t)) and len(_FILLER.sub("", _CALL_IN.sub("", t))) <= 4


_AGAIN = re.compile(r"又|再次|还在|还是没|仍然|依然|补充|第[二三四五六七八九十0-9]+次")


def goes_on(text: str) -> bool:
    """Words that tell the same matter again ("今晚又开始了", "补充一下", "还在响")."""
    return bool(_AGAIN.search(text))


def appended_to(ticket: Any) -> dict[str, Any]:
    """Every field of the form from an open ticket the message adds to: nothing is asked, the ticket grows."""
    return {CATEGORY: ticket.category, UNIT: ticket.unit or "", OTHER_PARTY: ticket.other_party_unit or NONE,
            URGENCY: ticket.priority, CONFIRMED: True}


def needed(slots: dict[str, Any]) -> list[str]:
    """The slots still to ask for, in order; empty when the form is done or stopped."""
    if slots.get(STOP):
        return []
    order = [CATEGORY, UNIT, DESCRIPTION]
    if slots.get(CATEGORY) in PARTY_CATEGORIES:
        order.append(OTHER_PARTY)
    order += [URGENCY, CONFIRMED]
    return [s for s in order if slots.get(s) is None]


def is_thanks(text: str) -> bool:
    return bool(_THANKS.search(text)) and len(text) <= 12


YES_NO_MAX = 12          # characters: a longer reply to the summary says more than yes or no


def nlu_yes_no(text: str, intent: str | None) -> bool | None:
    """A short reply that Rasa reads as yes or no (``affirm``/``deny``) where the form's own words do not
    know it (是滴, 要得, 冇问题, 妥了); None for a longer reply or one that names a correction."""
    if intent not in ("affirm", "deny") or len(text) > YES_NO_MAX or _FIX_WORDS.search(text):
        return None
    return intent == "affirm"


def step(text: str, slots: dict[str, Any], asked: str | None, intent: str | None = None) -> Step:
    """Read one message. ``asked`` is the slot the resident was asked for (None when the form starts);
    ``intent``: Rasa's reading of it when sure (a yes or no the form's words do not know)."""
    clean = prepare(text)
    if asked is None:
        return Step(opening(clean))
    if wants_human(clean):                              # "算了 直接转人工": the person, not just leaving
        return Step({STOP: "handoff", asked: None})
    if is_cancel(clean) or (_thanks_to_leave(clean, slots) and _read(asked, clean, slots)[0] is None):
        return Step({STOP: "cancel", asked: None})      # left, or thanked for a form started by mistake
    if asked != CONFIRMED and _MIDFORM_FIX.search(clean):
        fixes = {k: v for k, v in corrections(clean, slots).items() if slots.get(k) is not None}
        if fixes:                                        # "不对 我是23栋1701 写错了": fixed, the question stays
            return Step(fixes | {asked: None}, ["已更正。"])
    value, said = _read(asked, clean, slots)
    if value is None and asked == CONFIRMED and not said:
        yes = nlu_yes_no(clean, intent)
        if yes:
            value = True
        elif yes is False:                              # "no" without saying what is wrong
            said = [ASK_FIX]
    if value is None and asked == URGENCY and (_YES.match(clean) or nlu_yes_no(clean, intent)):
        # "好"/"对" to "how urgent?": the default
        value, said = DEFAULTS[URGENCY], [f"好的，紧急程度按“{URGENCY_NAMES['normal']}”登记。"]
    if value is not None:
        chosen = {WANTED: True} if asked == CATEGORY else {}
        updates = (value if isinstance(value, dict) else {asked: value}) | {RETRIES: 0} | chosen
        return Step(_pace(clean, slots, asked, updates) | updates, said)
    ahead = _out_of_order(clean, slots, asked)
    ahead = _pace(clean, slots, asked, ahead) | ahead
    again = _again(slots | ahead, asked, said)
    # another field's answer ("2栋1103" to the category question) is kept; the question counts as asked
    return Step(ahead | again.updates, again.said)


def _out_of_order(text: str, slots: dict[str, Any], asked: str) -> dict[str, Any]:
    """Fields the message answers though another was asked: a unit or place (by its shape), or, when
    nothing was described yet, a description (a grievance told in a sentence, with its category)."""
    if asked != OTHER_PARTY and slots.get(OTHER_PARTY) is None and _THEIR_WORDS.search(text) and len(text) <= 10:
        room = find_unit(text) or _room_of_neighbour(text, slots)
        if room:                      # "楼上602" while the description was asked
            return {OTHER_PARTY: room}
    if asked != UNIT and slots.get(UNIT) is None:
        unit = parse_location(text)
        if unit and ("-" in unit or find_place(text)):
            return {UNIT: unit}
    if asked != DESCRIPTION and slots.get(DESCRIPTION) is None and len(text) >= 8 and describes(text) \
            and not is_question(text) and not (asked == OTHER_PARTY and find_unit(text)):
        updates: dict[str, Any] = {DESCRIPTION: redact_text(text)}
        if slots.get(CATEGORY) in (None, "other") and infer_category(text) != "other":
            updates[CATEGORY] = infer_category(text)
        return updates
    return {}


def _pace(text: str, slots: dict[str, Any], asked: str, updates: dict[str, Any]) -> dict[str, Any]:
    """The urgency an answer to another question states ("不急，就是每天晚上油烟往楼上灌", "很急" to
    "which unit?"): kept, so it is not asked for."""
    if asked in (URGENCY, CONFIRMED) or slots.get(URGENCY) is not None or URGENCY in updates:
        return {}
    # to "which unit?" a short "一般吧，这周内弄好就行" can only be the urgency
    urgency = parse_urgency(text, answer=asked == OTHER_PARTY and len(text) <= SHORT_ANSWER * 2)
    return {URGENCY: urgency} if urgency else {}


def resume(slots: dict[str, Any], asked: str) -> Step:
    """Back from an interruption (a question answered, thanks acknowledged): ask again, or, when the
    question was already asked twice, take the default and move on."""
    return _again(slots, asked, [])


def _again(slots: dict[str, Any], asked: str, said: list[str]) -> Step:
    """The slot was not answered: it is asked again once; never a third time."""
    retries = int(slots.get(RETRIES) or 0) + 1
    if retries <= MAX_RETRIES:
        return Step({asked: None, RETRIES: retries}, said)
    if asked == CONFIRMED:            # never submitted unconfirmed: a person confirms with the resident
        return Step({STOP: "handoff", RETRIES: 0}, [*said, "我请值班管理员直接和您确认这张工单。"])
    value = DEFAULTS[asked]
    shown = {CATEGORY: CATEGORY_NAMES["other"], UNIT: "未说明", DESCRIPTION: "未说明", OTHER_PARTY: "不清楚",
             URGENCY: URGENCY_NAMES["normal"]}[asked]
    return Step({asked: value, RETRIES: 0}, [*said, f"{FIELD_NAMES[asked]}先按“{shown}”登记，确认时可以更正。"])


_MIDFORM_FIX = re.compile(r"错了|不对|说错|写错|搞错|弄错|打错|改成|改为|更正")
ASK_FIX = "请告诉我哪里需要更正，例如“房号是5-102”“类别是噪音”“不急”；不需要了可以说“算了”。"
FIELD_NAMES = {CATEGORY: "类别", UNIT: "位置", DESCRIPTION: "经过", OTHER_PARTY: "对方", URGENCY: "紧急程度"}


def _thanks_to_leave(text: str, slots: dict[str, Any]) -> bool:
    """Thanks in a form started by mistake (nothing told, perhaps a category guessed, the form never asked
    for): the resident leaves it. In a form they asked for, thanks are acknowledged and it goes on."""
    return is_thanks(text) and slots.get(DESCRIPTION) is None and slots.get(UNIT) is None and not slots.get(WANTED)


def _has_content(text: str) -> bool:
    """Two or more different Chinese characters besides filler words (漏水, not 嗯 or 啊这)."""
    return len(set(re.findall(r"[\u4e00-\u9fff]", _FILLER.sub("", text)))) >= 2


def _only_a_unit(text: str) -> bool:
    """A short message that is a unit or room and little else (楼上602, 5栋101室)."""
    return len(text) <= 10 and bool(find_unit(text) or _BARE_ROOM.match(text.strip()))


def interruption(text: str, intent: str | None, slots: dict[str, Any], asked: str | None) -> str | None:
    """Whether a message during the form is not an answer but a question ("question") or chitchat
    ("chitchat") to answer before asking again; None when it is an answer, a cancel or a request for
    a person (``step`` reads those)."""
    clean = prepare(text)
    if asked is None or is_cancel(clean) or wants_human(clean) or is_angry(clean):
        return None
    value = _read(asked, clean, slots, strict=True)[0]
    if value is not None or (asked == URGENCY and _YES.match(clean)):
        return None
    if (intent in _CHITCHAT_INTENTS and len(clean) <= 10) or is_thanks(clean):
        return None if _thanks_to_leave(clean, slots) else "chitchat"   # thanks to leave: step()
    asks = is_question(clean) and not is_complaint(clean)
    topical = bool(intent and intent.startswith("faq_"))
    if asks and (asked != DESCRIPTION or topical or intent in ("out_of_scope", "nlu_fallback")):
        return "question"                 # a description may say 为什么…: only a topic question interrupts it
    return None                           # not question-shaped: an answer, read (or re-asked) by step()


_BARE_ROOM = re.compile(r"^\D{0,5}?(?<![0-9-])([0-9]{3,5})(?![0-9-])\D{0,4}$")


def _room_of_neighbour(text: str, slots: dict[str, Any]) -> str | None:
    """A room number alone for the other party ("1002", "楼上403", "应该是1602那家"): in the resident's
    building (5-902 -> 5-1002); as written when the building is not known."""
    m = _BARE_ROOM.match(text.strip())
    if m is None or re.search(r"栋|幢|座|号楼|单元", text):
        return None
    return with_room(slots.get(UNIT), m.group(1)) or m.group(1)


def _read(asked: str, text: str, slots: dict[str, Any], *, strict: bool = False) -> tuple[Any, list[str]]:
    """The slot value (or a dict of updates) read from an answer, and anything to say. ``strict``: only
    values that cannot be a question (no place or description read from any text)."""
    if asked == CATEGORY:
        found = parse_category(text)
        if strict or (found is not None and len(text) <= SHORT_ANSWER):
            return found, []
        if len(text) >= 8 and describes(text) and not is_question(text) and not _only_a_unit(text) \
                and slots.get(DESCRIPTION) is None and parse_yes_no(text) is None:
            # the grievance told at once: the description too, its category from its words
            return {CATEGORY: found or "other", DESCRIPTION: redact_text(text)}, []
        if found is None and not strict and _CONFIRM.match(text) and not _BACKCHANNEL.match(text):
            # "对"/"yes that's right" to "which kind?": they think it is the summary; from what they told, or other
            key = infer_category(slots.get(DESCRIPTION) or "")
            return key, [f"好的，类别先按“{CATEGORY_NAMES[key]}”登记，确认时可以更正。"]
        if found is None and _has_content(text) and not find_unit(text) and not is_question(text):
            # a word that is no category (漏水, 设施): "other" for now; the description may tell the category
            return "other", [f"好的，类别先按“{CATEGORY_NAMES['other']}”登记，确认时可以更正。"]
        return found, []
    if asked == UNIT:
        unit = parse_location(text)
        if unit:
            return unit, []
        if not strict and 2 <= len(text) <= 15 and _PLACE_WORD.search(text) and not _SENTENCE.search(text):
            return redact_text(text), []          # a place: 东门岗亭旁边
        return None, []
    if asked == DESCRIPTION:
        if strict or not describes(text) or _only_a_unit(text):
            return None, []
        updates: dict[str, Any] = {DESCRIPTION: redact_text(text)}
        if slots.get(CATEGORY) in (None, "other") and infer_category(text) != "other":
            updates[CATEGORY] = infer_category(text)
        return updates, []
    if asked == OTHER_PARTY:
        unit = find_unit(text) or _room_of_neighbour(text, slots) or (
            parse_unit(text) if re.search(r"楼|栋|幢|座|-|#", text) else None)
        if unit:
            return unit, []
        if _NONE.search(text):
            return NONE, []
        if not strict and parse_urgency(text, answer=len(text) <= SHORT_ANSWER * 2):
            # "很急" to "which unit?": they skipped it; the urgency is kept (step), the other party unknown
            return NONE, ["对方先按“不清楚”登记，确认时可以更正。"]
        if not strict and (_CONFIRM.match(text) or _NO.match(text)):
            # "对"/"确认" to "which unit?": they think it is the summary; no unit to record
            return NONE, ["对方先按“不清楚”登记，确认时可以更正。"]
        if _NAME_HINT.search(text) or len(re.sub(r"[^\u4e00-\u9fffA-Za-z]", "", text)) <= 3:
            # perhaps a name (老王, 张三): not recorded, asked again
            return (None, []) if strict else (None, ["为保护隐私，我只记录对方的楼号房号，不记录姓名。"])
        return (None, []) if strict else (NONE, [])     # 车牌没看清, 楼下饭店: no unit to record
    if asked == URGENCY:
        return parse_urgency(text), []
    if asked == CONFIRMED:
        answer = parse_yes_no(text)
        fixes = corrections(text, slots)
        if fixes:
            if fixes.get(CATEGORY) in PARTY_CATEGORIES and slots.get(OTHER_PARTY) is None:
                fixes[OTHER_PARTY] = NONE        # shown as unknown in the summary, not asked now
            return fixes | {CONFIRMED: None}, ["已更正。"]
        if answer is False and not strict:
            return None, [ASK_FIX]
        return answer, []
    raise ValueError(f"unknown complaint slot {asked!r}")


_CLAUSE = re.compile(r"[，,；;。！!？?\n]|而且|并且|另外|还有|然后|同时|不过|但是")
_THEIR_WORDS = re.compile(r"对方|对面|邻居|隔壁|楼上|楼下|对门")
_MY_PLACE = re.compile(r"房号|房间|门牌|单元|楼号|我家|我住|住在|位置|地点|地方|在")
_ROOM = re.compile(r"(?:房号|房间号?|门牌号?|室)\s*(?:是|改为|改成|应该是|写)?\s*"
                   r"([0-9零〇一二三四五六七八九幺两]{2,5})(?:室|号)?")
_THEIR_ROOM = re.compile(r"(?<![0-9不])([0-9]{3,5})(?![0-9])")      # the first room not negated (是602不是502)
_CATEGORY_FIX = re.compile(r"类别|类型|分类|属于|算是|应该是|其实是|问题是|改成|改为")
_FIX_WORDS = re.compile(r"房号|门牌|楼号|单元|位置|地点|对方|类别|类型|分类|紧急|改|错|应该")
_DESCRIPTION_FIX = re.compile(r"(?:经过|描述|情况|内容|补充)\s*(?:(?:是|改为|改成)\s*[:：]?|[:：])\s*(.{4,})")


def corrections(text: str, slots: dict[str, Any]) -> dict[str, Any]:
    """Changes named in a reply to the confirmation, in any order and several at once ("房号是502，而且挺急的"):
    房号/位置 → unit (a room alone keeps the building), 对方 → other party, category, urgency, 经过/补充 → the
    description."""
    fixes: dict[str, Any] = {}
    described = _DESCRIPTION_FIX.search(text)
    if described:
        fixes[DESCRIPTION] = redact_text(described.group(1).strip())
        text = text[:described.start()]
    for clause in (c.strip() for c in _CLAUSE.split(text)):
        if not clause or (is_question(clause) and not _FIX_WORDS.search(clause)):
            continue                      # "停车费多少钱" at the confirmation is a question, not a category
        unit = find_unit(clause) or find_place(clause)
        room = _ROOM.search(clause)
        their_room = _THEIR_ROOM.search(clause) if _THEIR_WORDS.search(clause) and not unit else None
        if unit and _THEIR_WORDS.search(clause):
            fixes[OTHER_PARTY] = unit
        elif their_room:                  # "对方写错了 是602不是502": a room in the resident's building
            other = with_room(slots.get(UNIT), their_room.group(1)) or their_room.group(1)
            if other != slots.get(OTHER_PARTY):
                fixes[OTHER_PARTY] = other
        elif unit or room or _MY_PLACE.search(clause):
            u = unit or (with_room(slots.get(UNIT), room.group(1)) if room else None) or parse_location(
                re.sub(r"^.*?(?:是|改为|改成|在)", "", clause))
            mine = slots.get(UNIT) or ""
            if u and u.isdigit() and re.fullmatch(r"\d+-\d+", mine):
                u = f"{u}-{mine.split('-')[1]}"   # 楼号错了 应该是8栋: the building changes, the room stays
            if u and u != slots.get(UNIT):
                fixes[UNIT] = u
        if (_CATEGORY_FIX.search(clause) or len(clause) <= 6) and not unit and not room and not their_room:
            category = parse_category(re.sub(r"房号|单元|楼号", "", clause))
            if category and category != slots.get(CATEGORY) and category != "other":
                fixes[CATEGORY] = category
        urgency = parse_urgency(clause) if re.search(r"急|一般|普通|危险|慢慢|尽快|马上", clause) else None
        if urgency and urgency != slots.get(URGENCY):
            fixes[URGENCY] = urgency
    return fixes


def question(slot: str, slots: dict[str, Any]) -> str:
    """What to ask for ``slot``."""
    if slot == CATEGORY:
        menu = "  ".join(f"{i + 1}.{CATEGORY_NAMES[c]}" for i, c in enumerate(MENU))
        return f"好的，我来帮您登记。请问是哪类问题？回复序号或名称：\n{menu}\n（不想登记了随时说“算了”）"
    if slot == UNIT:
        return "请问您的楼号-房号，或事情发生的位置？例如 5-101、5栋101、5号楼1单元101、3栋楼道、B2-105车位。"
    if slot == DESCRIPTION:
        return "请简单说说发生了什么（时间、经过）。请不要发送身份证号、银行卡号等个人信息。"
    if slot == OTHER_PARTY:
        return "对方是哪一户？请只告诉我楼号房号（如 6-302），不要说姓名；不清楚或没有对方请回复“不清楚”。"
    if slot == URGENCY:
        return "这件事有多急？直接说就行，比如“紧急”（正在发生或有安全风险）、“比较急”、“一般”、“不急”。"
    if slot == CONFIRMED:
        return (f"请确认工单信息：\n{summary(slots)}\n"
                "回复“是”提交；需要更正请直接说，可以一次说几处，如“房号是5-102，比较急”；不登记了说“算了”。")
    raise ValueError(f"unknown complaint slot {slot!r}")


def shown_unit(unit: str | None) -> str | None:
    """A unit as residents write it, 楼号-房号 first: 5-1-101 -> 5-101（1单元）; anything else as it is."""
    m = re.fullmatch(r"(\d+)-(\d+)-(\d+)", unit or "")
    return f"{m.group(1)}-{m.group(3)}（{m.group(2)}单元）" if m else unit


def summary(slots: dict[str, Any]) -> str:
    """Every field of the ticket, as it will be opened."""
    category = slots.get(CATEGORY) or "other"
    other = slots.get(OTHER_PARTY)
    return "\n".join([
        f"类别：{CATEGORY_NAMES.get(category, category)}",
        f"位置：{shown_unit(slots.get(UNIT)) or '（未说明）'}",
        f"经过：{slots.get(DESCRIPTION) or '（未说明）'}",
        f"对方：{other if other and other != NONE else ('不清楚' if category in PARTY_CATEGORIES else '不涉及')}",
        f"紧急程度：{URGENCY_NAMES.get(slots.get(URGENCY) or 'normal', '一般')}",
    ])


def ticket_fields(slots: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments for ``TicketStore.open_or_append`` from the filled slots; a place that is not a
    unit (B2-105车位, 3栋楼道) goes into the text."""
    where = slots.get(UNIT) or None
    unit = (normalize_unit(where) or normalize_building(where) or parse_unit(where)) if where else None
    text = slots.get(DESCRIPTION) or "（未说明）"
    if where and unit != where and where not in text:
        text = _add_place(text, where)
    other = slots.get(OTHER_PARTY)
    other = other if other and other != NONE and normalize_unit(other) else None
    return {"category": slots.get(CATEGORY) or "other", "unit": unit, "text": text, "other_party": other,
            "priority": slots.get(URGENCY) or "normal"}


def _add_place(description: str | None, place: str) -> str:
    place = redact_text(place)
    return f"{description}（地点：{place}）" if description else f"（地点：{place}）"
