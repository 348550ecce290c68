"""Runs in the Rasa environment (Python 3.10): the action server's answer is checked by a validator built once
(assistant/rasa_server/speedups.py) with the outcome of Rasa's own check: the same answers pass, the same fail,
with the same message."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction

from assistant.rasa_server import speedups

GOOD: list[dict[str, Any]] = [
    {"events": [{"event": "slot", "name": "last_topic", "value": "parking"}],
     "responses": [{"text": "车位在B2", "custom": {"route": "answer"}}]},
    {"events": [], "responses": []},
    {},
]
BAD: list[dict[str, Any]] = [
    {"events": [{"event": "no_such_event"}], "responses": []},
    {"events": "not a list", "responses": []},
    {"events": [{"name": "x"}]},
]


def _outcome(check: Any, result: dict[str, Any]) -> str:
    try:
        return f"ok {check(RemoteAction('action_answer', None), result)}"
    except ValidationError as exc:
        return f"error {exc.message}"


@pytest.mark.parametrize("result", GOOD + BAD)
def test_same_outcome_as_rasas_own_check(result: dict[str, Any]) -> None:
    original = RemoteAction._validate_action_result
    ours = _outcome(speedups.validate_action_result, result)
    assert ours == _outcome(original, result)
    assert ours.startswith("ok") == (result in GOOD)


def test_install_replaces_the_check() -> None:
    original = RemoteAction._validate_action_result
    try:
        speedups.install()
        assert RemoteAction._validate_action_result is speedups.validate_action_result
        with pytest.raises(ValidationError):
            RemoteAction("action_answer", None)._validate_action_result(BAD[0])
    finally:
        RemoteAction._validate_action_result = original
