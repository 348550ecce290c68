from __future__ import annotations

from pathlib import Path

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import actions
from assistant.engine import State

from .test_engine import make_engine


def tracker(text: str, intent: str, slots: dict | None = None, confidence: float = 0.93) -> Tracker:
    return Tracker.from_dict({
        "sender_id": "resident-1",
        "slots": slots or {},
        "latest_message": {"text": text, "intent": {"name": intent, "confidence": confidence},
                           "entities": []},
        "events": [],
        "paused": False,
        "followup_action": None,
        "active_loop": {},
        "latest_action_name": "action_listen",
    })


@pytest.fixture(autouse=True)
def engine(mini_kb_dir: Path):  # noqa: ANN201
    actions.set_engine(make_engine(mini_kb_dir, answer_at=0.0))
    yield
    actions.set_engine(None)


def run(action: actions.EngineAction, t: Tracker) -> tuple[list[dict], list[dict]]:
    d = CollectingDispatcher()
    events = action.run(d, t, {})
    return d.messages, events


def test_answer_action_utters_reply_and_metadata() -> None:
    messages, events = run(actions.ActionAnswer(), tracker("车位怎么租", "faq_parking"))
    texts = [m["text"] for m in messages if m.get("text")]
    meta = [m["custom"] for m in messages if m.get("custom")][0]
    assert texts and "来源" in texts[0]
    assert meta["route"] == "answer" and meta["topic"] == "parking" and meta["intent"] == "faq_parking"
    assert meta["confidence"] == pytest.approx(0.93) and meta["ticket_id"] is None
    assert meta["sources"][0]["id"] == "parking-rent"
    slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    assert slots == State().as_slots()


def test_fallback_action_counts_misses_through_slots() -> None:
    _, events = run(actions.ActionFallback(), tracker("天气", "out_of_scope", {"miss_count": 1.0}))
    slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    assert slots["miss_count"] == 2.0 and slots["offered_human"] is True


@pytest.mark.parametrize(("action", "intent", "route"), [
    (actions.ActionChitchat(), "greet", "chitchat"),
    (actions.ActionComplain(), "complain", "ticket"),
    (actions.ActionHandoff(), "request_human", "handoff"),
])
def test_every_action_reports_its_route(action: actions.EngineAction, intent: str, route: str) -> None:
    messages, _ = run(action, tracker("随便", intent))
    meta = [m["custom"] for m in messages if m.get("custom")][0]
    assert meta["route"] == route and meta["intent"] == intent


def test_action_names_match_the_domain() -> None:
    import yaml

    from .conftest import ROOT

    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    names = {cls().name() for cls in actions.EngineAction.__subclasses__()}
    assert names == set(domain["actions"])
