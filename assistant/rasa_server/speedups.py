"""Work Rasa 3.6 repeats on every turn for nothing, removed at start (``rasa_main``) without changing what it does.

TED is not asked when a rule has already decided the next action: Rasa runs every policy on every prediction
(twice a turn: the action, then ``action_listen``) and its ensemble then takes the rule's, which is sure (1.0) and
has the higher priority, so TED's answer could not change anything (py-spy: TED's prediction was 7 % of Rasa's
CPU per turn). TED still runs when no rule is sure, when an action was just rejected (Rasa then zeroes that
action in every prediction) and in end-to-end models.

``RemoteAction._validate_action_result`` checks the action server's answer with ``jsonschema.validate``, which
first checks the schema itself against the metaschema: measured with py-spy, 9 % of the Rasa server's CPU per
turn, for a schema that never changes. Here the validator is built (and the schema checked) once; the answer is
checked against it as before, and a bad answer raises the same ``ValidationError`` with the same message.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.core.policies.rule_policy import RulePolicy
from rasa.core.policies.ted_policy import TEDPolicy
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.core.events import ActionExecuted, ActionExecutionRejected


@lru_cache(maxsize=1)
def _validator() -> Any:
    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def validate_action_result(_action: RemoteAction, result: dict[str, Any]) -> bool:
    """``RemoteAction._validate_action_result`` with the validator built once (jsonschema.validate's steps)."""
    error = best_match(_validator().iter_errors(result))
    if error is None:
        return True
    error.message += (". Failed to validate Action server response from API, make sure your response from the "
                      f"Action endpoint is valid. For more information about the format visit "
                      f"{DOCS_BASE_URL}/custom-actions")
    raise error


_seen = threading.local()        # the rule's prediction for the tracker being predicted on (one graph run)
_rule_predict = RulePolicy.predict_action_probabilities
_ted_predict = TEDPolicy.predict_action_probabilities


def rule_predict(policy: RulePolicy, tracker: Any, domain: Any, *args: Any, **kwargs: Any) -> Any:
    prediction = _rule_predict(policy, tracker, domain, *args, **kwargs)
    _seen.last = (tracker, len(tracker.events), prediction)
    return prediction


def rule_decided(tracker: Any) -> bool:
    """Whether the rule's prediction on this very tracker state wins whatever TED says."""
    seen = getattr(_seen, "last", None)
    if seen is None or seen[0] is not tracker or seen[1] != len(tracker.events):
        return False
    prediction = seen[2]
    last = next((e for e in reversed(tracker.events) if isinstance(e, (ActionExecuted, ActionExecutionRejected))),
                None)
    return (prediction.max_confidence >= 1.0 and not prediction.is_end_to_end_prediction
            and not isinstance(last, ActionExecutionRejected))


def ted_predict(policy: TEDPolicy, tracker: Any, domain: Any, rule_only_data: Any = None,
                precomputations: Any = None, **kwargs: Any) -> Any:
    if precomputations is None and rule_decided(tracker):
        return policy._prediction(policy._default_predictions(domain))
    return _ted_predict(policy, tracker, domain, rule_only_data, precomputations, **kwargs)


def install() -> None:
    RemoteAction._validate_action_result = validate_action_result
    RulePolicy.predict_action_probabilities = rule_predict
    TEDPolicy.predict_action_probabilities = ted_predict
