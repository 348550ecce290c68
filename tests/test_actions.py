from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import actions
from assistant.dialogue import complaint
from assistant.dialogue.engine import State
from assistant.dialogue.router import NLU

from .test_engine import make_engine

if TYPE_CHECKING:
    from assistant.desk.desk import Desk


def tracker(text: str, intent: str, slots: dict | None = None, confidence: float = 0.93, *,
            form: bool = False, entities: list[dict] | None = None, sender: str = "resident-1",
            channel: str | None = None, after: str | None = None) -> Tracker:
    """``after``: an action that ran since the message (an interruption's answer), as Rasa reports it."""
    events = [{"event": "user", "text": text, "input_channel": channel}] if channel or after or form else []
    events += [{"event": "action", "name": after}] if after else []
    events += [{"event": "action", "name": "complaint_form"}] if form else []   # Rasa logs the form first
    return Tracker.from_dict({
        "sender_id": sender,
        "slots": slots or {},
        "latest_message": {"text": text, "intent": {"name": intent, "confidence": confidence},
                           "entities": entities or []},
        "events": events,
        "paused": False,
        "followup_action": None,
        "active_loop": {"name": "complaint_form"} if form else {},
        "latest_action_name": "complaint_form" if form else after or "action_listen",
    })


@pytest.fixture(autouse=True)
def engine(mini_kb_dir: Path):  # noqa: ANN201
    actions.set_engine(make_engine(mini_kb_dir, answer_at=0.0))
    yield
    actions.set_engine(None)


def run(action: Action, t: Tracker) -> tuple[list[dict], list[dict]]:
    d = CollectingDispatcher()
    events = action.run(d, t, {})
    return d.messages, events


def test_answer_action_utters_reply_and_metadata() -> None:
    messages, events = run(actions.ActionAnswer(), tracker("车位怎么租", "faq_parking"))
    texts = [m["text"] for m in messages if m.get("text")]
    meta = [m["custom"] for m in messages if m.get("custom")][0]
    assert texts and "来源" in texts[0]
    assert meta["route"] == "answer" and meta["topic"] == "parking" and meta["intent"] == "faq_parking"
    # the confidence is the router's, in the route it chose, not DIET's 0.93
    decided = actions.get_engine().decide("车位怎么租", NLU.of("faq_parking", 0.93))
    assert decided.route == "answer" and meta["confidence"] == pytest.approx(decided.confidence, abs=1e-4)
    assert meta["ticket_id"] is None
    assert meta["sources"][0]["id"] == "parking-rent"
    slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    assert slots == State(last_topic="parking", last_entry="parking-rent").as_slots()


def test_fallback_action_counts_misses_through_slots() -> None:
    _, events = run(actions.ActionFallback(), tracker("天气", "out_of_scope", {"miss_count": 1.0}))
    slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    assert slots["miss_count"] == 2.0 and slots["offered_human"] is True


@pytest.mark.parametrize(("action", "intent", "route"), [
    (actions.ActionChitchat(), "greet", "chitchat"),
    (actions.ActionHandoff(), "request_human", "handoff"),
])
def test_every_action_reports_its_route(action: actions.EngineAction, intent: str, route: str) -> None:
    messages, _ = run(action, tracker("随便", intent))
    meta = [m["custom"] for m in messages if m.get("custom")][0]
    assert meta["route"] == route and meta["intent"] == intent


def test_action_names_match_the_domain() -> None:
    import yaml
    from rasa_sdk.executor import ActionExecutor

    from .conftest import ROOT

    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    executor = ActionExecutor()
    executor.register_package("actions")
    assert set(executor.actions) == set(domain["actions"])
    assert set(domain["forms"]["complaint_form"]["required_slots"]) == set(complaint.ASKED)
    assert set(complaint.SLOTS) | {"csat_ticket"} <= set(domain["slots"])


# -- the complaint form, CSAT and automatic handoff, with a real ticket database ------------------

