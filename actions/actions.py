"""Rasa custom actions: thin glue between Rasa trackers and ``assistant.dialogue.engine``."""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecutionRejected, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from assistant.dialogue import complaint
from assistant.dialogue.engine import Engine, State, Turn
from assistant.dialogue.router import NLU
from assistant.knowledge.onnx_encoder import trim_heap
from assistant.knowledge.shared import SharedEmbedder, given_by_rasa

log = logging.getLogger(__name__)
MACHINE_CHANNELS = (None, "rest")
FORM = "complaint_form"
_engine: Engine | None = None
_guesser: complaint.CategoryGuesser | None = None
_reload: Callable[[], bool] | None = None      # knowledge changes picked up without a restart
_lock = threading.Lock()


def get_engine() -> Engine:
    """The process-wide engine, loaded on first use (settings, model, index, calibration, desk)."""
    global _engine, _guesser, _reload
    with _lock:
        if _engine is None:
            from assistant.runtime.app import build_engine, knowledge_reloader
            from assistant.settings import load_settings

            settings = load_settings()
            _engine = build_engine(settings)
            _reload = knowledge_reloader(settings, _engine).check
            warm = complaint.CategoryGuesser(_engine.retriever.embedder)
            warm.warm()           # encoded now (the warm-up), not while a resident waits on the form
            _guesser = warm
            trim_heap()           # the start-up's freed heap (dictionary files read, tables rebuilt) goes back
        elif _reload is not None:
            _reload()
        return _engine


def set_engine(engine: Engine | None) -> None:
    """For tests and embedders that build their own engine."""
    global _engine, _reload
    with _lock:
        _engine, _reload = engine, None


class EngineAction(Action, ABC):
    """Reads the latest message and slots, asks the engine, utters replies and metadata."""

    @abstractmethod
    def name(self) -> str: ...

    def respond(self, engine: Engine, text: str, nlu: NLU, state: State, sender: str) -> Turn:
        """Every engine action asks the one router (assistant/dialogue/router.py); the rule that chose
        the action is one of its inputs through the intent ranking."""
        return engine.respond(text, nlu, state, sender)

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: dict[str, Any]) -> list[dict[str, Any]]:
        if quiet(tracker):
            return []
        text, intent, _ = latest(tracker)
        state = State.from_slots(tracker.current_slot_values())
        engine = get_engine()
        with rasa_vectors(engine, tracker):
            turn = None if intent == "request_human" else engine.abusive(text, tracker.sender_id)
            turn = turn or engine.unreadable(text, state) or self.respond(engine, text, nlu(tracker), state,
                                                                          tracker.sender_id)
        if state.csat_ticket and not turn.rated:     # the score may come a few messages later
            turn.state.csat_ticket = state.csat_ticket
        engine.observe(text, tracker.sender_id, turn)  # learning: counts, doubtful questions for review
        events = say(dispatcher, tracker, self.name(), turn, state_slots=True)
        if tracker.active_loop_name == FORM and not turn.followup:   # an interruption: the form goes on
            events.append(FollowupAction(FORM))
        return events


def quiet(tracker: Tracker) -> bool:
    """True while a human admin has the conversation: the action then says and changes nothing."""
    if get_engine().handed_off(tracker.sender_id):
        log.info("sender=%s handed off: the bot stays quiet", tracker.sender_id)
        return True
    return False


def latest(tracker: Tracker) -> tuple[str, str, float | None]:
    """The latest message's text, intent name and confidence."""
    message = tracker.latest_message or {}
    intent_info = message.get("intent") or {}
    return message.get("text") or "", intent_info.get("name") or "nlu_fallback", intent_info.get("confidence")


@contextmanager
def rasa_vectors(engine: Engine, tracker: Tracker) -> Iterator[None]:
    """Within the block the engine takes the query vector Rasa computed for the latest message's text
    (assistant/knowledge/shared.py) instead of running e5 itself."""
    embedder = engine.retriever.embedder
    if not isinstance(embedder, SharedEmbedder):
        yield
        return
    with embedder.given(given_by_rasa(tracker.latest_message, embedder.model), tracker.sender_id):
        yield


def nlu(tracker: Tracker) -> NLU:
    """Rasa's intent ranking of the latest message."""
    return NLU.from_message(tracker.latest_message)


