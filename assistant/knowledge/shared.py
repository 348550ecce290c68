"""One e5 for both servers: the Rasa process sends the query vector it computed, the action server uses it.

The Rasa pipeline's ``E5Featurizer`` embeds each message for the intent classifier. It also puts into
Rasa's parse output, under ``KEY``, the vectors of the texts the engine may search for it
(``searched_texts``): the message as retrieval reads it, ``query_text(prepare(text))`` (the classifier's
own vector unless the message has emoji or is longer than ``QUERY_CHARS``), the parts of a two-part
question and a short message's follow-up subject
(``assistant.text.queries``). The output travels to the action server in ``tracker.latest_message``:

    {"e5_query": {"model": <export fingerprint + query prefix, 12 hex>,
                  "vectors": [{"text": <sha1 of the embedded text, 16 hex>, "v": <int16, base64>, "s": <scale>}]}}

~1.1 kB a vector in the user event. The action server (``SharedEmbedder``) takes a given vector only for
exactly that text and that model, and runs its own e5 (loaded then, on first need) for anything else:
a follow-up searched with the last entry's title, a notice's passage. Passage vectors it needs at start
(the complaint categories' words) are kept in a file written at setup (``PASSAGES_FILE`` in the index
folder, ``keep``).

Pure numpy: imported by the Rasa process (Python 3.10) and the action server.
"""

from __future__ import annotations

import base64
import contextvars
import hashlib
import logging
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.text.normalize import prepare, query_text
from assistant.text.queries import searched_besides

if TYPE_CHECKING:
    from assistant.knowledge.embedding import Embedder

log = logging.getLogger(__name__)

KEY = "e5_query"                 # the field of Rasa's parse output
PASSAGES_FILE = "passages.npz"   # passage vectors the action server would otherwise encode at start


def retrieval_text(message_text: str) -> str:
    """The text the engine's retrieval embeds for a message (engine: ``prepare``, retriever: ``query_text``)."""
    return query_text(prepare(message_text))


def searched_texts(message_text: str) -> list[str]:
    """Every text the engine may embed as a query for a message: the message as retrieval reads it, then
    its parts and its follow-up subject (``assistant.text.queries``), as retrieval reads those."""
    clean = prepare(message_text)
    return list(dict.fromkeys([query_text(clean), *(query_text(t) for t in searched_besides(clean))]))


