"""Runs in the Rasa environment (Python 3.10): the logistic intent classifier over sparse and e5 features."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from assistant.rasa_server.intent_classifier import LinearIntentClassifier


def message(text: str, counts: list[float] | None, vector: list[float] | None, intent: str | None = None) -> Message:
    m = Message(data={TEXT: text, **({"intent": intent} if intent else {})})
    if counts is not None:
        m.add_features(Features(scipy.sparse.coo_matrix([counts]), FEATURE_TYPE_SENTENCE, TEXT, "counts"))
    if vector is not None:
        m.add_features(Features(np.array([vector]), FEATURE_TYPE_SENTENCE, TEXT, "e5"))
    return m


def classifier(tmp_path: Path) -> LinearIntentClassifier:
    return LinearIntentClassifier.create(
        {**LinearIntentClassifier.get_default_config(), "c": 1.0, "dense_weight": 15.0},
        LocalModelStorage(tmp_path), Resource("intents"),
        ExecutionContext(graph_schema=None, node_name="intents"))  # type: ignore[arg-type]


def test_a_message_without_features_gets_no_intent_and_the_rest_of_the_batch_is_classified(tmp_path: Path) -> None:
    clf = classifier(tmp_path)
    train = [message(f"p{i}", [3, 0, 1], [1.0, 0.0], "faq_parking") for i in range(4)] + \
            [message(f"g{i}", [0, 3, 1], [0.0, 1.0], "faq_garbage") for i in range(4)]
    clf.train(TrainingData(train))
    batch = [message("停车", [2, 0, 0], [0.9, 0.1]), message("", None, None), message("垃圾", [0, 2, 0], [0.1, 0.9])]
    clf.process(batch)
    assert batch[0].get("intent")["name"] == "faq_parking"
    assert batch[2].get("intent")["name"] == "faq_garbage"
    assert batch[1].get("intent") is None and batch[1].get("intent_ranking") is None
