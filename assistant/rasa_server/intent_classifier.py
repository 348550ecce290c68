"""Intents without TensorFlow: Rasa's own ``LogisticRegressionClassifier`` over the pipeline's sentence
features, with the e5 vector given weight.

Rasa's classifier stacks the word and character counts beside the dense vector as they are. e5's unit
vectors differ from each other by a few hundredths per dimension (cosines bunch at 0.83-0.92), so beside
counts they hardly count; here the e5 vector is multiplied by ``dense_weight``, and ``c`` is the inverse
regularisation strength. Chosen on the tuning cases mapped to intents (offline grid, c 1-16, weight 8-60,
counts raw or unit-length): c 1, weight 15, raw counts. A multinomial logistic model is less sure when
wrong than DIET (mean top confidence of wrong intents 0.60 vs DIET's 0.67 on the tuning cases), and it
trains in under a minute without TensorFlow graphs (about 250 MiB less in the Rasa server). The router
(``assistant/dialogue/router.py``) reads its probabilities as features.

    - name: assistant.rasa_server.intent_classifier.LinearIntentClassifier
      c: 1.0
      dense_weight: 15.0
"""

from __future__ import annotations

from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from scipy.sparse import csr_matrix, hstack, vstack
from sklearn.linear_model import LogisticRegression

from assistant.errors import ModelError


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class LinearIntentClassifier(LogisticRegressionClassifier):
    """Multinomial logistic regression on the counts beside the weighted e5 vector."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**LogisticRegressionClassifier.get_default_config(), "c": 1.0, "dense_weight": 15.0,
                "max_iter": 3000}

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        for key in ("c", "dense_weight"):
            value = config.get(key)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise ModelError(f"LinearIntentClassifier: config field {key!r} must be a positive number "
                                 f"(config.yml), not {value!r}")

    def __init__(self, config: dict[str, Any], name: str, model_storage: ModelStorage,
                 resource: Resource) -> None:
        super().__init__(config, name, model_storage, resource)
        self.clf = LogisticRegression(C=float(self.config["c"]), max_iter=int(self.config["max_iter"]),
                                      tol=self.config["tol"], class_weight="balanced",
                                      random_state=self.config["random_state"])

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> LinearIntentClassifier:
        cls.validate_config({**cls.get_default_config(), **config})
        return cls(config, execution_context.node_name, model_storage, resource)

    def process(self, messages: list[Message]) -> list[Message]:
        """Intents for the messages with features; one without (an empty text: the featurizers skip it) gets
        none, as with Rasa's DIET, instead of failing the whole batch."""
        readable = [m for m in messages if _has_features(m)]
        if readable:
            super().process(readable)
        return messages

    def _create_X(self, messages: list[Message]) -> csr_matrix:
        rows = []
        for m in messages:
            sparse = m.get_sparse_features(attribute=TEXT)[1]
            dense = m.get_dense_features(attribute=TEXT)[1]
            parts = []
            if sparse is not None:
                parts.append(csr_matrix(sparse.features, dtype=np.float64))
            if dense is not None:
                parts.append(csr_matrix(np.asarray(dense.features, dtype=np.float64) * self.config["dense_weight"]))
            rows.append(hstack(parts) if parts else csr_matrix((1, 0)))
        return vstack(rows).tocsr()


def _has_features(message: Message) -> bool:
    sparse, dense = message.get_sparse_features(attribute=TEXT)[1], message.get_dense_features(attribute=TEXT)[1]
    return sparse is not None or dense is not None
