"""Rasa custom actions: thin glue between Rasa trackers and ``assistant.engine``."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
import threading
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from assistant.engine import Engine, State, Turn

log = logging.getLogger(__name__)
MACHINE_CHANNELS = (None, "rest")
_engine: Engine | None = None
_lock = threading.Lock()


def get_engine() -> Engine:
    """The process-wide engine, loaded on first use (model, index, calibration)."""
    global _engine
    with _lock:
        if _engine is None:
            _engine = Engine.load()
        return _engine


def set_engine(engine: Engine | None) -> None:
    """For tests and embedders that build their own engine."""
    global _engine
    with _lock:
        _engine = engine


class EngineAction(Action, ABC):
    """Reads the latest message and slots, asks the engine, utters replies and metadata."""

    @abstractmethod
    def name(self) -> str: ...

    @abstractmethod
    def respond(self, engine: Engine, text: str, intent: str, state: State, sender: str) -> Turn: ...

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: dict[str, Any]) -> list[dict[str, Any]]:
        message = tracker.latest_message or {}
        text = message.get("text") or ""
        intent_info = message.get("intent") or {}
        intent = intent_info.get("name") or "nlu_fallback"
        state = State.from_slots(tracker.current_slot_values())
        turn = self.respond(get_engine(), text, intent, state, tracker.sender_id)
        for reply in turn.replies:
            dispatcher.utter_message(text=reply)
        if tracker.get_latest_input_channel() in MACHINE_CHANNELS:
            # The REST API also gets route, topic and sources; chat widgets get only the text.
            meta = turn.meta() | {"intent": intent, "confidence": intent_info.get("confidence")}
            dispatcher.utter_message(json_message=meta)
        log.info("sender=%s action=%s intent=%s route=%s topic=%s", tracker.sender_id, self.name(), intent,
                 turn.route, turn.topic)
        return [SlotSet(k, v) for k, v in turn.state.as_slots().items()]


class ActionAnswer(EngineAction):
    def name(self) -> str:
        return "action_answer"

    def respond(self, engine: Engine, text: str, intent: str, state: State, sender: str) -> Turn:
        return engine.answer(text, intent, state)


class ActionChitchat(EngineAction):
    def name(self) -> str:
        return "action_chitchat"

    def respond(self, engine: Engine, text: str, intent: str, state: State, sender: str) -> Turn:
        return engine.chitchat(intent, text, state, sender)


class ActionComplain(EngineAction):
    def name(self) -> str:
        return "action_complain"

    def respond(self, engine: Engine, text: str, intent: str, state: State, sender: str) -> Turn:
        return engine.complain(text, state, sender)


class ActionHandoff(EngineAction):
    def name(self) -> str:
        return "action_handoff"

    def respond(self, engine: Engine, text: str, intent: str, state: State, sender: str) -> Turn:
        return engine.handoff(text, state, sender)


class ActionFallback(EngineAction):
    def name(self) -> str:
        return "action_fallback"

    def respond(self, engine: Engine, text: str, intent: str, state: State, sender: str) -> Turn:
        return engine.fallback(text, state)