def say(dispatcher: CollectingDispatcher, tracker: Tracker, action: str, turn: Turn, *,
        state_slots: bool = False) -> list[dict[str, Any]]:
    """Utter the turn's replies (plus its metadata on the REST channel) and return its slot events."""
    _, intent, confidence = latest(tracker)
    if turn.followup:        # the next action speaks (the complaint form asks its first question)
        log.info("sender=%s action=%s intent=%s followup=%s", tracker.sender_id, action, intent, turn.followup)
        return [FollowupAction(turn.followup)]
    for reply in turn.replies:
        dispatcher.utter_message(text=reply)
    if tracker.get_latest_input_channel() in MACHINE_CHANNELS:
        # The REST API also gets route, topic and sources; chat widgets get only the text.
        confidence = turn.confidence if turn.confidence is not None else confidence
        dispatcher.utter_message(json_message=turn.meta() | {"intent": intent, "confidence": confidence})
    log.info("sender=%s action=%s intent=%s route=%s topic=%s ticket=%s", tracker.sender_id, action, intent,
             turn.route, turn.topic, turn.ticket_id)
    slots = (turn.state.as_slots() if state_slots else {}) | turn.slots
    return [SlotSet(k, v) for k, v in slots.items()]


class ActionAnswer(EngineAction):
    def name(self) -> str:
        return "action_answer"


class ActionChitchat(EngineAction):
    def name(self) -> str:
        return "action_chitchat"


class ActionHandoff(EngineAction):
    def name(self) -> str:
        return "action_handoff"


class ActionFallback(EngineAction):
    def name(self) -> str:
        return "action_fallback"


# -- the complaint form (complaint_form in domain.yml) ---------------------------------------------

def form_slots(tracker: Tracker) -> dict[str, Any]:
    return {name: tracker.get_slot(name) for name in complaint.SLOTS}


class ValidateComplaintForm(Action):
    """Reads each answer (or the opening complaint) and names the next slot to ask; the form ends
    when nothing is left, or early on "算了" / "转人工" / an angry message."""

    def name(self) -> str:
        return "validate_complaint_form"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: dict[str, Any]) -> list[dict[str, Any]]:
        if quiet(tracker):
            return [SlotSet(complaint.STOP, "cancel"), SlotSet("requested_slot", None)]
        text, intent, _ = latest(tracker)
        slots = form_slots(tracker)
        asked = tracker.get_slot("requested_slot") if tracker.active_loop_name == FORM else None
        if asked and interrupted_by(tracker):
            step = complaint.resume(slots, asked)          # back from an interruption: ask again, or move on
        else:
            kind = complaint.interruption(text, intent, slots, asked)
            if kind:       # Rasa's interruption pattern: reject this turn; the answer comes, then the form
                log.info("sender=%s complaint form asked=%s interrupted by %s", tracker.sender_id, asked, kind)
                return [ActionExecutionRejected(FORM), FollowupAction(complaint.INTERRUPTIONS[kind])]
            engine = get_engine()
            with rasa_vectors(engine, tracker):
                guess = category_guesser(engine)
                step = (complaint.guessed_category(text, asked, guess)
                        or engine.complaint_step(text, slots, asked, tracker.sender_id, nlu=nlu(tracker),
                                                 state=State.from_slots(tracker.current_slot_values())))
                if asked is None:
                    step = complaint.guessed_opening(step, text, guess)
        for reply in step.said:
            dispatcher.utter_message(text=reply)
        if asked is None:      # a new form: nothing left over from an earlier, unfinished one
            slots = dict.fromkeys(complaint.SLOTS)
        slots.update(step.updates)
        changed = complaint.SLOTS if asked is None else [*step.updates, *([asked] if asked not in step.updates else [])]
        events = [SlotSet(k, slots.get(k)) for k in changed]   # Rasa rejects a form turn that sets nothing
        todo = complaint.needed(slots)
        log.info("sender=%s complaint form asked=%s next=%s", tracker.sender_id, asked, todo[0] if todo else None)
        return [*events, SlotSet("requested_slot", todo[0] if todo else None)]


