"""A logging filter for the Rasa process (assistant/rasa_server/logging.yml): Rasa 3.6's REST channel logs the
resident's message text when a request times out or fails (``rest.message.received.timeout`` /
``.failure``, structlog rendered to JSON); the filter keeps the event and drops the text."""

from __future__ import annotations

import json
import logging

TEXT_KEYS = ("text", "message", "user_text", "user_message", "parse_data_text", "tracker_latest_message")


class WithoutText(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a record whose arguments do not format: say nothing of it
            message = ""
        try:
            event = json.loads(message)
        except ValueError:
            event = None
        if isinstance(event, dict):
            for key in TEXT_KEYS:
                if key in event:
                    event[key] = "[withheld]"
            record.msg, record.args = json.dumps(event, ensure_ascii=False), None
        else:
            record.msg, record.args = f"{record.name}: event withheld (it may hold message text)", None
        return True
