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


class _Policy:
    """Stands in for TEDPolicy: counts the predictions it is asked for."""

    def __init__(self) -> None:
        self.asked = 0

    def _default_predictions(self, domain: Any) -> list[float]:
        return [0.0, 0.0]

    def _prediction(self, probabilities: list[float]) -> Any:
        from rasa.core.policies.policy import PolicyPrediction

        return PolicyPrediction(probabilities, "TEDPolicy", 1)


def _ted(policy: _Policy, tracker: Any, domain: Any, *_: Any, **__: Any) -> Any:
    policy.asked += 1
    return policy._prediction([0.2, 0.8])


@pytest.mark.parametrize(("confidence", "rejected", "asked"), [(1.0, False, 0), (0.3, False, 1), (1.0, True, 1)])
def test_ted_is_asked_only_when_no_rule_decided(monkeypatch: pytest.MonkeyPatch, confidence: float, rejected: bool,
                                               asked: int) -> None:
    """A sure rule (1.0) wins the ensemble whatever TED says: TED is skipped. Not sure (the core fallback's 0.3),
    or an action just rejected (the ensemble zeroes it in every prediction): TED is asked as before."""
    from rasa.core.policies.policy import PolicyPrediction
    from rasa.shared.core.events import ActionExecuted, ActionExecutionRejected, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    events: list[Any] = [ActionExecuted("action_listen"), UserUttered("车位怎么租", {"name": "faq_parking"})]
    if rejected:
        events.append(ActionExecutionRejected("complaint_form"))
    tracker = DialogueStateTracker.from_events("s", events)
    rule = PolicyPrediction([0.0, confidence], "RulePolicy", 6)
    monkeypatch.setattr(speedups, "_rule_predict", lambda *_a, **_k: rule)
    monkeypatch.setattr(speedups, "_ted_predict", _ted)
    ted = _Policy()
    assert speedups.rule_predict(Any, tracker, None) is rule     # type: ignore[arg-type]
    out = speedups.ted_predict(ted, tracker, None)                # type: ignore[arg-type]
    assert ted.asked == asked
    assert out.max_confidence == (0.0 if asked == 0 else 0.8)
    tracker.update(ActionExecuted("action_answer"))               # another state: the rule's verdict is stale
    speedups.ted_predict(ted, tracker, None)                      # type: ignore[arg-type]
    assert ted.asked == asked + 1
