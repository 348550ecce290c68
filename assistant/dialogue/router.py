"""The one routing decision of a turn: from the turn's signals to a route with a calibrated confidence.

Signals (``Signals``, all in [0, 1]):
- Rasa's intent ranking, summed per route family (``p_faq``, ``p_complain``, ``p_human``, ``p_chitchat``,
  ``p_oos``, ``p_inform``) and the top intent's confidence. One classifier's probabilities are not the
  route: they are features beside the others.
- the retriever's calibrated confidence that its top entry is right, a garbage item named for disposal,
  whether the retriever's topic agrees with the NLU topic, and whether its best hits are a fraud warning;
- the complaint signals of ``dialogue/complaint.py`` (grievance wording, question-ness, a description,
  a category, a unit, asking for a person);
- the message's length.

Decision: a multinomial logistic model over these features gives P(route) for answer, ticket, handoff,
fallback and chitchat; the route is the most probable one and its probability is the confidence that
``ask --json`` reports. Below ``threshold`` the engine does not act: it asks which entry was meant
(clarify, route ``fallback``) or falls back. The weights are fitted on held-out cases by
``python -m assistant calibrate router CASES.yml`` into ``assistant/resources/router.json`` (loaded at
start; hand-set defaults below when the file is absent). One product rule sits on top: a message whose
best retrieval hits are a fraud warning gets that warning at once, never the complaint form or a
handoff (unless the resident asks for a person in so many words). Another: a complaint announced before
its content ("我要反映个问题": Rasa sure of `complain`, or the words of an announcement alone, no question,
nothing described) starts the form.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROUTES = ("answer", "ticket", "handoff", "fallback", "chitchat")
CHITCHAT_INTENTS = ("greet", "goodbye", "thank", "bot_challenge", "affirm", "deny")
FEATURES = ("p_faq", "p_complain", "p_human", "p_chitchat", "p_oos", "p_inform", "top_intent",
            "retrieval", "retrieval_faq", "item", "topic_agrees", "fraud",
            "complaining", "question", "describes", "category", "unit", "wants_human", "short",
            "answer_conf", "unknown")
FRAUD_FIRST = 1.0              # a fraud warning that is the top hit is said at once (e5 scores bunch: 0.8 of
                               # the top fired on 17 of 660 tuning complaints and requests for a person)
ANNOUNCED = 0.6               # Rasa's probability of `complain` for a bare announcement to start the form (the
                               # linear classifier: made-up announcements 0.66-0.99; DIET's 1.0s needed 0.9)
LATIN_FAQ = 0.35              # Rasa's faq mass for an English message whose dense top entry has Rasa's topic
VICTIM_AT = 0.9               # a deception told (Signals.victim) with a fraud warning this close: the warning first
SHORT_REQUEST = 10             # up to this many characters, a request for a person is just that
DEFAULT_PATH = Path(__file__).resolve().parent.parent / "resources" / "router.json"


@dataclass(frozen=True)
class NLU:
    """Rasa's reading of a message: the intent ranking, best first (``nlu_fallback`` left out)."""

    ranking: tuple[tuple[str, float], ...] = ()

    @classmethod
    def from_message(cls, message: dict[str, Any] | None) -> NLU:
        """From a tracker's ``latest_message`` or a ``/model/parse`` result."""
        message = message or {}
        ranking = [(str(r.get("name")), float(r.get("confidence") or 0.0))
                   for r in message.get("intent_ranking") or [] if r.get("name") and r.get("name") != "nlu_fallback"]
        if not ranking:
            intent = message.get("intent") or {}
            if intent.get("name") and intent.get("name") != "nlu_fallback":
                ranking = [(str(intent["name"]), float(intent.get("confidence") or 0.0))]
        return cls(tuple(sorted(ranking, key=lambda r: -r[1])))

    @classmethod
    def of(cls, intent: str | None, confidence: float = 1.0) -> NLU:
        return cls(((intent, confidence),)) if intent and intent != "nlu_fallback" else cls()

    @property
    def top(self) -> str | None:
        return self.ranking[0][0] if self.ranking else None

    def mass(self, *names: str, prefix: str | None = None) -> float:
        return min(1.0, sum(c for n, c in self.ranking if n in names or (prefix and n.startswith(prefix))))

    def best_of(self, names: tuple[str, ...]) -> str | None:
        return next((n for n, _ in self.ranking if n in names), None)

    def faq_topic(self, at_least: float = 0.3) -> str | None:
        """The topic of the best faq_* intent: the top intent, or one with at least ``at_least``."""
        for i, (name, conf) in enumerate(self.ranking):
            if name.startswith("faq_"):
                return name[4:] if i == 0 or conf >= at_least else None
        return None


