"""Answers from the group's own bulletin: current notices, 辟谣 clarifications and the activity calendar.

    bulletin = Bulletin(store, embedder, min_score=0.88)
    hit = bulletin.lookup("明天几点停水")     # a BulletinHit, or None: the knowledge base answers

The engine asks it first (``dialogue/ports.py``'s ``BulletinPort``). A notice answers a question
while it is current (``valid_from <= now < valid_until``, not removed) when both hold: the question
shares a content word pair (two characters) with the notice, and the embedder (the same e5 model as
retrieval) puts them at cosine ``>= min_score``. A 辟谣 notice is matched on the rumour as well as the
clarification and answers with the clarification and its source. "这个月有什么活动" (this/next
month or week, the weekend, recently) lists the calendar's events in that period; with none there,
the knowledge base answers as before.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.schedule.models import Event, Notice
from assistant.schedule.rules import DEFAULT_TZ, zone

if TYPE_CHECKING:
    from assistant.knowledge.embedding import Embedder
    from assistant.schedule.store import ScheduleStore

log = logging.getLogger("assistant.schedule.bulletin")

_CAL_WORDS = re.compile(r"活动")
_CAL_ASK = re.compile(r"什么|啥|哪些|有没有|有无|安排|日历|日程|吗|么|[?？]")
_STOP_PAIRS = {"请问", "什么", "怎么", "为什", "么时", "时候", "是不", "不是", "有没", "没有", "我们", "你们", "这个",
               "那个", "一下", "可以", "小区", "听说", "真的", "的吗", "了吗", "是真", "大家"}
_CJK_OR_WORD = re.compile(r"[\u4e00-\u9fff]|[a-z0-9]+")
_WEEKDAYS = "一二三四五六日"


@dataclass(frozen=True)
class BulletinHit:
    text: str
    sources: list[dict[str, Any]] = field(default_factory=list)
    topic: str = "community"


def pairs(text: str) -> set[str]:
    """Two-character pairs of the text's Chinese characters (and whole latin words/numbers)."""
    units = _CJK_OR_WORD.findall(text.lower())
    return {a + b for a, b in pairwise(units)} | {u for u in units if len(u) > 1}


def passage(n: Notice) -> str:
    head = " ".join(n.tags)
    return f"{head} {n.rumour} {n.body}".strip()


def _period(text: str, now: datetime) -> tuple[datetime, datetime, str]:
    today = now.date()

    def span(a: date, b: date) -> tuple[datetime, datetime]:
        return (datetime.combine(a, time(), now.tzinfo), datetime.combine(b, time(), now.tzinfo))

    if re.search(r"下个?月", text):
        first = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
        a, b = span(first, (first + timedelta(days=32)).replace(day=1))
        return a, b, "下个月"
    if re.search(r"下(个)?(周|星期|礼拜)", text):
        monday = today - timedelta(days=today.weekday()) + timedelta(days=7)
        return (*span(monday, monday + timedelta(days=7)), "下周")
    if re.search(r"(这|本)(个)?(周|星期|礼拜)", text):
        monday = today - timedelta(days=today.weekday())
        return (*span(today, monday + timedelta(days=7)), "本周")
    if "周末" in text:
        saturday = today + timedelta(days=(5 - today.weekday()) % 7)
        return (*span(saturday, saturday + timedelta(days=2)), "周末")
    if "今天" in text:
        return (*span(today, today + timedelta(days=1)), "今天")
    if "明天" in text:
        return (*span(today + timedelta(days=1), today + timedelta(days=2)), "明天")
    if re.search(r"(这|本)(个)?月", text):
        nxt = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
        return (*span(today, nxt), "这个月")
    return (*span(today, today + timedelta(days=30)), "近30天")


