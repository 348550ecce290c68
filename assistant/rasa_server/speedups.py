"""Work Rasa 3.6 repeats on every turn for nothing, removed at start (``rasa_main``) without changing what it does.

``RemoteAction._validate_action_result`` checks the action server's answer with ``jsonschema.validate``, which
first checks the schema itself against the metaschema: measured with py-spy, 9 % of the Rasa server's CPU per
turn, for a schema that never changes. Here the validator is built (and the schema checked) once; the answer is
checked against it as before, and a bad answer raises the same ``ValidationError`` with the same message.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL


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


def install() -> None:
    RemoteAction._validate_action_result = validate_action_result
