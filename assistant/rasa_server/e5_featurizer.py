"""Dense e5 sentence features for the intent classifier, in the Rasa process (Python 3.10, no torch).

Runs the ONNX export of multilingual-e5-small (``models/e5-onnx``, written by setup) with onnxruntime:
the "query: " prefix, mean pooling and L2 norm, as the retriever embeds questions. Only sentence features:
e5's sub-words do not line up with jieba's tokens, as sequence features (DIET's) must. The model loads on
first use; a missing model is a ModelError naming the path. At inference it also puts the query vectors of
the texts retrieval will search into the parse output, for the action server (``assistant/knowledge/shared.py``).

    - name: assistant.rasa_server.e5_featurizer.E5Featurizer
      model_path: models/e5-onnx   # relative to the project folder (Rasa's working directory)
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import ACTION_TEXT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from assistant.errors import ModelError
from assistant.knowledge.onnx_encoder import OnnxE5, read_meta
from assistant.knowledge.shared import KEY, model_id, pack, searched_texts

logger = logging.getLogger(__name__)
ATTRIBUTES = (TEXT, ACTION_TEXT)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class E5Featurizer(DenseFeaturizer, GraphComponent):
    """Adds the e5 sentence vector of TEXT (and ACTION_TEXT) as a dense sentence feature."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**DenseFeaturizer.get_default_config(), "model_path": "models/e5-onnx", "threads": 1,
                "batch_size": 32}

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        if not str(config.get("model_path") or ""):
            raise ModelError("E5Featurizer: config field 'model_path' is empty (config.yml)")
        for key in ("threads", "batch_size"):
            if not isinstance(config.get(key), int) or config[key] < 1:
                raise ModelError(f"E5Featurizer: config field {key!r} must be a positive integer (config.yml), "
                                 f"not {config.get(key)!r}")

    @classmethod
    def required_packages(cls) -> list[str]:
        return ["onnxruntime", "tokenizers"]

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        """Rasa's training cache keys on this: a new export invalidates cached features."""
        try:
            return str(read_meta(Path(config["model_path"]))["fingerprint"])
        except (ModelError, KeyError):
            return None

    def __init__(self, config: dict[str, Any], execution_context: ExecutionContext) -> None:
        super().__init__(execution_context.node_name, config)
        self.model_path = Path(config["model_path"])
        self._encoder: OnnxE5 | None = None

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> E5Featurizer:
        return cls(config, execution_context)

    @property
    def encoder(self) -> OnnxE5:
        if self._encoder is None:
            self._encoder = OnnxE5(self.model_path, threads=self._config["threads"],
                                   batch_size=self._config["batch_size"])
        return self._encoder

    def _add(self, messages: list[Message], attribute: str) -> list[tuple[Message, np.ndarray]]:
        todo = [m for m in messages if m.get(attribute)]
        if not todo:
            return []
        vecs = self.encoder.encode([str(m.get(attribute)) for m in todo])
        for message, vec in zip(todo, vecs, strict=True):
            self.add_features_to_message(sequence=None, sentence=np.reshape(vec, (1, -1)), attribute=attribute,
                                         message=message)
        return list(zip(todo, vecs, strict=True))

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for attribute in ATTRIBUTES:
            self._add(training_data.training_examples, attribute)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        self._share(self._add(messages, TEXT))
        self._add(messages, ACTION_TEXT)
        return messages

    def _share(self, done: list[tuple[Message, np.ndarray]]) -> None:
        """The query vectors of the texts the engine may search for each message, in the parse output
        (``shared.KEY``), so the action server runs no e5 for them: the vector just computed for the text
        retrieval reads when that is the message itself, one batch of e5 for the rest."""
        if not done:
            return
        model = model_id(str(self.encoder.meta["fingerprint"]), self.encoder.prefix)
        todo = [(m, vec, str(m.get(TEXT)), searched_texts(str(m.get(TEXT)))) for m, vec in done]
        other = sorted({t for _, _, text, texts in todo for t in texts if t != text})
        extra = dict(zip(other, self.encoder.encode(other), strict=True)) if other else {}
        for message, vec, text, texts in todo:
            message.set(KEY, pack({t: vec if t == text else extra[t] for t in texts}, model), add_to_output=True)