@dataclass(frozen=True)
class Signals:
    nlu: NLU
    retrieval: float = 0.0      # calibrated P(top entry right)
    item: bool = False          # a garbage item named in a disposal question
    topic_agrees: bool = False  # retrieval's top topic is the NLU's faq topic
    fraud: float = 0.0          # best fraud warning's score among the top hits / the top hit's (1: it is the top)
    complaining: bool = False
    question: bool = False
    describes: bool = False
    category: bool = False
    unit: bool = False
    wants_human: bool = False
    length: int = 0
    answer: float = 0.0         # the answer confidence: P(the reranked top entry is the right one)
    unknown: float = 0.0        # the share of the message's words that no entry contains
    announces: bool = False     # a complaint announced in so many words, nothing told yet (not a model feature)
    reports: bool = False       # unit, what happened and how urgent told, no question (not a model feature)
    latin: bool = False         # written mostly in Latin letters: retrieval's lexical features see nothing (not a
                                # model feature)
    victim: float = 0.0         # a story of an impostor or a deception (骗, 自称, 冒充): how close the best fraud
                                # warning comes to the best safety entry for it (not a model feature)

    def vector(self) -> list[float]:
        n = self.nlu
        p_faq = n.mass(prefix="faq_")
        values = {
            "p_faq": p_faq, "p_complain": n.mass("complain"), "p_human": n.mass("request_human"),
            "p_chitchat": n.mass(*CHITCHAT_INTENTS), "p_oos": n.mass("out_of_scope"), "p_inform": n.mass("inform"),
            "top_intent": n.ranking[0][1] if n.ranking else 0.0,
            "retrieval": self.retrieval, "retrieval_faq": self.retrieval * p_faq, "item": float(self.item),
            "topic_agrees": float(self.topic_agrees), "fraud": self.fraud,
            "complaining": float(self.complaining), "question": float(self.question),
            "describes": float(self.describes), "category": float(self.category), "unit": float(self.unit),
            "wants_human": float(self.wants_human), "short": 1.0 if self.length <= 6 else 0.0,
            "answer_conf": self.answer, "unknown": self.unknown,
        }
        return [values[f] for f in FEATURES]


@dataclass(frozen=True)
class Decision:
    route: str
    confidence: float
    reason: str
    probabilities: dict[str, float] = field(default_factory=dict)

    @property
    def unsure(self) -> bool:
        return self.reason.startswith("unsure")


def _defaults() -> dict[str, dict[str, float]]:
    """Hand-set weights (used until a fitted file exists): each intent family votes for its route;
    retrieval, question-ness and grievance wording move the vote."""
    return {
        "answer": {"_": -3.0, "p_faq": 4.0, "retrieval": 4.0, "item": 4.0, "question": 1.5, "fraud": 1.0,
                   "complaining": -1.5, "p_oos": -3.0, "topic_agrees": 0.5},
        "ticket": {"_": -3.5, "p_complain": 5.0, "complaining": 2.5, "describes": 0.8, "category": 0.8,
                   "unit": 0.8, "question": -2.5, "fraud": -1.0, "retrieval": -1.0},
        "handoff": {"_": -4.0, "p_human": 6.0, "wants_human": 3.0, "fraud": -1.0},
        "fallback": {"_": -0.5, "p_oos": 5.0, "p_inform": 2.0, "retrieval": -2.0},
        "chitchat": {"_": -3.5, "p_chitchat": 6.5, "short": 1.0, "retrieval": -1.0},
    }


