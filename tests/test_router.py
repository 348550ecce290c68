"""The routing decision (assistant/dialogue/router.py): its inputs, the model file, fitting, calibration."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from assistant.dialogue.router import (
    DEFAULT_PATH,
    FEATURES,
    NLU,
    ROUTES,
    RouterModel,
    Signals,
    ece,
    fit,
)


def sig(intent: str, conf: float = 1.0, **kw: object) -> Signals:
    return Signals(nlu=NLU.of(intent, conf), **kw)  # type: ignore[arg-type]


def test_nlu_reads_the_ranking_without_the_fallback_label() -> None:
    nlu = NLU.from_message({"intent": {"name": "nlu_fallback", "confidence": 0.5},
                            "intent_ranking": [{"name": "nlu_fallback", "confidence": 0.5},
                                               {"name": "faq_repair", "confidence": 0.41},
                                               {"name": "complain", "confidence": 0.45}]})
    assert nlu.top == "complain" and nlu.ranking[1] == ("faq_repair", 0.41)
    assert nlu.faq_topic() == "repair" and nlu.faq_topic(at_least=0.5) is None
    assert nlu.mass(prefix="faq_") == pytest.approx(0.41)
    assert NLU.from_message({"intent": {"name": "greet", "confidence": 0.9}}).ranking == (("greet", 0.9),)
    assert NLU.from_message(None).top is None and NLU.of("nlu_fallback").top is None


@pytest.mark.parametrize(("signals", "route"), [
    (sig("faq_parking", retrieval=0.9, question=True, topic_agrees=True), "answer"),
    (sig("complain", complaining=True, describes=True, category=True), "ticket"),
    (sig("request_human", wants_human=True), "handoff"),
    (sig("greet", length=2), "chitchat"),
    (sig("out_of_scope", retrieval=0.2, question=True), "fallback"),
])
def test_default_weights_follow_the_intent_families(signals: Signals, route: str) -> None:
    decision = RouterModel.default().decide(signals)
    assert decision.route == route and 0.0 < decision.confidence <= 1.0 and decision.reason


def test_a_confidently_answered_question_outweighs_a_complain_intent() -> None:
    """Kind 1: a question that mentions a problem is answered, though DIET says complain at 1.0."""
    model = RouterModel.default()
    asked = model.decide(sig("complain", retrieval=0.85, question=True, describes=True))
    told = model.decide(sig("complain", retrieval=0.85, complaining=True, describes=True, category=True))
    assert asked.route == "answer" and told.route == "ticket"


def test_grievance_signals_turn_a_topic_reading_into_a_ticket() -> None:
    """Kind 2: no 投诉, NLU says a topic, but the message states a grievance with a unit and a category."""
    decision = RouterModel.default().decide(sig("faq_property", retrieval=0.3, complaining=True, describes=True,
                                                category=True, unit=True))
    assert decision.route == "ticket"


def test_fraud_warnings_come_first_but_a_short_request_for_a_person_stays_a_handoff() -> None:
    model = RouterModel.default()
    victim = model.decide(sig("complain", fraud=1.0, describes=True, length=24))
    assert victim.route == "answer" and victim.reason == "fraud warning first"
    handed = model.decide(sig("request_human", fraud=1.0, describes=True, length=28))
    assert handed.route == "answer"                       # a victim's story read as request_human
    person = model.decide(sig("request_human", fraud=1.0, length=6))
    assert person.route == "handoff"                      # "找客服" lexically near a fraud warning
    asked = model.decide(sig("request_human", fraud=1.0, wants_human=True, length=20))
    assert asked.route == "handoff"
    far = model.decide(sig("complain", fraud=0.5, complaining=True, describes=True))
    assert far.route == "ticket"
    near = model.decide(sig("complain", fraud=0.9, complaining=True, describes=True))
    assert near.route == "ticket"                         # a fraud warning below the top hit: not first


def test_below_the_threshold_the_decision_says_it_is_unsure() -> None:
    model = RouterModel.default()
    s = sig("faq_parking", 0.4, retrieval=0.3)
    d = model.decide(s)
    model.threshold = d.confidence + 0.01
    assert model.decide(s).unsure and model.decide(s).route == d.route
    model.threshold = d.confidence - 0.01
    assert not model.decide(s).unsure


def test_model_file_round_trips_and_errors_name_the_file(tmp_path: Path) -> None:
    model = RouterModel.default()
    model.threshold = 0.33
    path = tmp_path / "router.json"
    model.save(path)
    again = RouterModel.load(path)
    assert again.threshold == 0.33 and again.coef == model.coef
    assert RouterModel.load(tmp_path / "absent.json").coef == RouterModel.default().coef
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="router.json"):
        RouterModel.load(path)
    path.write_text(json.dumps({"coef": {"bogus": {}}, "intercept": {}}), encoding="utf-8")
    with pytest.raises(ValueError, match="unknown routes"):
        RouterModel.load(path)


def test_the_committed_model_loads_and_knows_every_route() -> None:
    model = RouterModel.load(DEFAULT_PATH)
    assert set(model.coef) == set(ROUTES) and 0.0 <= model.threshold < 1.0
    assert all(set(ws) <= set(FEATURES) for ws in model.coef.values())


def test_fit_learns_a_route_from_its_features_and_is_calibrated() -> None:
    """Synthetic rows: the route is a noisy function of two features; the fitted model recovers it on
    fresh rows, and its confidence matches its accuracy (low ECE)."""
    rng = random.Random(3)

    def row() -> tuple[list[float], str]:
        s = sig(rng.choice(["faq_parking", "complain"]), retrieval=rng.random(), question=rng.random() < 0.5)
        x = s.vector()
        score = 3 * x[FEATURES.index("retrieval")] + 2 * x[FEATURES.index("question")] - 2.5
        route = "answer" if score + rng.gauss(0, 0.7) > 0 else "ticket"
        return x, route

    train = [row() for _ in range(600)]
    model = fit([(x, {r: 1.0}) for x, r in train], c=10.0)
    test = [row() for _ in range(400)]
    confs, hits = [], []
    for x, r in test:
        probs = model.probabilities(x)
        best = max(probs, key=lambda k: probs[k])
        confs.append(probs[best])
        hits.append(best == r)
    assert sum(hits) / len(hits) > 0.8
    error, diagram = ece(confs, hits)
    assert error < 0.08 and sum(b["count"] for b in diagram) == len(test)
    assert model.intercept["handoff"] < -10          # never seen: never chosen


def test_ece_of_a_lying_model_is_large() -> None:
    error, _ = ece([0.99] * 10, [True] * 5 + [False] * 5)
    assert error == pytest.approx(0.49, abs=1e-6)


def test_a_complaint_announced_before_its_content_starts_the_form() -> None:
    model = RouterModel.default()
    bare = model.decide(sig("complain", 0.98, retrieval=0.6, length=5))
    assert bare.route == "ticket" and bare.reason == "complaint announced"
    assert model.decide(sig("complain", 0.6, retrieval=0.9, question=True, length=9)).reason != "complaint announced"
    asks = model.decide(sig("complain", 0.98, retrieval=0.9, question=True, length=9))
    assert asks.reason != "complaint announced"             # 投诉电话是多少: a question, the router decides


def test_english_on_an_estate_topic_is_answered_when_the_dense_top_entry_agrees() -> None:
    model = RouterModel.default()
    nlu = NLU((("out_of_scope", 0.55), ("faq_parking", 0.45)))      # unsure, as Rasa is of English
    assert model.decide(Signals(nlu=nlu, topic_agrees=True, question=True, length=24)).route == "fallback"
    english = Signals(nlu=nlu, topic_agrees=True, latin=True, question=True, length=24)
    decision = model.decide(english)
    assert decision.route == "answer" and decision.reason == "English on an estate topic"
    assert model.decide(Signals(nlu=nlu, topic_agrees=False, latin=True, length=24)).reason != decision.reason


def test_a_deception_told_gets_the_fraud_warning_first_unless_a_person_is_asked_for() -> None:
    model = RouterModel.default()
    story = Signals(nlu=NLU.of("complain", 1.0), complaining=True, describes=True, victim=0.95, length=30)
    assert model.decide(story).reason == "fraud warning first"
    assert model.decide(Signals(nlu=NLU.of("complain", 1.0), complaining=True, victim=0.95,
                                wants_human=True)).reason != "fraud warning first"
    assert model.decide(Signals(nlu=NLU.of("complain", 1.0), complaining=True, victim=0.5)).reason != "fraud warning first"
