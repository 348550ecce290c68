"""Flood detection: the same or near-same text N times in M seconds from one sender.

Memory is bounded: at most ``max_history`` recent messages per sender (clipped), at most
``max_senders`` senders (least recently seen dropped first), and entries older than the window
are dropped whenever a sender is seen again or during a periodic sweep.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass

CLIP = 300          # characters of a message kept for comparison
_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True)
class _Seen:
    at: float
    text: str
    grams: frozenset[str]


def _key_text(squeezed: str) -> str:
    # Numbers vary in spam ("第3条", random tails); compare the words.
    return _DIGITS.sub("0", squeezed)[:CLIP]


def _grams(text: str) -> frozenset[str]:
    if len(text) < 2:
        return frozenset({text})
    return frozenset(text[i:i + 2] for i in range(len(text) - 1))


def similar(a: _Seen, b: _Seen, threshold: float) -> bool:
    if a.text == b.text:
        return True
    inter = len(a.grams & b.grams)
    union = len(a.grams) + len(b.grams) - inter
    return union > 0 and inter / union >= threshold


class FloodTracker:
    def __init__(self, count: int = 3, window_seconds: float = 60, similarity: float = 0.8,
                 min_chars: int = 4, max_history: int = 20, max_senders: int = 5000) -> None:
        self.count = int(count)
        self.window = float(window_seconds)
        self.threshold = float(similarity)
        self.min_chars = int(min_chars)
        self.max_history = max(int(max_history), self.count)
        self.max_senders = int(max_senders)
        self._recent: OrderedDict[str, deque[_Seen]] = OrderedDict()
        self._lock = threading.Lock()
        self._calls = 0

    def __len__(self) -> int:
        return len(self._recent)

    def entries(self) -> int:
        return sum(len(d) for d in self._recent.values())

    def seen(self, key: str, squeezed: str, at: float) -> bool:
        """Record a message; True when it is the ``count``-th similar one inside the window."""
        text = _key_text(squeezed)
        if len(text) < self.min_chars:
            return False
        item = _Seen(at, text, _grams(text))
        with self._lock:
            self._calls += 1
            if self._calls % 1000 == 0:
                self._sweep(at)
            recent = self._recent.pop(key, None) or deque(maxlen=self.max_history)
            while recent and recent[0].at < at - self.window:
                recent.popleft()
            same = 1 + sum(1 for s in recent if s.at >= at - self.window and similar(s, item, self.threshold))
            recent.append(item)
            self._recent[key] = recent
            while len(self._recent) > self.max_senders:
                self._recent.popitem(last=False)
        return same >= self.count

    def _sweep(self, now: float) -> None:
        for key in [k for k, d in self._recent.items() if not d or d[-1].at < now - self.window]:
            del self._recent[key]
