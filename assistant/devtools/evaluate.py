"""Evaluate the assistant on eval files: single-turn cases (``cases:``, the format of
shared/eval/dev_cases.yml) and multi-turn dialogues (``dialogues:``, the format of
shared/eval/dev_dialogues.yml), with a calibration report of the replies' ``confidence``."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assistant.channels.client import Reply
from assistant.dialogue.engine import ROUTES
from assistant.errors import DataError
from assistant.knowledge.kb import TOPICS
from assistant.text.yamlfile import LINE, read_yaml

CAL_BINS = 10
QUIET_CHARS = 60      # `quiet: true` allows at most one holding line this long, with route handoff


@dataclass(frozen=True)
class Case:
    text: str
    routes: tuple[str, ...]
    topics: tuple[str, ...] = ()
    line: int = 0
    entries: tuple[str, ...] | None = None   # the entries that answer it; () for "none"; None: not checked


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


def _ratio(num: float, den: int) -> float | None:
    return round(num / den, 4) if den else None


def calibration(pairs: Sequence[tuple[float | None, bool]], bins: int = CAL_BINS) -> dict[str, Any]:
    """Reliability diagram data and expected calibration error of (confidence, was it right) pairs.
    Equal-width bins over [0, 1]; pairs without a confidence are counted, not scored."""
    scored = [(min(1.0, max(0.0, float(c))), ok) for c, ok in pairs if c is not None]
    rows, ece = [], 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        inside = [(c, ok) for c, ok in scored if lo <= c < hi or (b == bins - 1 and c == 1.0)]
        mean_c = float(np.mean([c for c, _ in inside])) if inside else None
        acc = float(np.mean([ok for _, ok in inside])) if inside else None
        if inside and mean_c is not None and acc is not None:
            ece += len(inside) / len(scored) * abs(acc - mean_c)
        rows.append({"lo": round(lo, 2), "hi": round(hi, 2), "count": len(inside),
                     "mean_confidence": None if mean_c is None else round(mean_c, 4),
                     "accuracy": None if acc is None else round(acc, 4)})
    return {"scored": len(scored), "unscored": len(pairs) - len(scored), "ece": round(ece, 4) if scored else None,
            "bins": rows}


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
            "route_accuracy": _ratio(sum(o.route_ok for o in out), len(out)),
            "topic_accuracy": _ratio(sum(o.topic_ok for o in with_topic), len(with_topic)),
            "topic_cases": len(with_topic),
            "out_of_scope_answered": _ratio(sum(o.reply.route == "answer" for o in oos), len(oos)),
            "out_of_scope_cases": len(oos),
            "per_route": per_route,
            "confusions": [{"expected": g, "got": p, "count": n} for (g, p), n in confusions.most_common()],
            "latency_ms": {"p50": round(float(np.percentile(lat, 50)), 1),
                           "p95": round(float(np.percentile(lat, 95)), 1)},
            "calibration": calibration([(o.reply.confidence, o.route_ok) for o in out]),
            **entry_metrics(out),
            "errors": [{"line": o.case.line, "text": o.case.text, "expected": list(o.case.routes),
                        "expected_topic": list(o.case.topics), "route": o.reply.route, "topic": o.reply.topic,
                        "intent": o.reply.intent}
                       for o in out if not o.route_ok or (o in with_topic and not o.topic_ok)],
        }


def answered_entry(reply: Reply) -> str | None:
    """The entry an answer gave: its first source (a garbage item answers for its category's entry)."""
    if reply.route != "answer" or not reply.sources:
        return None
    src = reply.sources[0]
    return str(src.get("entry") or src.get("id") or "") or None


def entry_metrics(out: Sequence[Outcome]) -> dict[str, Any]:
    """Entry-level correctness, for cases with `entry:`: top-1 accuracy over the answerable ones, wrong
    among the answered (sure = one source; hedged = alternatives listed too), the answer confidence's
    AUC (right vs wrong among the answered), and the unanswerable ones answered."""
    answerable = [o for o in out if o.case.entries]
    none = [o for o in out if o.case.entries == ()]
    if not answerable and not none:
        return {}
    got = [(o, answered_entry(o.reply)) for o in answerable]
    answered = [(o, e) for o, e in got if e is not None]
    sure = [(o, e) for o, e in answered if len(o.reply.sources) == 1]
    scored = [(float(o.reply.answer_confidence), e in (o.case.entries or ())) for o, e in answered
              if o.reply.answer_confidence is not None]
    return {"entry": {
        "answerable": len(answerable),
        "top1_accuracy": _ratio(sum(e in (o.case.entries or ()) for o, e in got), len(answerable)),
        "answered": _ratio(len(answered), len(answerable)),
        "wrong_when_answered": _ratio(sum(e not in (o.case.entries or ()) for o, e in answered), len(answered)),
        "wrong_when_sure": _ratio(sum(e not in (o.case.entries or ()) for o, e in sure), len(sure)),
        "answer_confidence_auc": _auc(scored),
        "unanswerable": len(none),
        "unanswerable_answered": _ratio(sum(answered_entry(o.reply) is not None for o in none), len(none)),
        "errors": [{"line": o.case.line, "text": o.case.text, "expected": list(o.case.entries or ()), "got": e,
                    "answer_confidence": o.reply.answer_confidence} for o, e in got
                   if e not in (o.case.entries or ())],
    }}


def _auc(pairs: Sequence[tuple[float, bool]]) -> float | None:
    pos = [c for c, ok in pairs if ok]
    neg = [c for c, ok in pairs if not ok]
    if not pos or not neg:
        return None
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return round(wins / (len(pos) * len(neg)), 4)


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


def _case_list(data: Any, path: Path) -> list[Case]:
    raw = data.get("cases")
    if not isinstance(raw, list):
        raise DataError("`cases:` must be a list", path=str(path), line=1, field="cases")
    cases = []
    for c in raw:
        line = c.get(LINE, 0) if isinstance(c, dict) else 0
        if not isinstance(c, dict) or not isinstance(c.get("text"), str):
            raise DataError("each case needs a text", path=str(path), line=line, field="text")
        routes = _tuple(c.get("route"), ROUTES, "route", path, line)
        topics = _tuple(c["topic"], TOPICS, "topic", path, line) if c.get("topic") is not None else ()
        cases.append(Case(c["text"], routes, topics, line, _entries(c.get("entry"), path, line)))
    return cases


def _entries(value: Any, path: Path, line: int) -> tuple[str, ...] | None:
    if value is None:
        return None
    if value == "none":
        return ()
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(v, str) and v for v in items):
        raise DataError("`entry` must be an entry id, a list of them or `none`", path=str(path), line=line,
                        field="entry")
    return tuple(items)