class Told:
    """Residents stand-in: records what the admins' side asked to tell."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict]] = []

    def tell(self, conversation_id: str, intent: str, entities: dict) -> list[str]:
        self.calls.append((conversation_id, intent, entities))
        return []


@pytest.fixture
def desk(tmp_path: Path, mini_kb_dir: Path):  # noqa: ANN201
    from assistant.desk.desk import Desk
    from assistant.desk.handoff import LogNotifier, load_roster, open_handoffs
    from assistant.desk.tickets.store import open_store

    url = f"sqlite:///{tmp_path / 'tickets.db'}"
    d = Desk(open_store(url), open_handoffs(url), load_roster(), LogNotifier(), Told())
    engine = make_engine(mini_kb_dir, answer_at=0.0)
    engine.desk = d
    actions.set_engine(engine)
    yield d
    d.tickets.dispose()
    d.handoffs.dispose()


def slot_events(events: list[dict]) -> dict:
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}


ANSWERERS = {"action_answer": actions.ActionAnswer, "action_chitchat": actions.ActionChitchat}


def walk(answers: list[str | tuple[str, str]], opening: str, sender: str = "resident-1",
         metas: list[dict] | None = None) -> tuple[dict, list[str]]:
    """Run the form the way Rasa does: validate, then ask for the requested slot; a rejected turn runs
    the follow-up action (the interruption's answer), then the form validates again and asks. Answers
    are texts (intent inform) or (text, intent). Returns the slots when the form ends and everything
    the bot said; ``metas`` collects each turn's last metadata (what ``ask --json`` reports)."""
    validate = actions.ValidateComplaintForm()
    slots: dict = {}
    said: list[str] = []
    messages, events = run(validate, tracker(opening, "complain", slots, sender=sender))
    said += [m["text"] for m in messages if m.get("text")]
    slots.update(slot_events(events))
    asked_again = False
    for answer in answers:
        text, intent = (answer, "inform") if isinstance(answer, str) else answer
        asked = slots.get("requested_slot")
        if asked is None:
            break
        if not asked_again:
            ask = next(cls for cls in actions.AskComplaintSlot.__subclasses__() if cls.slot == asked)()
            messages, _ = run(ask, tracker("", "complain", slots, sender=sender))
            said += [m["text"] for m in messages if m.get("text")]
        asked_again = False
        turn: list[dict] = []
        messages, events = run(validate, tracker(text, intent, slots, form=True, sender=sender))
        if any(e["event"] == "action_execution_rejected" for e in events):
            followup = next(e["name"] for e in events if e["event"] == "followup")
            messages, events = run(ANSWERERS[followup](), tracker(text, intent, slots, form=True, sender=sender,
                                                                  channel="rest"))
            assert events[-1] == {"event": "followup", "name": "complaint_form", "timestamp": None}
            said += [m["text"] for m in messages if m.get("text")]
            turn += messages
            slots.update(slot_events(events))
            messages, events = run(validate, tracker(text, intent, slots, form=True, sender=sender, after=followup))
            said += [m["text"] for m in messages if m.get("text")]
            slots.update(slot_events(events))
            asked = slots.get("requested_slot")
            if asked is not None:       # the form asks again (the next round of the loop would not)
                ask = next(cls for cls in actions.AskComplaintSlot.__subclasses__() if cls.slot == asked)()
                messages, _ = run(ask, tracker(text, intent, slots, form=True, sender=sender, channel="rest",
                                               after=followup))
                said += [m["text"] for m in messages if m.get("text")]
                turn += messages
                asked_again = True
        else:
            said += [m["text"] for m in messages if m.get("text")]
            slots.update(slot_events(events))
        if metas is not None and turn:
            metas.append([m["custom"] for m in turn if m.get("custom")][-1])
    return slots, said


def test_form_happy_path_opens_a_ticket(desk) -> None:  # noqa: ANN001
    slots, said = walk(["不清楚", "一般", "是"], "楼上装修太吵了，天天电钻响，我住5栋101")
    assert slots["requested_slot"] is None and slots["complaint_confirmed"] is True
    assert any("请确认工单信息" in s and "5-101" in s for s in said)
    messages, events = run(actions.ActionSubmitComplaint(), tracker("是", "affirm", slots, channel="rest"))
    meta = [m["custom"] for m in messages if m.get("custom")][0]
    assert meta["route"] == "ticket" and meta["ticket_id"]
    ticket = desk.tickets.get(meta["ticket_id"])
    assert (ticket.category, ticket.unit, ticket.priority) == ("noise", "5-101", "normal")
    assert "电钻" in ticket.description and ticket.reporter_id == "resident-1"
    assert all(v is None for k, v in slot_events(events).items() if k.startswith("complaint_"))
    assert desk.handoffs.open_for("resident-1") is None          # noise is not a sensitive category


def test_form_asks_only_what_is_missing_and_reads_answers(desk) -> None:  # noqa: ANN001
    slots, said = walk(["2", "五号楼", "邻居家的狗天天半夜叫", "6-302", "紧急", "是的"], "我要投诉")
    assert said[0].startswith("好的，我来帮您登记")
    assert (slots["complaint_category"], slots["complaint_unit"], slots["complaint_other_party"],
            slots["complaint_urgency"]) == ("pets", "5", "6-302", "urgent")
    _, events = run(actions.ActionSubmitComplaint(), tracker("是的", "affirm", slots))
    ticket = desk.tickets.list()[0]
    assert (ticket.category, ticket.unit, ticket.other_party_unit, ticket.priority) == ("pets", "5", "6-302", "urgent")


def test_form_cancel_creates_nothing(desk) -> None:  # noqa: ANN001
    slots, _ = walk(["算了"], "我要投诉")
    assert slots["requested_slot"] is None and slots["complaint_stop"] == "cancel"
    messages, _ = run(actions.ActionSubmitComplaint(), tracker("算了", "deny", slots))
    assert "已取消" in messages[0]["text"]
    assert desk.tickets.list() == []


def test_form_correction_before_confirming(desk) -> None:  # noqa: ANN001
    slots, said = walk(["不清楚", "一般", "房号是5-102", "是"], "楼上太吵了，我住5栋101")
    assert any("已更正" in s for s in said)
    confirmations = [s for s in said if "请确认工单信息" in s]
    assert "5-101" in confirmations[0] and "5-102" in confirmations[1]
    run(actions.ActionSubmitComplaint(), tracker("是", "affirm", slots))
    assert desk.tickets.list()[0].unit == "5-102"


def test_a_repeat_complaint_is_appended_not_duplicated(desk) -> None:  # noqa: ANN001
    first, _ = walk(["不清楚", "一般", "是"], "楼上太吵了，我住5栋101")
    run(actions.ActionSubmitComplaint(), tracker("是", "affirm", first))
    again, _ = walk(["不清楚", "一般", "是"], "楼上还是很吵，晚上十点了，我住5栋101")
    messages, _ = run(actions.ActionSubmitComplaint(), tracker("是", "affirm", again))
    assert len(desk.tickets.list()) == 1 and "补充" in messages[0]["text"]
    assert [e.action for e in desk.tickets.events(desk.tickets.list()[0].id)].count("appended") == 1


def test_the_same_matter_told_again_goes_to_the_open_ticket_without_questions(desk) -> None:  # noqa: ANN001
    first, _ = walk(["不清楚", "一般", "是"], "楼上太吵了，我住5栋101")
    run(actions.ActionSubmitComplaint(), tracker("是", "affirm", first))
    again, said = walk([], "刚才说的那家又开始了")        # no category named, words that go on: nothing asked
    assert again.get("requested_slot") is None and not said
    messages, _ = run(actions.ActionSubmitComplaint(), tracker("刚才说的那家又开始了", "complain", again))
    assert len(desk.tickets.list()) == 1 and desk.tickets.list()[0].id in messages[0]["text"]


@pytest.mark.parametrize(("text", "intent"), [("又来了 凌晨两点", "goodbye"), ("两点了还是没停 吵得睡不着", "nlu_fallback"),
                                            ("今晚又开始唱了 能再催一下吗", "out_of_scope")])
def test_more_about_the_open_ticket_goes_to_it_whatever_rasa_reads(desk, text: str, intent: str) -> None:  # noqa: ANN001
    first, _ = walk(["不清楚", "一般", "是"], "楼上太吵了，我住5栋101")
    run(actions.ActionSubmitComplaint(), tracker("是", "affirm", first))
    _, events = run(actions.ActionChitchat(), tracker(text, intent, {}))      # whichever action Rasa chose
    assert {"event": "followup", "name": "complaint_form", "timestamp": None} in events
    again, said = walk([], text)
    assert again.get("requested_slot") is None and not said
    run(actions.ActionSubmitComplaint(), tracker(text, intent, again))
    assert len(desk.tickets.list()) == 1
    assert [e.action for e in desk.tickets.events(desk.tickets.list()[0].id)].count("appended") == 1
    _, events = run(actions.ActionAnswer(), tracker("垃圾又是几点收", "faq_garbage", {}))   # a question: not the ticket's
    assert not any(e.get("name") == "complaint_form" for e in events)


def test_words_that_go_on_without_an_open_ticket_are_small_talk(desk) -> None:  # noqa: ANN001
    _, events = run(actions.ActionChitchat(), tracker("又来了 凌晨两点", "goodbye", {}, sender="resident-2"))
    assert not any(e.get("name") == "complaint_form" for e in events) and desk.tickets.list() == []


def test_asking_for_a_person_before_telling_anything_opens_no_ticket(desk) -> None:  # noqa: ANN001
    slots, _ = walk(["不弄了 你找个真人跟我说"], "我想投诉")
    messages, _ = run(actions.ActionSubmitComplaint(), tracker("不弄了 你找个真人跟我说", "request_human", slots))
    assert desk.tickets.list() == [] and "管理员" in messages[0]["text"]


def test_fee_disputes_also_go_to_a_human(desk) -> None:  # noqa: ANN001
    slots, _ = walk(["5-101", "一般", "是"], "这个月物业费多收了两百，不合理")
    messages, _ = run(actions.ActionSubmitComplaint(), tracker("是", "affirm", slots, channel="rest"))
    meta = [m["custom"] for m in messages if m.get("custom")][0]
    assert meta["route"] == "handoff" and meta["ticket_id"]
    handoff = desk.handoffs.open_for("resident-1")
    assert handoff is not None and handoff.reason == "sensitive_category" and meta["ticket_id"] in handoff.summary


def test_an_angry_complaint_skips_the_questions_and_goes_to_a_human(desk) -> None:  # noqa: ANN001
    slots, _ = walk([], "气死了！！！楼上天天半夜装修，什么破物业都不管")
    assert slots["requested_slot"] is None and slots["complaint_stop"] == "angry"
    run(actions.ActionSubmitComplaint(), tracker("", "complain", slots))
    assert desk.tickets.list()[0].category in {"noise", "renovation"}
    assert desk.handoffs.open_for("resident-1").reason == "abusive"


def test_two_low_confidence_turns_hand_off(desk) -> None:  # noqa: ANN001
    _, events = run(actions.ActionFallback(), tracker("天气怎么样", "out_of_scope"))
    assert desk.handoffs.open_for("resident-1") is None
    messages, _ = run(actions.ActionFallback(), tracker("股票会涨吗", "out_of_scope", slot_events(events),
                                                        channel="rest"))
    meta = [m["custom"] for m in messages if m.get("custom")][0]
    assert meta["route"] == "handoff"
    assert desk.handoffs.open_for("resident-1").reason == "low_confidence"


def test_resolving_asks_for_a_score_and_the_answer_is_stored(desk) -> None:  # noqa: ANN001
    ticket, _ = desk.complain("resident-1", "楼下烧烤油烟太大", category="cleaning")
    desk.tickets.assign(ticket.id, "wang", actor="wang")
    resolved, _ = desk.resolve(ticket.id, actor="wang", comment="已协调")
    assert desk.residents.calls == [("resident-1", "EXTERNAL_csat", {"ticket_id": ticket.id})]
    assert resolved.status == "resolved"
    messages, events = run(actions.ActionAskCsat(), tracker("", "EXTERNAL_csat",
                                                            entities=[{"entity": "ticket_id", "value": ticket.id}]))
    assert ticket.id in messages[0]["text"] and "1-5" in messages[0]["text"]
    slots = slot_events(events)
    assert slots["csat_ticket"] == ticket.id
    _, events = run(actions.ActionAnswer(), tracker("车位怎么租", "faq_parking", slots))
    assert slot_events(events)["csat_ticket"] == ticket.id          # still awaited after another question
    messages, events = run(actions.ActionFallback(), tracker("5分", "inform", slots))
    assert "5 分" in messages[0]["text"] and slot_events(events)["csat_ticket"] is None
    assert desk.tickets.get(ticket.id).satisfaction == 5


def test_a_triggered_intent_without_ids_falls_back(desk) -> None:  # noqa: ANN001
    messages, _ = run(actions.ActionAskCsat(), tracker("EXTERNAL_csat", "EXTERNAL_csat"))
    assert messages and "超出了我能回答的范围" in messages[0]["text"]
    messages, _ = run(actions.ActionHandoffTimeout(), tracker("x", "EXTERNAL_handoff_timeout",
                                                              entities=[{"entity": "ticket_id", "value": "T-1"}]))
    assert "T-1" in messages[0]["text"]


def test_a_question_in_complaint_words_is_answered_not_ticketed(desk) -> None:  # noqa: ANN001
    slots, _ = walk([], "车位怎么租？")
    assert slots["requested_slot"] is None and slots["complaint_stop"] == "answered"
    messages, events = run(actions.ActionSubmitComplaint(), tracker("车位怎么租？", "complain", slots, channel="rest"))
    meta = [m["custom"] for m in messages if m.get("custom")][0]
    assert meta["route"] == "answer" and meta["topic"] == "parking"
    assert slot_events(events)["complaint_stop"] is None and desk.tickets.list() == []


class Seen:
    """A learning port (dialogue.ports.LearningPort) that keeps what it is told."""

    def __init__(self) -> None:
        self.turns: list[tuple[str, str, str | None]] = []

    def observe(self, sender, text, route, topic, sources, confidence, doubt) -> None:  # noqa: ANN001
        self.turns.append((text, route, doubt))

    def feedback(self, sender, entry_id, helpful) -> None:  # noqa: ANN001
        pass


def test_a_complaint_worded_question_the_router_ends_is_observed_for_review(desk) -> None:  # noqa: ANN001
    seen = Seen()
    actions.get_engine().learning = seen
    slots, _ = walk([], "小区游泳池几点开门？")                 # read as a complaint, not one: the form ends
    assert slots["complaint_stop"] == "answered"
    messages, _ = run(actions.ActionSubmitComplaint(), tracker("小区游泳池几点开门？", "complain", slots,
                                                                 channel="rest"))
    meta = [m["custom"] for m in messages if m.get("custom")][0]
    assert seen.turns == [("小区游泳池几点开门？", meta["route"], seen.turns[0][2])]   # as the resident saw it


def test_a_new_form_forgets_an_unfinished_one(desk) -> None:  # noqa: ANN001
    left = {"complaint_category": "fees", "complaint_unit": "9-909", "complaint_stop": None}
    _, events = run(actions.ValidateComplaintForm(), tracker("我要投诉", "complain", left))
    slots = slot_events(events)
    assert slots["complaint_category"] is None and slots["complaint_unit"] is None
    assert slots["requested_slot"] == "complaint_category"


def test_while_handed_off_every_action_stays_quiet(desk) -> None:  # noqa: ANN001
    """The web chat talks to Rasa directly, so the actions themselves keep the bot quiet."""
    messages, _ = run(actions.ActionHandoff(), tracker("转人工", "request_human"))
    assert messages and "值班管理员" in messages[0]["text"]
    for action, text, intent in [(actions.ActionAnswer(), "车位怎么租", "faq_parking"),
                                 (actions.ActionChitchat(), "你好", "greet"),
                                 (actions.ActionFallback(), "天气", "out_of_scope"),
                                 (actions.AskComplaintUnit(), "", "complain")]:
        assert run(action, tracker(text, intent)) == ([], [])
    messages, events = run(actions.ValidateComplaintForm(), tracker("楼上太吵了", "complain"))
    assert messages == [] and slot_events(events)["requested_slot"] is None
    messages, _ = run(actions.ActionSubmitComplaint(), tracker("楼上太吵了", "complain", {"complaint_category": "noise"}))
    assert messages == [] and desk.tickets.list() == []
    handoff = desk.handoffs.open_for("resident-1")
    desk.handoffs.release(handoff.id, "wang")
    messages, _ = run(actions.ActionAnswer(), tracker("车位怎么租", "faq_parking"))
    assert messages and "来源" in messages[0]["text"]                 # back after the admin released it


def test_a_grievance_read_as_a_topic_question_starts_the_form() -> None:
    messages, events = run(actions.ActionAnswer(), tracker("楼上装修太吵了", "faq_property"))
    assert messages == [] and events == [{"event": "followup", "name": "complaint_form", "timestamp": None}]
    messages, _ = run(actions.ActionAnswer(), tracker("装修几点可以开始", "faq_property"))
    assert messages and messages[0]["text"]


def test_abuse_to_the_bot_goes_to_a_human_whatever_the_intent(desk) -> None:  # noqa: ANN001
    messages, _ = run(actions.ActionChitchat(), tracker("你个傻逼机器人", "greet", channel="rest"))
    meta = [m["custom"] for m in messages if m.get("custom")][0]
    assert meta["route"] == "handoff" and desk.handoffs.open_for("resident-1").reason == "abusive"


JUNK = [
    ("<iframe src=\"javascript:alert('XSS')\"></iframe>", "request_human"),
    ("1' UNION SELECT username, password FROM users--", "request_human"),
    ("' OR '1'='1' --", "inform"),
    ("<a href=#>!!!</a>", "complain"),
    ("مرحبا، متى يتم جمع القمامة؟", "complain"),
    ("Привет, когда вывоз мусора?", "complain"),
    ("สวัสดีครับ เก็บขยะกี่โมง", "complain"),
    ("asdkjh qwe zxcmnb 12398 !!@#", "complain"),
]


@pytest.mark.parametrize(("text", "intent"), JUNK)
@pytest.mark.parametrize("action", [actions.ActionHandoff(), actions.ActionFallback(), actions.ActionAnswer(),
                                    actions.ActionChitchat()])
def test_junk_gets_a_clarifying_reply_not_a_human(desk: Desk, action: actions.EngineAction, text: str,
                                                   intent: str) -> None:
    from assistant.dialogue import replies

    messages, events = run(action, tracker(text, intent, {"miss_count": 1.0}, channel="rest"))
    meta = next(m["custom"] for m in messages if m.get("custom"))
    assert meta["route"] == "fallback" and messages[0]["text"] == replies.UNREADABLE
    assert desk.handoffs.open_for("resident-1") is None and desk.tickets.list() == []
    assert slot_events(events)["miss_count"] == 1.0          # not a miss toward the automatic handoff


@pytest.mark.parametrize(("text", "intent"), JUNK)
def test_junk_does_not_start_the_complaint_form(desk: Desk, text: str, intent: str) -> None:
    from assistant.dialogue import replies

    slots, said = walk([], text)
    assert slots["requested_slot"] is None and slots["complaint_stop"] == "unreadable" and said == []
    messages, events = run(actions.ActionSubmitComplaint(), tracker(text, "complain", slots, channel="rest"))
    meta = next(m["custom"] for m in messages if m.get("custom"))
    assert meta["route"] == "fallback" and messages[0]["text"] == replies.UNREADABLE
    assert slot_events(events)["complaint_stop"] is None
    assert desk.tickets.list() == [] and desk.handoffs.open_for("resident-1") is None


def test_abuse_of_others_is_answered_not_handed_to_a_person(desk: Desk) -> None:
    # the channel warns (moderation); the engine answers the message as it would any other
    messages, events = run(actions.ActionAnswer(), tracker("物业都是一群废物 电梯坏了一周没人修", "complain"))
    assert desk.handoffs.open_for("resident-1") is None
    slots, _ = walk(["5-101", "一般", "是"], "物业都是一群废物 电梯坏了一周没人修")
    assert slots["complaint_stop"] is None and slots["complaint_confirmed"] is True
    assert desk.handoffs.open_for("resident-1") is None


def test_abuse_with_abusive_words_still_goes_to_a_human(desk: Desk) -> None:
    run(actions.ActionAnswer(), tracker("<b>你个傻逼机器人</b>", "faq_parking"))
    assert desk.handoffs.open_for("resident-1").reason == "abusive"


# -- a form that listens: interruptions, free words, never a third time ------------------------------

def times_asked(said: list[str], slot: str) -> int:
    text = complaint.question(slot, {})
    return sum(s.endswith(text) for s in said)


def test_a_question_in_the_form_is_answered_then_the_question_repeated_once(desk) -> None:  # noqa: ANN001
    metas: list[dict] = []
    slots, said = walk([("车位怎么租？", "faq_parking"), "5栋101", "不清楚", "比较急", "是"],
                       "楼上装修太吵了，天天电钻响", metas=metas)
    assert any("来源" in s and "parking-rent" in s for s in said)             # answered through the engine
    assert metas[0]["route"] == "answer" and metas[0]["topic"] == "parking"   # the turn is the answer's
    again = said[said.index(next(s for s in said if "parking-rent" in s)) + 1]
    assert again == complaint.BACK + complaint.question(complaint.UNIT, {})    # then the form asks again
    assert times_asked(said, complaint.UNIT) == 2
    assert slots["complaint_unit"] == "5-101" and slots["complaint_urgency"] == "high"
    run(actions.ActionSubmitComplaint(), tracker("是", "affirm", slots))
    ticket = desk.tickets.list()[0]
    assert (ticket.unit, ticket.priority) == ("5-101", "high") and "车位怎么租" not in ticket.description


def test_never_the_same_question_a_third_time_the_default_is_taken_and_said(desk) -> None:  # noqa: ANN001
    slots, said = walk([("车位怎么租？", "faq_parking"), ("厨余垃圾几点扔", "faq_garbage"), "一般", "是"],
                       "楼道里堆满了杂物没人管")
    assert times_asked(said, complaint.UNIT) == 2
    assert any("位置先按" in s for s in said) and slots["complaint_unit"] == ""
    assert slots["complaint_confirmed"] is True
    run(actions.ActionSubmitComplaint(), tracker("是", "affirm", slots))
    assert desk.tickets.list()[0].unit is None


@pytest.mark.parametrize("unclear", ["嗯嗯", "这个嘛"])
def test_two_unclear_urgency_answers_take_the_default(desk, unclear: str) -> None:  # noqa: ANN001
    slots, said = walk([unclear, unclear, "是"], "楼上装修太吵了，我住5栋101，楼上6-302")
    assert times_asked(said, complaint.URGENCY) == 2 and slots["complaint_urgency"] == "normal"
    assert any("紧急程度先按" in s for s in said) and slots["complaint_confirmed"] is True


@pytest.mark.parametrize("yes", ["对", "确认", "好"])
def test_a_yes_while_urgency_is_asked_is_the_default_not_a_repeat(desk, yes: str) -> None:  # noqa: ANN001
    slots, said = walk([(yes, "affirm")], "楼上装修太吵了，我住5栋101，楼上6-302")
    assert slots["complaint_urgency"] == "normal" and slots["requested_slot"] == "complaint_confirmed"
    assert times_asked(said, complaint.URGENCY) == 1


def test_thanks_in_the_form_are_acknowledged_and_the_form_goes_on(desk) -> None:  # noqa: ANN001
    metas: list[dict] = []
    slots, said = walk([("谢谢", "thank"), "5-101", "不清楚", "不急", "是"], "隔壁的狗天天半夜叫", metas=metas)
    assert any("不客气" in s for s in said) and metas[0]["route"] == "ticket"
    assert slots["complaint_unit"] == "5-101" and slots["complaint_urgency"] == "low"
    assert slots["complaint_confirmed"] is True
    asked_for, said = walk([("谢谢", "thank")], "我要投诉")           # a form asked for in words: thanks keep it
    assert asked_for["requested_slot"] == "complaint_category" and any("不客气" in s for s in said)


@pytest.mark.parametrize(("leave", "intent"), [("没事了", "deny"), ("搞错了", "inform"),
                                               ("哦不用了，没事了", "deny")])
def test_a_form_started_by_mistake_can_be_left(desk, leave: str, intent: str) -> None:  # noqa: ANN001
    slots, _ = walk([(leave, intent)], "我要投诉")
    assert slots["requested_slot"] is None and slots["complaint_stop"] == "cancel"
    messages, _ = run(actions.ActionSubmitComplaint(), tracker(leave, intent, slots))
    assert "没有登记" in messages[0]["text"] and desk.tickets.list() == []


def test_corrections_at_the_confirmation_several_at_once(desk) -> None:  # noqa: ANN001
    slots, said = walk(["不清楚", "一般", "房号是502，而且挺急的", "是"], "楼上太吵了，我住5栋101")
    confirmations = [s for s in said if "请确认工单信息" in s]
    assert "5-101" in confirmations[0] and "5-502" in confirmations[1] and "较急" in confirmations[1]
    run(actions.ActionSubmitComplaint(), tracker("是", "affirm", slots))
    ticket = desk.tickets.list()[0]
    assert (ticket.unit, ticket.priority) == ("5-502", "high")


def test_units_and_places_in_free_words_reach_the_ticket(desk) -> None:  # noqa: ANN001
    slots, _ = walk(["五号楼一单元一零一", "不急", "是"], "物业费多收了两百")
    run(actions.ActionSubmitComplaint(), tracker("是", "affirm", slots))
    assert desk.tickets.list()[0].unit == "5-1-101"
    slots, said = walk(["停车", "地库B区", "有人长期占我车位", "不清楚", "一般", "是"], "我要投诉",
                       sender="resident-2")
    assert any("位置：地库B区" in s for s in said)
    run(actions.ActionSubmitComplaint(), tracker("是", "affirm", slots, sender="resident-2"))
    ticket = desk.tickets.list(reporter_id="resident-2")[0]
    assert ticket.unit is None and "地库B区" in ticket.description


def test_a_form_started_after_a_question_action_asks_with_its_metadata(desk) -> None:  # noqa: ANN001
    """A grievance NLU read as a topic question: action_answer starts the form, whose first question
    is the turn's reply and carries the route (it is not a question asked again)."""
    t = Tracker.from_dict({
        "sender_id": "resident-1", "slots": {"requested_slot": "complaint_unit"},
        "latest_message": {"text": "楼上装修太吵了", "intent": {"name": "faq_property", "confidence": 0.9}},
        "events": [{"event": "user", "text": "楼上装修太吵了", "input_channel": "rest"},
                   {"event": "action", "name": "action_answer"}, {"event": "followup", "name": "complaint_form"},
                   {"event": "active_loop", "name": "complaint_form"}],
        "paused": False, "followup_action": None, "active_loop": {"name": "complaint_form"},
        "latest_action_name": "action_answer"})
    messages, _ = run(actions.AskComplaintUnit(), t)
    assert not messages[0]["text"].startswith(complaint.BACK)
    assert [m["custom"]["route"] for m in messages if m.get("custom")] == ["ticket"]


def test_a_yes_only_rasa_knows_confirms_the_ticket(desk) -> None:  # noqa: ANN001
    """The form takes Rasa's affirm for a yes its own words do not know (the plumbing: action -> engine)."""
    slots, said = walk(["不急", ("稳了", "affirm")], "楼上装修太吵了，我住5栋101，楼上6-302")
    assert slots["complaint_confirmed"] is True and slots["requested_slot"] is None
    assert sum("请确认工单信息" in s for s in said) == 1                       # shown once, not again
    slots, said = walk(["不急", ("稳了", "inform")], "楼上装修太吵了，我住5栋101，楼上6-302", sender="resident-2")
    assert slots.get("complaint_confirmed") is not True
