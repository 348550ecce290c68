"""Evaluate single-turn behaviour on a cases file (the format of shared/eval/dev_cases.yml)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assistant.channels.client import Reply
from assistant.dialogue.engine import ROUTES
from assistant.errors import DataError
from assistant.knowledge.kb import TOPICS
from assistant.text.yamlfile import LINE, read_yaml


@dataclass(frozen=True)
class Case:
    text: str
    routes: tuple[str, ...]
    topics: tuple[str, ...] = ()
    line: int = 0


@dataclass
class Outcome:
    case: Case
    reply: Reply

    @property
    def route_ok(self) -> bool:
        return self.reply.route in self.case.routes

    @property
    def topic_ok(self) -> bool:
        return self.reply.topic in self.case.topics


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)

    def metrics(self) -> dict[str, Any]:
        out = self.outcomes
        # Topic is checked where an answer is expected, unless the reply took another accepted route.
        with_topic = [o for o in out if o.case.topics and "answer" in o.case.routes
                      and (o.reply.route == "answer" or not o.route_ok)]
        oos = [o for o in out if o.case.routes == ("fallback",) or set(o.case.routes) <= {"fallback", "chitchat"}]
        lat = np.array([o.reply.latency_ms for o in out]) if out else np.zeros(1)
        per_route = {}
        for r in ROUTES:
            gold = [o for o in out if _gold(o) == r]
            pred = [o for o in out if o.reply.route == r]
            tp = sum(1 for o in pred if _gold(o) == r)
            if gold or pred:
                per_route[r] = {"precision": round(tp / len(pred), 4) if pred else None,
                                "recall": round(tp / len(gold), 4) if gold else None,
                                "support": len(gold)}
        confusions = Counter((_gold(o), o.reply.route) for o in out if not o.route_ok)
        return {
            "cases": len(out),
            "route_accuracy": round(sum(o.route_ok for o in out) / max(1, len(out)), 4),
            "topic_accuracy": round(sum(o.topic_ok for o in with_topic) / max(1, len(with_topic)), 4),
            "topic_cases": len(with_topic),
            "out_of_scope_answered": round(sum(o.reply.route == "answer" for o in oos) / max(1, len(oos)), 4),
            "out_of_scope_cases": len(oos),
            "per_route": per_route,
            "confusions": [{"expected": g, "got": p, "count": n} for (g, p), n in confusions.most_common()],
            "latency_ms": {"p50": round(float(np.percentile(lat, 50)), 1),
                           "p95": round(float(np.percentile(lat, 95)), 1)},
            "errors": [{"line": o.case.line, "text": o.case.text, "expected": list(o.case.routes),
                        "expected_topic": list(o.case.topics), "route": o.reply.route, "topic": o.reply.topic,
                        "intent": o.reply.intent}
                       for o in out if not o.route_ok or (o in with_topic and not o.topic_ok)],
        }


def _gold(o: Outcome) -> str:
    return o.reply.route if o.route_ok else o.case.routes[0]


def _tuple(value: Any, allowed: Iterable[str], what: str, path: Path, line: int) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    allowed = tuple(allowed)
    for v in items:
        if v not in allowed:
            raise DataError(f"unknown {what} {v!r} (one of {', '.join(allowed)})", path=str(path), line=line,
                            field=what)
    return tuple(items)


def load_cases(path: str | Path) -> list[Case]:
    path = Path(path)
    data = read_yaml(path)
    raw = data.get("cases") if isinstance(data, dict) else None
    if not isinstance(raw, list):
        raise DataError("expected a top-level `cases:` list", path=str(path), line=1)
    cases = []
    for c in raw:
        line = c.get(LINE, 0) if isinstance(c, dict) else 0
        if not isinstance(c, dict) or not isinstance(c.get("text"), str):
            raise DataError("each case needs a text", path=str(path), line=line, field="text")
        routes = _tuple(c.get("route"), ROUTES, "route", path, line)
        topics = _tuple(c["topic"], TOPICS, "topic", path, line) if c.get("topic") is not None else ()
        cases.append(Case(c["text"], routes, topics, line))
    return cases


def run(cases: list[Case], ask: Callable[[str], Reply],
        progress: Callable[[int], None] | None = None) -> Report:
    report = Report()
    for i, case in enumerate(cases):
        report.outcomes.append(Outcome(case, ask(case.text)))
        if progress:
            progress(i + 1)
    return report