def load_cases(path: str | Path) -> list[Case]:
    path = Path(path)
    data = read_yaml(path)
    if not isinstance(data, dict) or "cases" not in data:
        raise DataError("expected a top-level `cases:` list", path=str(path), line=1)
    return _case_list(data, path)


def run(cases: list[Case], ask: Callable[[str], Reply],
        progress: Callable[[int], None] | None = None) -> Report:
    report = Report()
    for i, case in enumerate(cases):
        report.outcomes.append(Outcome(case, ask(case.text)))
        if progress:
            progress(i + 1)
    return report


# -- dialogues ------------------------------------------------------------------------------------

EXPECT_KEYS = ("route", "topic", "reply_contains", "reply_not_contains", "ticket", "quiet")


@dataclass(frozen=True)
class Expect:
    routes: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    contains: tuple[str, ...] = ()        # at least one of them in the joined replies
    not_contains: tuple[str, ...] = ()    # none of them
    ticket: bool | str | None = None      # True: a ticket id; False: none; "same": the dialogue's first one
    quiet: bool | None = None

    def given(self) -> list[str]:
        given = (self.routes, self.topics, self.contains, self.not_contains, self.ticket is not None,
                 self.quiet is not None)
        return [k for k, v in zip(EXPECT_KEYS, given, strict=True) if v]


@dataclass(frozen=True)
class DialogueTurn:
    text: str
    expect: Expect
    line: int = 0


@dataclass(frozen=True)
class Dialogue:
    name: str
    turns: tuple[DialogueTurn, ...]
    line: int = 0


@dataclass(frozen=True)
class EvalFile:
    path: Path
    cases: list[Case]
    dialogues: list[Dialogue]


def _strings(value: Any, what: str, path: Path, line: int) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(v, str) and v for v in items):
        raise DataError("expected a non-empty string or a list of them", path=str(path), line=line, field=what)
    return tuple(items)


