"""The ONNX export of e5 at run time: tokenizers + onnxruntime + numpy, no torch.

Used by the Rasa process (Python 3.10: ``assistant.rasa_server.e5_featurizer``) and by the export's own
check. The folder (``models/e5-onnx``) holds ``model.onnx`` (input_ids, attention_mask -> token states),
``tokenizer.json`` and ``meta.json`` (fingerprint, dim, pooling, prefix), written by ``onnx_export``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.errors import ModelError

if TYPE_CHECKING:
    import onnxruntime
    from tokenizers import Tokenizer

MODEL_FILE, TOKENIZER_FILE, META_FILE = "model.onnx", "tokenizer.json", "meta.json"
MAX_TOKENS = 512


def read_meta(model_dir: Path) -> dict[str, Any]:
    """The folder's meta.json; a ModelError naming the missing or broken file otherwise."""
    model_dir = Path(model_dir)
    for name in (MODEL_FILE, TOKENIZER_FILE, META_FILE):
        if not (model_dir / name).is_file():
            raise ModelError(f"e5 ONNX model file {model_dir / name} is missing; "
                             "run `python -m assistant setup` (it exports the model)")
    try:
        meta = json.loads((model_dir / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{model_dir / META_FILE}: unreadable ({exc}); rerun `python -m assistant setup`") from exc
    for key in ("fingerprint", "dim", "pooling", "prefix"):
        if key not in meta:
            raise ModelError(f"{model_dir / META_FILE}: field {key!r} is missing; rerun `python -m assistant setup`")
    return dict(meta)


def mean_pool(states: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean of the token states where mask is 1: (batch, seq, dim), (batch, seq) -> (batch, dim)."""
    m = mask.astype(np.float32)[:, :, None]
    return np.asarray((states * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None), dtype=np.float32)


def l2_normalize(x: np.ndarray) -> np.ndarray:
    return np.asarray(x / np.clip(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12, None), dtype=np.float32)


class OnnxE5:
    """Sentence embeddings (prefix, mean pooling, L2 norm) from the exported e5; loads on first use."""

    def __init__(self, model_dir: Path | str, *, threads: int = 1, batch_size: int = 32,
                 model_file: str = MODEL_FILE) -> None:
        self.model_dir = Path(model_dir)
        self.model_file = model_file
        self.threads, self.batch_size = threads, batch_size
        self.meta = read_meta(self.model_dir)
        self.dim = int(self.meta["dim"])
        self.prefix = str(self.meta["prefix"])
        self._session: onnxruntime.InferenceSession | None = None
        self._tokenizer: Tokenizer | None = None
        self._lock = threading.Lock()

    def _load(self) -> tuple[onnxruntime.InferenceSession, Tokenizer]:
        with self._lock:
            if self._session is None or self._tokenizer is None:
                try:
                    import onnxruntime
                    from tokenizers import Tokenizer
                except ImportError as exc:
                    raise ModelError(f"the e5 ONNX model needs onnxruntime and tokenizers ({exc}); "
                                     "see requirements/rasa.lock") from exc
                tok = Tokenizer.from_file(str(self.model_dir / TOKENIZER_FILE))
                tok.enable_truncation(MAX_TOKENS)
                pad_id = tok.token_to_id("<pad>")
                tok.enable_padding(pad_id=1 if pad_id is None else pad_id, pad_token="<pad>")
                opts = onnxruntime.SessionOptions()
                opts.intra_op_num_threads = self.threads
                opts.inter_op_num_threads = 1
                # no arena: it keeps the peak of the largest batch (index building: +700 MB) for the process's life
                opts.enable_cpu_mem_arena = False
                # worker threads sleep between runs instead of spinning: with 2 threads on the 2 shared cores the
                # spinning doubled the CPU per query (27 vs 14 ms measured under load) and was no faster
                opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
                try:
                    self._session = onnxruntime.InferenceSession(
                        str(self.model_dir / self.model_file), sess_options=opts, providers=["CPUExecutionProvider"])
                except Exception as exc:  # onnxruntime raises its own untyped errors
                    raise ModelError(f"cannot load {self.model_dir / self.model_file}: {exc}") from exc
                self._tokenizer = tok
        return self._session, self._tokenizer

    def token_states(self, texts: Sequence[str], prefix: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Token states (batch, seq, dim) and the attention mask (batch, seq) of one padded batch;
        ``prefix`` (default: the export's, "query: ") goes before each text."""
        session, tok = self._load()
        prefix = self.prefix if prefix is None else prefix
        enc = tok.encode_batch([prefix + t for t in texts])
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        (states,) = session.run(["last_hidden_state"], {"input_ids": ids, "attention_mask": mask})
        return np.asarray(states, dtype=np.float32), mask

    def encode(self, texts: Sequence[str], prefix: str | None = None) -> np.ndarray:
        """L2-normalised sentence vectors (len(texts), dim); batches grouped by length (little padding)."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            states, mask = self.token_states([texts[i] for i in idx], prefix)
            out[idx] = l2_normalize(mean_pool(states, mask))
        return out
