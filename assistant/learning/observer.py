"""The engine's learning port (``dialogue.ports.LearningPort``): counts every turn and keeps the
doubtful questions, redacted by the one redactor, for the admins' review queue."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from assistant.learning.store import LearningError, LearningStore
from assistant.moderation.pii import redact_text

log = logging.getLogger(__name__)
REMEMBERED = 5000           # senders whose last answered question is kept in memory (for a 👎)


class Observer:
    def __init__(self, store: LearningStore) -> None:
        self.store = store
        self._last: OrderedDict[str, tuple[str, str, str | None, list[dict[str, Any]], float | None]] = OrderedDict()
        self._lock = threading.Lock()

    def observe(self, sender: str, text: str, route: str, topic: str | None, sources: Sequence[dict[str, Any]],
                confidence: float | None, doubt: str | None) -> None:
        entry = str(sources[0]["id"]).split("#")[0] if route == "answer" and sources else None
        try:
            self.store.add_turn(sender, route, topic, entry, confidence, doubt)
            clean = redact_text(text.strip())
            if doubt and clean:
                self.store.add_question(sender, clean, doubt, route, topic, confidence, list(sources))
        except (SQLAlchemyError, LearningError) as exc:
            log.warning("learning: turn of sender=%s not recorded: %s", sender, type(exc).__name__)
            return
        if route == "answer" and clean:
            with self._lock:
                self._last[sender] = (clean, route, topic, list(sources), confidence)
                self._last.move_to_end(sender)
                while len(self._last) > REMEMBERED:
                    self._last.popitem(last=False)

    def feedback(self, sender: str, entry_id: str, helpful: bool) -> None:
        try:
            self.store.add_feedback(sender, entry_id.split("#")[0], helpful)
            if not helpful:
                with self._lock:
                    last = self._last.pop(sender, None)
                if last is not None:       # the question the resident found unanswered goes to review
                    text, route, topic, sources, confidence = last
                    self.store.add_question(sender, text, "thumbs_down", route, topic, confidence, sources)
        except (SQLAlchemyError, LearningError) as exc:
            log.warning("learning: feedback of sender=%s not recorded: %s", sender, type(exc).__name__)
