"""The NLU benchmark's pieces: which intents a case accepts, and the calibration error."""

from __future__ import annotations

import numpy as np

from assistant.devtools.evaluate import Case
from assistant.devtools.nlu_bench import CHITCHAT, ece, expected_intents


def test_routes_map_to_the_intents_that_lead_there() -> None:
    assert expected_intents(Case("x", ("answer",), ("parking", "safety"))) == ("faq_parking", "faq_safety")
    assert expected_intents(Case("x", ("ticket",))) == ("complain",)
    assert expected_intents(Case("x", ("handoff", "ticket"))) == ("request_human", "complain")
    assert expected_intents(Case("x", ("fallback",))) == ("out_of_scope",)
    assert expected_intents(Case("x", ("chitchat",))) == CHITCHAT
    assert expected_intents(Case("x", ("moderation",))) == ()   # left out of the intent benchmark


def test_ece_is_zero_when_confidence_matches_accuracy_and_large_when_overconfident() -> None:
    conf = np.array([0.75] * 4 + [0.25] * 4)
    correct = np.array([1, 1, 1, 0, 1, 0, 0, 0], dtype=bool)
    e, table = ece(conf, correct)
    assert abs(e) < 1e-9 and [row["n"] for row in table] == [4, 4]
    e, _ = ece(np.full(10, 0.99), np.array([1] * 5 + [0] * 5, dtype=bool))
    assert abs(e - 0.49) < 1e-9
