"""The group's figures for a period, never any message text: messages and active participants per
day, questions asked and answered, answer rate by topic, tickets opened/resolved, median and p90
time to resolve, SLA breaches, CSAT, handoffs and their waiting time, moderation actions by rule."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from assistant.desk.handoff.queue import HandoffRow
from assistant.desk.tickets.schema import ReminderRow, TicketRow
from assistant.errors import DataError
from assistant.learning.store import LearningStore

QUESTION_ROUTES = ("answer", "fallback")       # a turn that asked something of the knowledge base
_QUARTER = re.compile(r"^(\d{4})\s*Q([1-4])$", re.I)
TZ = dt.timezone(dt.timedelta(hours=8))           # the estate's days (Asia/Shanghai, no DST)


@dataclass(frozen=True)
class Period:
    name: str
    start: dt.datetime         # naive UTC, inclusive
    end: dt.datetime           # naive UTC, exclusive

    @classmethod
    def quarter(cls, text: str) -> Period:
        m = _QUARTER.match(text.strip())
        if not m:
            raise DataError(f"quarter must look like 2026Q4, not {text!r}", field="quarter")
        year, q = int(m.group(1)), int(m.group(2))
        start = dt.datetime(year, 3 * q - 2, 1, tzinfo=TZ)
        end = dt.datetime(year + (q == 4), 1 if q == 4 else 3 * q + 1, 1, tzinfo=TZ)
        return cls(f"{year}Q{q}", _utc(start), _utc(end))

    def previous(self) -> Period:
        year, q = int(self.name[:4]), int(self.name[-1])
        return Period.quarter(f"{year - 1}Q4" if q == 1 else f"{year}Q{q - 1}")

    def days(self) -> list[dt.date]:
        first = (self.start + dt.timedelta(hours=8)).date()
        last = (self.end + dt.timedelta(hours=8)).date()
        return [first + dt.timedelta(days=i) for i in range((last - first).days)]


def _utc(t: dt.datetime) -> dt.datetime:
    return t.astimezone(dt.UTC).replace(tzinfo=None)


def _aware(t: dt.datetime) -> dt.datetime:
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t


def _day(t: dt.datetime) -> dt.date:
    return (_aware(t).astimezone(TZ)).date()


@dataclass
class Metrics:
    period: Period
    messages_per_day: dict[dt.date, int] = field(default_factory=dict)
    participants_per_day: dict[dt.date, int] = field(default_factory=dict)
    messages: int = 0
    participants: int = 0
    questions: int = 0
    answered: int = 0
    by_topic: dict[str, tuple[int, int]] = field(default_factory=dict)      # topic -> (asked, answered)
    routes: dict[str, int] = field(default_factory=dict)
    helpful: int = 0
    unhelpful: int = 0
    tickets_opened: int = 0
    tickets_resolved: int = 0
    resolve_hours_median: float | None = None
    resolve_hours_p90: float | None = None
    sla_breaches: int = 0
    csat_mean: float | None = None
    csat_count: int = 0
    tickets_by_category: dict[str, int] = field(default_factory=dict)
    handoffs: int = 0
    handoff_wait_minutes_median: float | None = None
    handoff_wait_minutes_p90: float | None = None
    handoffs_expired: int = 0
    moderation_by_rule: dict[str, int] = field(default_factory=dict)

    @property
    def answer_rate(self) -> float | None:
        return self.answered / self.questions if self.questions else None

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k not in ("period", "messages_per_day",
                                                                   "participants_per_day")}
        out["period"] = self.period.name
        out["answer_rate"] = self.answer_rate
        out["by_topic"] = {k: list(v) for k, v in self.by_topic.items()}
        return out


def _pct(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def collect(period: Period, learning: LearningStore, desk_engine: Engine | None = None,
            strikes_engine: Engine | None = None) -> Metrics:
    m = Metrics(period)
    per_day: Counter[dt.date] = Counter()
    people: defaultdict[dt.date, set[str]] = defaultdict(set)
    everyone: set[str] = set()
    topics: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0])
    routes: Counter[str] = Counter()
    for at, sender, route, topic in learning.turns(period.start, period.end):
        d = _day(at)
        per_day[d] += 1
        people[d].add(sender)
        everyone.add(sender)
        routes[route] += 1
        if route in QUESTION_ROUTES:
            m.questions += 1
            t = topics[topic or "unknown"]
            t[0] += 1
            if route == "answer":
                m.answered += 1
                t[1] += 1
    m.messages_per_day = {d: per_day.get(d, 0) for d in period.days()}
    m.participants_per_day = {d: len(people.get(d, ())) for d in period.days()}
    m.messages, m.participants, m.routes = sum(per_day.values()), len(everyone), dict(routes)
    m.by_topic = {k: (v[0], v[1]) for k, v in sorted(topics.items(), key=lambda kv: -kv[1][0])}
    m.helpful, m.unhelpful = learning.feedback_counts(period.start, period.end)
    if desk_engine is not None:
        _desk(m, desk_engine)
    if strikes_engine is not None:
        _moderation(m, strikes_engine)
    return m


def _desk(m: Metrics, engine: Engine) -> None:
    start, end = _aware(m.period.start), _aware(m.period.end)
    try:
        with Session(engine) as s:
            opened = s.execute(select(TicketRow.category, TicketRow.satisfaction)
                               .where(TicketRow.created_at >= start, TicketRow.created_at < end)).all()
            resolved = s.execute(select(TicketRow.created_at, TicketRow.resolved_at, TicketRow.satisfaction)
                                 .where(TicketRow.resolved_at >= start, TicketRow.resolved_at < end)).all()
            m.sla_breaches = len(s.execute(select(ReminderRow.ticket_id)
                                           .where(ReminderRow.due >= start, ReminderRow.due < end)).all())
            hand = s.execute(select(HandoffRow.created_at, HandoffRow.taken_at, HandoffRow.state)
                             .where(HandoffRow.created_at >= start, HandoffRow.created_at < end)).all()
    except SQLAlchemyError:
        return                # no desk tables in this database: no desk figures
    m.tickets_opened = len(opened)
    m.tickets_by_category = dict(Counter(c for c, _ in opened).most_common())
    m.tickets_resolved = len(resolved)
    hours = [(_aware(r) - _aware(c)).total_seconds() / 3600 for c, r, _ in resolved if r is not None]
    m.resolve_hours_median, m.resolve_hours_p90 = _pct(hours, 50), _pct(hours, 90)
    scores = [s for _, _, s in resolved if s]
    m.csat_count = len(scores)
    m.csat_mean = float(np.mean(scores)) if scores else None
    m.handoffs = len(hand)
    waits = [(_aware(t) - _aware(c)).total_seconds() / 60 for c, t, _ in hand if t is not None]
    m.handoff_wait_minutes_median, m.handoff_wait_minutes_p90 = _pct(waits, 50), _pct(waits, 90)
    m.handoffs_expired = sum(1 for _, _, st in hand if st == "expired")


def _moderation(m: Metrics, engine: Engine) -> None:
    from sqlalchemy import text

    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT rule_id, COUNT(*) FROM moderation_strikes WHERE at >= :a AND at < :b "
                                     "GROUP BY rule_id"), {"a": m.period.start, "b": m.period.end}).all()
    except SQLAlchemyError:
        return
    m.moderation_by_rule = {str(r): int(n) for r, n in sorted(rows, key=lambda x: -x[1])}
