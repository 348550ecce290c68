"""What the web chat lets through to Rasa, decided before anything reaches a tracker: the same
normalisation, moderation and personal-data redaction as the gateway (``ask``), after a length clip.

    guard = Guard()
    screened = guard.screen(session_id, text)
    screened.replies     # say these to the widget first (moderation reply, privacy warning)
    screened.forward     # the text for Rasa (redacted), or None: nothing goes to Rasa

Pure: imports the project's moderation and text code only, so it runs in the Rasa environment
(the project folder on PYTHONPATH) and in the app's tests.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from assistant.moderation import Message, Moderator
from assistant.text.normalize import MAX_MESSAGE_CHARS, clip, normalize

log = logging.getLogger(__name__)

MAX_CHARS = MAX_MESSAGE_CHARS   # a longer message keeps its head and end (assistant.text.normalize.clip)
CONVERSATION = "webchat"    # the moderator's conversation id: strikes count per web-chat session
_LET_THROUGH = ("allow", "redact")


@dataclass(frozen=True)
class Screened:
    action: str                     # the moderator's action (allow, redact, warn, ...)
    forward: str | None             # the text for Rasa; None when the moderator stopped the message
    replies: tuple[str, ...] = ()   # said to the widget before Rasa's answer


class Guard:
    """Thread-safe: moderation is serialised (strikes and the flood window are kept in memory)."""

    def __init__(self, moderator: Moderator | None = None, max_chars: int = MAX_CHARS) -> None:
        self.moderator = moderator or Moderator()
        self.max_chars = max_chars
        self._lock = threading.Lock()

    def screen(self, sender: str, text: object) -> Screened:
        raw = text if isinstance(text, str) else ""
        # clip first, so a huge message costs no more than a long one; lone surrogates become "?"
        raw = clip(raw, self.max_chars).encode("utf-8", "replace").decode("utf-8")
        clean = clip(normalize(raw), self.max_chars)
        with self._lock:
            d = self.moderator.check(Message(sender, CONVERSATION, clean))
        replies = tuple(([d.reply] if d.reply else []) + list(d.extra_replies)) if d.action != "allow" else ()
        forward = d.redacted_text if d.action in _LET_THROUGH else None
        clipped = isinstance(text, str) and len(text) > self.max_chars
        log.info("webchat sender=%s action=%s forwarded=%s clipped=%s", sender, d.action, forward is not None, clipped)
        return Screened(d.action, forward, replies)