def _expect(raw: Any, path: Path, line: int) -> Expect:
    if raw is None:
        return Expect()
    if not isinstance(raw, dict):
        raise DataError("`expect` must be a mapping", path=str(path), line=line, field="expect")
    line = raw.get(LINE, line)
    for k in raw:
        if k != LINE and k not in EXPECT_KEYS:
            raise DataError(f"unknown expect key {k!r} (one of {', '.join(EXPECT_KEYS)})", path=str(path),
                            line=line, field=str(k))
    ticket = raw.get("ticket")
    if ticket is not None and ticket not in (True, False, "same"):
        raise DataError(f"ticket must be true, false or same, not {ticket!r}", path=str(path), line=line,
                        field="ticket")
    quiet = raw.get("quiet")
    if quiet is not None and not isinstance(quiet, bool):
        raise DataError(f"quiet must be true or false, not {quiet!r}", path=str(path), line=line, field="quiet")
    return Expect(
        routes=_tuple(raw["route"], ROUTES, "route", path, line) if raw.get("route") is not None else (),
        topics=_tuple(raw["topic"], TOPICS, "topic", path, line) if raw.get("topic") is not None else (),
        contains=_strings(raw["reply_contains"], "reply_contains", path, line) if "reply_contains" in raw else (),
        not_contains=(_strings(raw["reply_not_contains"], "reply_not_contains", path, line)
                      if "reply_not_contains" in raw else ()),
        ticket=ticket, quiet=quiet)


def _dialogue_list(data: Any, path: Path) -> list[Dialogue]:
    raw = data.get("dialogues")
    if not isinstance(raw, list):
        raise DataError("`dialogues:` must be a list", path=str(path), line=1, field="dialogues")
    out = []
    for d in raw:
        line = int(d.get(LINE, 0)) if isinstance(d, dict) else 0
        if not isinstance(d, dict) or not isinstance(d.get("turns"), list) or not d["turns"]:
            raise DataError("each dialogue needs a non-empty `turns:` list", path=str(path), line=line, field="turns")
        name = d.get("name", f"line {line}")
        if not isinstance(name, str):
            raise DataError("name must be a string", path=str(path), line=line, field="name")
        turns = []
        for t in d["turns"]:
            tline = int(t.get(LINE, line)) if isinstance(t, dict) else line
            if not isinstance(t, dict) or not isinstance(t.get("text"), str):
                raise DataError("each turn needs a text", path=str(path), line=tline, field="text")
            turns.append(DialogueTurn(t["text"], _expect(t.get("expect"), path, tline), tline))
        out.append(Dialogue(name, tuple(turns), line))
    return out


def load_dialogues(path: str | Path) -> list[Dialogue]:
    return load_eval_file(path).dialogues


def load_eval_file(path: str | Path) -> EvalFile:
    """A file with `cases:`, `dialogues:` or both; anything wrong raises DataError naming file, line, field."""
    path = Path(path)
    data = read_yaml(path)
    if not isinstance(data, dict) or not ({"cases", "dialogues"} & set(data)):
        raise DataError("expected a top-level `cases:` or `dialogues:` list", path=str(path), line=1)
    cases = _case_list(data, path) if "cases" in data else []
    dialogues = _dialogue_list(data, path) if "dialogues" in data else []
    return EvalFile(path, cases, dialogues)


def check_turn(expect: Expect, reply: Reply, first_ticket: str | None) -> list[str]:
    """The expectations a reply misses, each as ``key: what happened``; [] when the turn is right."""
    failed = []
    if expect.routes and reply.route not in expect.routes:
        failed.append(f"route: {reply.route}")
    # As for single turns: the topic is not checked when another accepted route than answer was taken.
    skip_topic = bool(expect.routes) and reply.route in expect.routes and reply.route != "answer"
    if expect.topics and not skip_topic and reply.topic not in expect.topics:
        failed.append(f"topic: {reply.topic}")
    said = "\n".join(reply.replies)
    if expect.contains and not any(s in said for s in expect.contains):
        failed.append("reply_contains: none found")
    hits = [s for s in expect.not_contains if s in said]
    if hits:
        failed.append(f"reply_not_contains: {len(hits)} found")
    if expect.ticket is True and not reply.ticket_id:
        failed.append("ticket: none")
    elif expect.ticket is False and reply.ticket_id:
        failed.append("ticket: one was opened")
    elif expect.ticket == "same" and (not reply.ticket_id or reply.ticket_id != first_ticket):
        failed.append("ticket: " + ("none" if not reply.ticket_id else "no earlier ticket" if first_ticket is None
                                    else "a different one"))
    if expect.quiet is True:
        holding = reply.route == "handoff" and len(reply.replies) == 1 and len(reply.replies[0]) <= QUIET_CHARS
        if reply.replies and not holding:
            failed.append("quiet: the bot spoke")
    elif expect.quiet is False and not reply.replies:
        failed.append("quiet: no reply")
    return failed