def category_guesser(engine: Engine) -> complaint.CategoryGuesser:
    """The engine's embedder as a category guesser (it encodes the categories' words once)."""
    global _guesser
    with _lock:
        if _guesser is None or _guesser.embedder is not engine.retriever.embedder:
            _guesser = complaint.CategoryGuesser(engine.retriever.embedder)
        return _guesser


class AskComplaintSlot(Action, ABC):
    @property
    @abstractmethod
    def slot(self) -> str: ...

    def name(self) -> str:
        return f"action_ask_{self.slot}"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: dict[str, Any]) -> list[dict[str, Any]]:
        if quiet(tracker):
            return []
        turn = get_engine().complaint_question(self.slot, form_slots(tracker))
        answered = interrupted_by(tracker)
        if answered:
            turn.replies = [f"{complaint.BACK}{turn.replies[0]}", *turn.replies[1:]]
        if answered == "action_answer":      # the turn's route and topic are the answer's; just ask again
            for reply in turn.replies:
                dispatcher.utter_message(text=reply)
            return []
        return say(dispatcher, tracker, self.name(), turn)


def interrupted_by(tracker: Tracker) -> str | None:
    """The action that answered an interruption since the resident's latest message, if any (the form
    itself and its validation do not count: Rasa logs the form before it validates)."""
    for event in reversed(tracker.events):
        if event.get("event") == "user" or (event.get("event") == "active_loop" and event.get("name") == FORM):
            return None                  # the resident's message, or the form starting this turn
        if event.get("event") == "action" and event.get("name") not in (FORM, "action_listen", None):
            return str(event["name"])
    return None


class AskComplaintCategory(AskComplaintSlot):
    slot = complaint.CATEGORY


class AskComplaintUnit(AskComplaintSlot):
    slot = complaint.UNIT


class AskComplaintDescription(AskComplaintSlot):
    slot = complaint.DESCRIPTION


class AskComplaintOtherParty(AskComplaintSlot):
    slot = complaint.OTHER_PARTY


class AskComplaintUrgency(AskComplaintSlot):
    slot = complaint.URGENCY


class AskComplaintConfirmed(AskComplaintSlot):
    slot = complaint.CONFIRMED


class ActionSubmitComplaint(Action):
    def name(self) -> str:
        return "action_submit_complaint"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: dict[str, Any]) -> list[dict[str, Any]]:
        if quiet(tracker):
            return [SlotSet(name, None) for name in complaint.SLOTS]
        text, _, _ = latest(tracker)
        engine = get_engine()
        with rasa_vectors(engine, tracker):
            turn = engine.submit_complaint(form_slots(tracker), tracker.sender_id, text, nlu=nlu(tracker),
                                           state=State.from_slots(tracker.current_slot_values()))
        engine.observe(text, tracker.sender_id, turn)  # learning: a "complaint" the router answered or missed too
        return say(dispatcher, tracker, self.name(), turn)


# -- messages the admins' side triggers (assistant/desk/push.py) -------------------------------------------

def entity(tracker: Tracker, name: str) -> str | None:
    for ent in (tracker.latest_message or {}).get("entities") or []:
        if ent.get("entity") == name and ent.get("value"):
            return str(ent["value"])
    return None


class ActionAskCsat(Action):
    def name(self) -> str:
        return "action_ask_csat"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: dict[str, Any]) -> list[dict[str, Any]]:
        ticket_id = entity(tracker, "ticket_id")
        if not ticket_id:   # a resident typed something NLU read as this trigger
            log.warning("sender=%s csat asked without a ticket id", tracker.sender_id)
            return ActionFallback().run(dispatcher, tracker, domain)
        turn = get_engine().ask_csat(ticket_id)
        return [*say(dispatcher, tracker, self.name(), turn), SlotSet("csat_ticket", ticket_id)]


class ActionHandoffTimeout(Action):
    def name(self) -> str:
        return "action_handoff_timeout"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: dict[str, Any]) -> list[dict[str, Any]]:
        ticket_id, handoff_id = entity(tracker, "ticket_id"), entity(tracker, "handoff_id")
        if not (ticket_id or handoff_id):
            return ActionFallback().run(dispatcher, tracker, domain)
        turn = get_engine().handoff_timed_out(ticket_id, handoff_id)
        return say(dispatcher, tracker, self.name(), turn)
