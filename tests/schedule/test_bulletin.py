"""Notices, 辟谣 and the calendar answered through the engine's bulletin port; the .ics export."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from assistant.dialogue.engine import Engine, State
from assistant.dialogue.router import NLU, RouterModel
from assistant.knowledge.index import build
from assistant.knowledge.kb import load
from assistant.knowledge.retrieval import Calibration, Retriever
from assistant.schedule.bulletin import Bulletin
from assistant.schedule.errors import ScheduleInputError
from assistant.schedule.ics import export_ics
from assistant.schedule.store import ScheduleStore, open_schedule

from ..conftest import HashEmbedder
from ..pg import SHANGHAI, FakeClock

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=SHANGHAI)


@pytest.fixture
def store(sqlite_url: str) -> ScheduleStore:
    s = open_schedule(sqlite_url, clock=FakeClock(NOW))
    yield s
    s.close()


@pytest.fixture
def engine(mini_kb_dir: Path, store: ScheduleStore) -> Engine:
    kb = load(mini_kb_dir)
    emb = HashEmbedder()
    index, _ = build(kb, emb)
    return Engine(kb, Retriever(kb, index, emb, calibration=Calibration(answer_at=0.0)),
                  router=RouterModel.default(), bulletin=Bulletin(store, emb, min_score=0.3))


def ask(engine: Engine, text: str, intent: str = "faq_property"):
    return engine.respond(text, NLU.of(intent), State(), "terminal:g:5-101")


def test_a_current_notice_answers_related_questions_until_it_expires(engine: Engine, store: ScheduleStore) -> None:
    n = store.add_notice(["停水"], "12月5日 9:00-12:00 5栋二次供水水箱清洗，5栋停水，请提前储水",
                         valid_until=NOW + timedelta(days=4))
    turn = ask(engine, "5栋明天停水吗？几点停水")
    assert turn.route == "answer" and turn.sources[0]["id"] == f"notice-{n.id}"
    assert "水箱清洗" in turn.replies[0] and "#停水#" in turn.replies[0]
    # an unrelated question is the knowledge base's
    other = ask(engine, "车位怎么租", "faq_parking")
    assert not other.sources or not str(other.sources[0]["id"]).startswith("notice-")
    store.clock = FakeClock(NOW + timedelta(days=5))          # expired
    later = ask(engine, "5栋明天停水吗？几点停水")
    assert not later.sources or not str(later.sources[0]["id"]).startswith("notice-")


def test_a_rumour_gets_the_official_clarification_and_source(engine: Engine, store: ScheduleStore) -> None:
    store.add_notice(["辟谣"], "经街道办核实，锦山壹号没有任何拆迁计划，请勿轻信转发", rumour="小区明年要拆迁",
                     source="街道办 2026-11-30 公告", valid_until=NOW + timedelta(days=30))
    turn = ask(engine, "听说小区明年要拆迁，是真的吗")
    assert turn.route == "answer" and turn.replies[0].startswith("【辟谣】")
    assert "没有任何拆迁计划" in turn.replies[0] and "来源：街道办 2026-11-30 公告" in turn.replies[0]


def test_removed_notice_no_longer_answers_and_a_complaint_is_not_swallowed(engine: Engine,
                                                                            store: ScheduleStore) -> None:
    n = store.add_notice(["停水"], "12月5日 5栋停水检修", valid_until=NOW + timedelta(days=4))
    assert ask(engine, "5栋停水检修是哪天").sources[0]["id"] == f"notice-{n.id}"
    assert ask(engine, "停水三天了没人管，太过分了，我要投诉").route != "answer"
    store.remove_notice(n.id)
    assert not str((ask(engine, "5栋停水检修是哪天").sources or [{"id": ""}])[0]["id"]).startswith("notice-")


def test_this_months_activities_come_from_the_calendar(engine: Engine, store: ScheduleStore) -> None:
    store.add_event("亲子运动会", "中心广场", NOW.replace(day=12, hour=9), NOW.replace(day=12, hour=11),
                    signup_id="J1")
    store.add_event("新春联欢", "会所", datetime(2027, 1, 20, 19, tzinfo=SHANGHAI),
                    datetime(2027, 1, 20, 21, tzinfo=SHANGHAI))
    turn = ask(engine, "这个月有什么活动", "faq_community")
    assert turn.route == "answer" and "亲子运动会" in turn.replies[0] and "新春联欢" not in turn.replies[0]
    assert "12月12日 周六 09:00-11:00" in turn.replies[0] and "接龙 J1" in turn.replies[0]
    assert "新春联欢" in ask(engine, "下个月有啥活动", "faq_community").replies[0]


def test_bad_notice_and_event_input_is_rejected_naming_the_field(store: ScheduleStore) -> None:
    with pytest.raises(ScheduleInputError, match=r"\[tags\] unknown tag #停暖#"):
        store.add_notice(["停暖"], "x", valid_until=NOW + timedelta(days=1))
    with pytest.raises(ScheduleInputError, match=r"\[valid_until\].*past"):
        store.add_notice(["停水"], "x", valid_until=NOW - timedelta(days=1))
    with pytest.raises(ScheduleInputError, match=r"\[source\]"):
        store.add_notice(["辟谣"], "没有", rumour="要拆迁", valid_until=NOW + timedelta(days=1))
    with pytest.raises(ScheduleInputError, match=r"\[end\].*not after"):
        store.add_event("a", "b", NOW + timedelta(days=2), NOW + timedelta(days=1))
    with pytest.raises(ScheduleInputError, match=r"\[start\].*past"):
        store.add_event("a", "b", NOW - timedelta(days=2), NOW + timedelta(days=1))
    with pytest.raises(ScheduleInputError, match=r"\[remind\]"):
        store.add_event("a", "b", NOW + timedelta(days=2), NOW + timedelta(days=3), remind=(0,))


def test_personal_data_in_a_notice_is_redacted_before_it_is_stored(store: ScheduleStore) -> None:
    n = store.add_notice(["物业通知"], "有事联系 13812345678", valid_until=NOW + timedelta(days=1))
    assert "13812345678" not in n.body and "13812345678" not in store.notices()[0].body


def test_ics_export_reads_back(store: ScheduleStore) -> None:
    from icalendar import Calendar

    e = store.add_event("亲子运动会", "中心广场", NOW.replace(day=12, hour=9), NOW.replace(day=12, hour=11),
                        signup_id="J1", remind=(60,))
    cal = Calendar.from_ical(export_ics(store.events()))
    (ev,) = cal.walk("VEVENT")
    assert str(ev["summary"]) == "亲子运动会" and str(ev["location"]) == "中心广场"
    assert ev.decoded("dtstart") == e.start and ev.decoded("dtend") == e.end
    assert str(ev["uid"]).startswith(f"event-{e.id}@") and "J1" in str(ev["description"])
    (alarm,) = ev.walk("VALARM")
    assert alarm.decoded("trigger") == -timedelta(minutes=60)