@dataclass
class RouterModel:
    """Multinomial logistic weights: ``coef[route][feature]``, ``intercept[route]``; ``threshold``: the
    lowest confidence acted on."""

    coef: dict[str, dict[str, float]] = field(default_factory=dict)
    intercept: dict[str, float] = field(default_factory=dict)
    threshold: float = 0.4
    report: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def default(cls) -> RouterModel:
        d = _defaults()
        return cls(coef={r: {f: w for f, w in ws.items() if f != "_"} for r, ws in d.items()},
                   intercept={r: ws.get("_", 0.0) for r, ws in d.items()})

    @classmethod
    def load(cls, path: Path | None = None) -> RouterModel:
        """The fitted model at ``path`` (default ``assistant/resources/router.json``); the defaults when
        it is absent. A broken file is an error that names it."""
        path = path or DEFAULT_PATH
        if not path.exists():
            return cls.default()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            model = cls(coef={r: {f: float(w) for f, w in ws.items()} for r, ws in data["coef"].items()},
                        intercept={r: float(v) for r, v in data["intercept"].items()},
                        threshold=float(data.get("threshold", 0.4)), report=dict(data.get("report") or {}))
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ValueError(f"{path}: not a router model ({type(exc).__name__}: {exc})") from exc
        unknown = set(model.coef) - set(ROUTES)
        if unknown:
            raise ValueError(f"{path}: field coef: unknown routes {sorted(unknown)}")
        return model

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

    def probabilities(self, x: list[float]) -> dict[str, float]:
        z = {r: self.intercept.get(r, 0.0)
             + sum(self.coef.get(r, {}).get(f, 0.0) * v for f, v in zip(FEATURES, x, strict=True)) for r in ROUTES}
        top = max(z.values())
        e = {r: math.exp(v - top) for r, v in z.items()}
        s = sum(e.values())
        return {r: v / s for r, v in e.items()}

    @staticmethod
    def fraud_first(signals: Signals, route: str) -> bool:
        """A fraud check or a victim's story (the best hits include a fraud warning, and the message
        reads as a complaint, a request for a person or a complaint-like question; or it tells of an
        impostor or a deception and a fraud warning is among its best safety entries): the warning, at once.
        A short request for a person ("找客服") stays a handoff."""
        if signals.wants_human:
            return False
        if signals.victim >= VICTIM_AT:
            return True
        if signals.fraud < FRAUD_FIRST:
            return False
        if signals.nlu.mass("request_human") >= 0.5 and signals.length <= SHORT_REQUEST:
            return False
        return route in ("ticket", "handoff") or signals.nlu.mass("complain", "request_human") >= 0.5

    @staticmethod
    def announced(signals: Signals) -> bool:
        """A complaint announced before its content ("我要反映个问题"): Rasa is sure it is a complaint and
        the message neither asks nor tells anything the knowledge base could answer, so the form starts
        and asks for the rest (single-turn data rarely has these, so the fitted weights do not see them)."""
        top = signals.nlu.ranking[0] if signals.nlu.ranking else ("", 0.0)
        sure = top[0] == "complain" and top[1] >= ANNOUNCED and not signals.describes
        return (sure or signals.announces) and not signals.question and not signals.item

    def decide(self, signals: Signals) -> Decision:
        x = signals.vector()
        probs = self.probabilities(x)
        route = max(probs, key=lambda r: probs[r])
        conf = probs[route]
        if self.fraud_first(signals, route):
            return Decision("answer", max(conf, probs["answer"]), "fraud warning first", probs)
        if (route != "handoff" or (signals.announces and not signals.wants_human)) and self.announced(signals):
            # "物业管管吧" asks for the property to act, not for a person: the form, not an admin
            return Decision("ticket", max(conf, probs["ticket"]), "complaint announced", probs)
        if signals.reports and route in ("answer", "fallback"):
            # told as the form asks it (where, what, how urgent) and asking nothing: a report to register
            return Decision("ticket", max(conf, probs["ticket"]), "a report in the form's shape", probs)
        faq = signals.nlu.mass(prefix="faq_")
        if signals.latin and route == "fallback" and signals.topic_agrees and faq >= LATIN_FAQ:
            # English: the retriever's confidence is lexical; Rasa's topic and the dense top entry agreeing is
            # the evidence
            return Decision("answer", faq, "English on an estate topic", probs)
        runner = max((r for r in ROUTES if r != route), key=lambda r: probs[r])
        why = sorted(((self.coef.get(route, {}).get(f, 0.0) - self.coef.get(runner, {}).get(f, 0.0)) * v, f)
                     for f, v in zip(FEATURES, x, strict=True))
        reason = "+".join(f for w, f in reversed(why[-2:]) if w > 0) or "prior"
        if conf < self.threshold:
            reason = f"unsure ({route} {conf:.2f} < {self.threshold:.2f}): {reason}"
        return Decision(route, conf, reason, probs)


def fit(rows: list[tuple[list[float], dict[str, float]]], *, c: float = 1.0) -> RouterModel:
    """Fit the weights on (features, {route: weight}) rows; a case with several accepted routes
    counts for each of them in part."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    X, y, w = [], [], []
    for x, labels in rows:
        for route, weight in labels.items():
            X.append(x)
            y.append(ROUTES.index(route))
            w.append(weight)
    model = LogisticRegression(C=c, max_iter=5000)
    model.fit(np.array(X), np.array(y), sample_weight=np.array(w))
    classes = [ROUTES[int(k)] for k in model.classes_]
    coef = {r: {f: 0.0 for f in FEATURES} for r in ROUTES}
    intercept = dict.fromkeys(ROUTES, -20.0)   # a route never seen in the data is never chosen
    if len(classes) == 2:                       # sklearn's binary form: one row for the second class
        coef[classes[1]] = {f: float(v) for f, v in zip(FEATURES, model.coef_[0], strict=True)}
        intercept[classes[0]], intercept[classes[1]] = 0.0, float(model.intercept_[0])
    else:
        for i, r in enumerate(classes):
            coef[r] = {f: round(float(v), 5) for f, v in zip(FEATURES, model.coef_[i], strict=True)}
            intercept[r] = round(float(model.intercept_[i]), 5)
    return RouterModel(coef=coef, intercept=intercept)


def ece(confidences: list[float], correct: list[bool], bins: int = 10) -> tuple[float, list[dict[str, float]]]:
    """Expected calibration error and the reliability diagram's rows (equal-width bins)."""
    rows, total, n = [], 0.0, max(1, len(confidences))
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        idx = [i for i, p in enumerate(confidences) if lo <= p < hi or (b == bins - 1 and p == 1.0)]
        if not idx:
            continue
        conf = sum(confidences[i] for i in idx) / len(idx)
        acc = sum(correct[i] for i in idx) / len(idx)
        total += len(idx) / n * abs(conf - acc)
        rows.append({"bin": round(lo, 2), "count": len(idx), "confidence": round(conf, 4), "accuracy": round(acc, 4)})
    return round(total, 4), rows
