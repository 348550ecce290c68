"""A seeded quarter of synthetic activity (turns, doubtful questions, feedback, tickets, handoffs)
for the report benchmark and its test. Deterministic for a seed; writes only to the given database."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from sqlalchemy.orm import Session

from assistant.desk.handoff.queue import HandoffRow
from assistant.desk.tickets.schema import ReminderRow, TicketRow
from assistant.knowledge.kb import TOPICS
from assistant.learning.metrics import Period
from assistant.learning.store import LearningStore, TurnRow, sender_key
from assistant.vocabulary import CATEGORIES

UNANSWERED = ("小区附近有没有游泳馆", "快递柜满了怎么办", "能不能装充电桩", "物业费发票怎么开", "小区里能放风筝吗",
              "电梯广告能投诉吗", "健身器材坏了", "门禁卡丢了补办", "宽带怎么装", "车库能洗车吗")


def seed_quarter(store: LearningStore, desk_engine: Any, period: Period, *, messages: int = 6000,
                 tickets: int = 300, residents: int = 400, seed: int = 7, entries: list[str] | None = None) -> None:
    rnd = random.Random(seed)
    span = (period.end - period.start).total_seconds()
    entries = entries or [f"{t}-entry-{i}" for t in TOPICS for i in range(5)]
    turns: list[dict[str, Any]] = []
    for _ in range(messages):
        at = period.start + dt.timedelta(seconds=rnd.random() * span)
        route = rnd.choices(("answer", "fallback", "chitchat", "handoff"), (70, 18, 10, 2))[0]
        topic = rnd.choice(TOPICS) if route in ("answer", "fallback") else None
        entry = rnd.choice(entries) if route == "answer" else None
        turns.append({"at": at, "sender": sender_key(f"r{rnd.randrange(residents)}"), "route": route, "topic": topic,
                      "entry_id": entry, "confidence": round(rnd.random(), 3),
                      "doubt": "fallback" if route == "fallback" else None})
    store.add_turns(turns)
    for i in range(messages // 30):
        at = period.start + dt.timedelta(seconds=rnd.random() * span)
        text = rnd.choice(UNANSWERED) + rnd.choice(("", "？", "呀", "啊？"))
        store.add_question(f"r{i}", text, "fallback", "fallback", None, 0.1, [], at=at)
    for _ in range(messages // 20):
        at = period.start + dt.timedelta(seconds=rnd.random() * span)
        store.add_feedback(f"r{rnd.randrange(residents)}", rnd.choice(entries), rnd.random() < 0.8, at=at)
    if desk_engine is None:
        return
    utc = dt.UTC
    rows, reminders, hand = [], [], []
    for i in range(tickets):
        created = (period.start + dt.timedelta(seconds=rnd.random() * span * 0.95)).replace(tzinfo=utc)
        done = rnd.random() < 0.85
        resolved = created + dt.timedelta(hours=rnd.expovariate(1 / 30)) if done else None
        tid = f"T-{created:%Y%m%d}-{9000 + i:04d}"
        rows.append(TicketRow(id=tid, category=rnd.choice(CATEGORIES), unit="5-101", other_party_unit=None,
                              description="（合成数据）", reporter_id=f"r{i}", reporter_name="居民",
                              priority="normal", status="resolved" if done else "open", assignee=None,
                              created_at=created, updated_at=resolved or created,
                              first_response_due=created + dt.timedelta(hours=4),
                              resolution_due=created + dt.timedelta(hours=72), first_response_at=created,
                              resolved_at=resolved, closed_at=None, paused_at=None,
                              satisfaction=rnd.choice((3, 4, 5, 5, 2)) if done and rnd.random() < 0.6 else None))
        if resolved is not None and resolved > created + dt.timedelta(hours=72):
            reminders.append(ReminderRow(ticket_id=tid, kind="resolution", due=created + dt.timedelta(hours=72),
                                         sent_at=created + dt.timedelta(hours=73)))
    for i in range(tickets // 3):
        created = (period.start + dt.timedelta(seconds=rnd.random() * span * 0.95)).replace(tzinfo=utc)
        taken = created + dt.timedelta(minutes=rnd.expovariate(1 / 12)) if rnd.random() < 0.9 else None
        hand.append(HandoffRow(id=f"H-{created:%Y%m%d}-{9000 + i:04d}", conversation_id=f"r{i}",
                               resident_id=f"r{i}", reason="request_human", summary="（合成数据）",
                               state="released" if taken else "expired", admin="wang" if taken else None,
                               created_at=created, updated_at=taken or created, taken_at=taken,
                               released_at=taken))
    with Session(desk_engine) as s, s.begin():
        s.add_all(rows)
        s.flush()
        s.add_all(reminders)
        s.add_all(hand)


__all__ = ["TurnRow", "seed_quarter"]