@dataclass
class TurnResult:
    turn: DialogueTurn
    reply: Reply | None          # None: not run (the dialogue errored before)
    failed: list[str]

    @property
    def ok(self) -> bool:
        return not self.failed


@dataclass
class DialogueResult:
    dialogue: Dialogue
    turns: list[TurnResult]
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and all(t.ok for t in self.turns)


def run_dialogue(dialogue: Dialogue, ask: Callable[[str, str], Reply], sender: str) -> DialogueResult:
    """All turns from one sender; an exception fails the rest of the dialogue with its reason."""
    results: list[TurnResult] = []
    first_ticket: str | None = None
    for i, turn in enumerate(dialogue.turns):
        try:
            reply = ask(turn.text, sender)
        except Exception as exc:   # any failure is the dialogue's result, with the reason
            reason = f"turn {i + 1}: {type(exc).__name__}: {exc}"
            results.append(TurnResult(turn, None, [f"error: {reason}"]))
            results += [TurnResult(t, None, ["error: not run"]) for t in dialogue.turns[i + 1:]]
            return DialogueResult(dialogue, results, reason)
        results.append(TurnResult(turn, reply, check_turn(turn.expect, reply, first_ticket)))
        first_ticket = first_ticket or reply.ticket_id
    return DialogueResult(dialogue, results)


def new_sender() -> str:
    return f"eval-{uuid.uuid4().hex[:12]}"


@dataclass
class DialogueReport:
    results: list[DialogueResult] = field(default_factory=list)

    def metrics(self) -> dict[str, Any]:
        res = self.results
        turns = [t for r in res for t in r.turns]
        per_key: dict[str, dict[str, Any]] = {}
        for key in EXPECT_KEYS:
            checked = [t for t in turns if key in t.turn.expect.given()]
            if checked:
                bad = sum(1 for t in checked if any(f.startswith((key + ":", "error:")) for f in t.failed))
                per_key[key] = {"checked": len(checked), "accuracy": _ratio(len(checked) - bad, len(checked))}
        routed = [t for t in turns if t.turn.expect.routes and t.reply is not None]
        return {
            "dialogues": len(res),
            "dialogue_success": _ratio(sum(r.ok for r in res), len(res)),
            "turns": len(turns),
            "turn_accuracy": _ratio(sum(t.ok for t in turns), len(turns)),
            "errored": sum(r.error is not None for r in res),
            "per_key": per_key,
            "calibration": calibration([(t.reply.confidence, t.reply.route in t.turn.expect.routes)
                                        for t in routed if t.reply is not None]),
            "failures": [{"dialogue": r.dialogue.name, "line": t.turn.line, "turn": i + 1, "text": t.turn.text,
                          "failed": t.failed, "route": t.reply.route if t.reply else None,
                          "topic": t.reply.topic if t.reply else None, "intent": t.reply.intent if t.reply else None,
                          "replies": list(t.reply.replies) if t.reply else [], "error": r.error}
                         for r in res for i, t in enumerate(r.turns) if not t.ok],
        }


def run_dialogues(dialogues: Sequence[Dialogue], ask: Callable[[str, str], Reply],
                  progress: Callable[[int], None] | None = None,
                  sender: Callable[[], str] = new_sender) -> DialogueReport:
    """Each dialogue from a fresh sender, so no state leaks from one to the next."""
    report = DialogueReport()
    for i, d in enumerate(dialogues):
        report.results.append(run_dialogue(d, ask, sender()))
        if progress:
            progress(i + 1)
    return report
