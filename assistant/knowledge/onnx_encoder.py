"""The ONNX export of e5 at run time: tokenizers + onnxruntime + numpy, no torch.

Used by the Rasa process (Python 3.10: ``assistant.rasa_server.e5_featurizer``), the action server and
the export's own check. The folder (``models/e5-onnx``) holds ``model.onnx`` (input_ids, attention_mask ->
token states), ``tokenizer.json``, ``meta.json`` (fingerprint, dim, pooling, prefix), written by
``onnx_export``, and ``sentencepiece.model``: the same unigram vocabulary for the ``sentencepiece`` package,
which holds it in ~45 MB where ``tokenizers`` takes ~280 MB (its ids are checked equal at export; a folder
without it, or a process without the package, falls back to ``tokenizers``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.errors import ModelError

if TYPE_CHECKING:
    import onnxruntime

log = logging.getLogger(__name__)

MODEL_FILE, TOKENIZER_FILE, META_FILE = "model.onnx", "tokenizer.json", "meta.json"
SPM_FILE = "sentencepiece.model"
MAX_TOKENS = 512
BOS, PAD, EOS = 0, 1, 2     # XLM-R's <s>, <pad>, </s>


def _malloc_trim() -> Any:
    """glibc's ``malloc_trim`` (None elsewhere): hands the heap's free pages back to the system."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


_TRIM = _malloc_trim()


def trim_heap() -> None:
    """Return freed heap pages to the system. Without the arena, onnxruntime's per-run buffers go back to
    malloc, whose free pages stay resident: ~40-60 MB per process after a few hundred queries (and the model
    file's parse on load); the call costs ~0.1 ms. Vectors are unchanged."""
    if _TRIM is not None:
        _TRIM(0)


class SpmTokens:
    """input_ids and attention_mask from the sentencepiece model, as the ``tokenizers`` JSON gives them:
    <s> ids </s>, cut to ``MAX_TOKENS``, padded with <pad>; a text ending in white space gets the lone "▁"
    that the JSON's Metaspace step leaves there (sentencepiece strips it)."""

    def __init__(self, path: Path) -> None:
        import sentencepiece

        self.sp = sentencepiece.SentencePieceProcessor(model_file=str(path))
        self.space = int(self.sp.piece_to_id("\u2581"))

    def ids(self, text: str) -> list[int]:
        ids = [int(i) for i in self.sp.encode(text)]
        if text[-1:].isspace():
            ids.append(self.space)
        return [BOS, *ids[:MAX_TOKENS - 2], EOS]

    def batch(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        rows = [self.ids(t) for t in texts]
        width = max(len(r) for r in rows)
        ids = np.full((len(rows), width), PAD, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, r in enumerate(rows):
            ids[i, :len(r)], mask[i, :len(r)] = r, 1
        return ids, mask


class JsonTokens:
    """The same from the ``tokenizers`` JSON (a folder without the sentencepiece model)."""

    def __init__(self, path: Path) -> None:
        from tokenizers import Tokenizer

        self.tok = Tokenizer.from_file(str(path))
        self.tok.enable_truncation(MAX_TOKENS)
        pad_id = self.tok.token_to_id("<pad>")
        self.tok.enable_padding(pad_id=PAD if pad_id is None else pad_id, pad_token="<pad>")

    def batch(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        enc = self.tok.encode_batch(list(texts))
        return (np.array([e.ids for e in enc], dtype=np.int64),
                np.array([e.attention_mask for e in enc], dtype=np.int64))


def load_tokens(model_dir: Path) -> SpmTokens | JsonTokens:
    """The sentencepiece model when the folder has it and the package is installed, else the JSON."""
    if (model_dir / SPM_FILE).is_file():
        try:
            return SpmTokens(model_dir / SPM_FILE)
        except ImportError:
            pass
    return JsonTokens(model_dir / TOKENIZER_FILE)


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
        self._tokenizer: SpmTokens | JsonTokens | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._session is not None

    def _load(self) -> tuple[onnxruntime.InferenceSession, SpmTokens | JsonTokens]:
        with self._lock:
            if self._session is None or self._tokenizer is None:
                try:
                    import onnxruntime

                    tok = load_tokens(self.model_dir)
                except ImportError as exc:
                    raise ModelError(f"the e5 ONNX model needs onnxruntime and sentencepiece or tokenizers "
                                     f"({exc}); see requirements/rasa.lock") from exc
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
                log.debug("e5 ONNX model loaded (pid %d, %s)", os.getpid(), self.model_file)
                trim_heap()   # the parsed model file is freed by now
        return self._session, self._tokenizer

    def token_states(self, texts: Sequence[str], prefix: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Token states (batch, seq, dim) and the attention mask (batch, seq) of one padded batch;
        ``prefix`` (default: the export's, "query: ") goes before each text."""
        session, tok = self._load()
        prefix = self.prefix if prefix is None else prefix
        ids, mask = tok.batch([prefix + t for t in texts])
        (states,) = session.run(["last_hidden_state"], {"input_ids": ids, "attention_mask": mask})
        trim_heap()
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
