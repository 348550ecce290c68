"""The Rasa custom actions (``actions.actions``), loaded by the action server (rasa_sdk).

rasa_sdk sets up logging before it imports this package: its handlers get the filter that keeps
personal data out of log records (``assistant.logs``). The library itself adds no handlers.
"""

from assistant.logs import redact_handlers

redact_handlers("", "rasa_sdk")