def text_id(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def model_id(fingerprint: str, query_prefix: str) -> str:
    """Names the vectors: the ONNX export (its meta.json fingerprint) and the query prefix."""
    return hashlib.sha1(f"{fingerprint}\0{query_prefix}".encode()).hexdigest()[:12]


def pack(vectors: Mapping[str, np.ndarray], model: str) -> dict[str, Any]:
    """The parse output's field for these texts' vectors: each int16 with one scale (768 bytes, 1,024 in
    base64; measured on 938 eval texts: retrieval confidences within 6e-5 of float32's, no ranking changed,
    where float16 moved them by up to 4.5e-4 and swapped one top-3)."""
    rows = []
    for text, vec in vectors.items():
        vec = np.asarray(vec, dtype=np.float32)
        top = float(np.abs(vec).max()) if len(vec) else 0.0
        scale = np.float32(top / 32767 if top > 0 else 1.0)
        raw = np.round(vec / scale).astype("<i2").tobytes()
        rows.append({"text": text_id(text), "v": base64.b64encode(raw).decode("ascii"), "s": float(scale)})
    return {"model": model, "vectors": rows}


def unpack(data: Any, texts: Sequence[str], model: str | None, dim: int | None = None) -> dict[str, np.ndarray]:
    """{text: vector} for those of ``texts`` whose vector by ``model`` the field holds."""
    if model is None or not isinstance(data, dict) or data.get("model") != model \
            or not isinstance(data.get("vectors"), list):
        return {}
    by_id = {text_id(t): t for t in texts}
    out: dict[str, np.ndarray] = {}
    for row in data["vectors"]:
        text = by_id.get(str(row.get("text"))) if isinstance(row, dict) else None
        if text is None:
            continue
        try:
            raw = base64.b64decode(str(row.get("v", "")), validate=True)
            vec = np.frombuffer(raw, dtype="<i2").astype(np.float32) * np.float32(row.get("s"))
        except (ValueError, TypeError):
            continue
        if len(vec) and (dim is None or len(vec) == dim) and np.isfinite(vec).all():
            out[text] = np.asarray(vec, dtype=np.float32)
    return out


def given_by_rasa(message: Mapping[str, Any] | None, model: str | None) -> dict[str, np.ndarray]:
    """{text: vector} for the texts the engine may embed for a tracker's ``latest_message``, as Rasa sent them."""
    message = message or {}
    text = message.get("text")
    if not isinstance(text, str) or not text or KEY not in message:
        return {}
    return unpack(message.get(KEY), searched_texts(text), model)


_GIVEN: contextvars.ContextVar[tuple[str, Mapping[str, np.ndarray]] | None] = \
    contextvars.ContextVar("e5_given", default=None)


class SharedEmbedder:
    """The action server's embedder: the query vectors given for this turn (``given``), the passage
    vectors kept in ``passages`` (a file, see ``keep``), and ``inner`` for the rest:
    the real e5, which loads on its first use. ``model`` names the vectors ``inner`` makes (see
    ``model_id``); None (another model) takes no given vector."""

    def __init__(self, inner: Embedder, model: str | None, passages: Path | None = None) -> None:
        self.inner, self.model = inner, model
        self.name = inner.name
        self.passages_path = passages
        self._passages = self._load_passages()
        self._lock = threading.Lock()

    @contextmanager
    def given(self, vectors: Mapping[str, np.ndarray], sender: str = "") -> Iterator[None]:
        """Within the block, ``encode_queries`` takes these vectors for these exact texts."""
        token = _GIVEN.set((sender, dict(vectors)))
        try:
            yield
        finally:
            _GIVEN.reset(token)

    @property
    def loaded(self) -> bool:
        return bool(getattr(self.inner, "loaded", True))

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        ctx = _GIVEN.get()
        given = ctx[1] if ctx else {}
        todo = [i for i, t in enumerate(texts) if t not in given]
        if not todo:
            return np.stack([given[t] for t in texts]).astype(np.float32)
        if ctx is not None:      # within a turn: the action server runs e5 itself (ids only in the log)
            log.debug("sender=%s e5 in the action server for %d of %d texts%s", ctx[0] or "-", len(todo),
                      len(texts), "" if self.loaded else " (loading it)")
        vecs = np.asarray(self.inner.encode_queries([texts[i] for i in todo]), dtype=np.float32)
        if len(todo) == len(texts):
            return vecs
        out = np.zeros((len(texts), vecs.shape[1]), dtype=np.float32)
        out[todo] = vecs
        for i, t in enumerate(texts):
            if t in given:
                out[i] = given[t]
        return out

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Kept vectors (``keep``) where there are, ``inner``'s for the rest (not kept)."""
        todo = [i for i, t in enumerate(texts) if text_id(t) not in self._passages]
        if not todo:
            if not texts:
                return np.asarray(self.inner.encode_passages([]), dtype=np.float32)
            return np.stack([self._passages[text_id(t)] for t in texts]).astype(np.float32)
        ctx = _GIVEN.get()
        log.debug("sender=%s e5 in the action server for %d passages%s", ctx[0] if ctx else "-", len(todo),
                  "" if self.loaded else " (loading it)")
        vecs = np.asarray(self.inner.encode_passages([texts[i] for i in todo]), dtype=np.float32)
        out = np.zeros((len(texts), vecs.shape[1]), dtype=np.float32)
        out[todo] = vecs
        for i, t in enumerate(texts):
            if text_id(t) in self._passages:
                out[i] = self._passages[text_id(t)]
        return out

    def keep(self, texts: Sequence[str]) -> int:
        """Keep exactly these passages' vectors in the file, encoding those not kept yet: setup does this
        for what the action server encodes at start. Returns how many were encoded."""
        with self._lock:
            wanted = {text_id(t): t for t in texts}
            todo = sorted(t for k, t in wanted.items() if k not in self._passages)
            kept = {k: v for k, v in self._passages.items() if k in wanted}
            if todo:
                for t, v in zip(todo, self.inner.encode_passages(todo), strict=True):
                    kept[text_id(t)] = np.asarray(v, dtype=np.float32)
            changed = kept.keys() != self._passages.keys()
            self._passages = kept
            if changed or (self.passages_path is not None and not self.passages_path.is_file()):
                self._save_passages()
            return len(todo)

    def _load_passages(self) -> dict[str, np.ndarray]:
        if self.passages_path is None:
            return {}
        try:
            with np.load(self.passages_path) as data:
                if str(data["name"]) != self.name:
                    return {}
                return {str(k): np.asarray(v, dtype=np.float32) for k, v in zip(data["keys"], data["vectors"],
                                                                              strict=True)}
        except (OSError, ValueError, KeyError):
            return {}

    def _save_passages(self) -> None:
        if self.passages_path is None or not self._passages:
            return
        keys = sorted(self._passages)
        tmp = self.passages_path.with_name(self.passages_path.name + ".tmp")
        try:
            self.passages_path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as fh:
                np.savez(fh, name=np.array(self.name), keys=np.array(keys),
                         vectors=np.stack([self._passages[k] for k in keys]))
            os.replace(tmp, self.passages_path)
        except OSError as exc:
            log.warning("passage vectors not saved (%s): they are encoded again after a restart", type(exc).__name__)