def event_line(e: Event, tz: Any) -> str:
    s, t = e.start.astimezone(tz), e.end.astimezone(tz)
    end = f"{t:%H:%M}" if s.date() == t.date() else f"{t.month}月{t.day}日 {t:%H:%M}"
    line = f"· {s.month}月{s.day}日 周{_WEEKDAYS[s.weekday()]} {s:%H:%M}-{end} {e.title}（{e.place}）"
    return line + (f"，报名：接龙 {e.signup_id}" if e.signup_id else "")


class Bulletin:
    def __init__(self, store: ScheduleStore, embedder: Embedder | None, *, min_score: float = 0.88,
                 min_overlap: float = 0.1, tz: str = DEFAULT_TZ,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.store, self.embedder = store, embedder
        self.min_score, self.min_overlap = min_score, min_overlap
        self.tz = zone(tz)
        self.clock = clock or store.now
        self._vectors: dict[int, np.ndarray] = {}

    def lookup(self, text: str) -> BulletinHit | None:
        """The answer from the calendar or a current notice, or None. Never raises: a failing
        database or model is logged and the knowledge base answers."""
        try:
            now = self.clock().astimezone(self.tz)
            return self.calendar(text, now) or self.notice(text, now)
        except Exception:
            log.exception("bulletin lookup failed; answering from the knowledge base")
            return None

    # -- the activity calendar --------------------------------------------------------------------
    def calendar(self, text: str, now: datetime) -> BulletinHit | None:
        if not (_CAL_WORDS.search(text) and _CAL_ASK.search(text)):
            return None
        start, end, name = _period(text, now)
        events = [e for e in self.store.events(start.astimezone(UTC), end.astimezone(UTC))
                  if e.end > now]
        if not events:
            return None
        lines = [f"{name}的社区活动（共 {len(events)} 项）："] + [event_line(e, self.tz) for e in events[:10]]
        sources = [{"id": f"event-{e.id}", "title": e.title, "topic": "calendar", "score": 1.0} for e in events[:10]]
        return BulletinHit("\n".join(lines), sources)

    # -- notices and rumours ---------------------------------------------------------------------
    def notice(self, text: str, now: datetime) -> BulletinHit | None:
        notices = self.store.notices(current_at=now)
        if not notices:
            return None
        asked = pairs(text) - _STOP_PAIRS
        if not asked:
            return None
        candidates = []
        for n in notices:
            shared = asked & pairs(passage(n))
            if shared and len(shared) / len(asked) >= self.min_overlap:
                candidates.append(n)
        if not candidates:
            return None
        scores = self.scores(text, candidates)
        best, score = max(zip(candidates, scores, strict=True), key=lambda x: x[1])
        log.info("bulletin: notice %d scored %.3f (threshold %.3f)", best.id, score, self.min_score)
        if score < self.min_score:
            return None
        return BulletinHit(self.answer_text(best), [{"id": f"notice-{best.id}", "title": best.title,
                                                     "topic": "notice", "score": round(float(score), 4)}])

    def scores(self, text: str, notices: list[Notice]) -> list[float]:
        if self.embedder is None:
            return [1.0 for _ in notices]
        missing = [n for n in notices if n.id not in self._vectors]
        if missing:
            vecs = self.embedder.encode_passages([passage(n) for n in missing])
            for n, v in zip(missing, vecs, strict=True):
                self._vectors[n.id] = np.asarray(v, dtype=np.float32)
        q = np.asarray(self.embedder.encode_queries([text])[0], dtype=np.float32)
        return [float(np.dot(q, self._vectors[n.id])) for n in notices]

    def answer_text(self, n: Notice) -> str:
        until = n.valid_until.astimezone(self.tz)
        if n.kind == "rumour":
            return f"【辟谣】关于“{n.rumour}”：\n{n.body}\n来源：{n.source}"
        tags = "".join(f"#{t}#" for t in n.tags)
        src = f"\n来源：{n.source}" if n.source else ""
        return f"根据管理员发布的通知{tags}：\n{n.body}{src}\n（通知有效至 {until.month}月{until.day}日 {until:%H:%M}）"
