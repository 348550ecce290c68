"""Hybrid retrieval: dense (faiss) fused with jieba BM25, topic-aware, plus the garbage item table
(matched by ``garbage.ItemMatcher``)."""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from assistant.knowledge.embedding import Embedder
from assistant.knowledge.garbage import GARBAGE_CUE, ItemMatcher
from assistant.knowledge.index import DenseIndex
from assistant.knowledge.kb import Entry, KnowledgeBase
from assistant.text.normalize import clip, prepare, strip_emoji
from assistant.text.segment import Segmenter, default_segmenter

__all__ = ["GARBAGE_CUE", "Calibration", "FusionParams", "Hit", "ItemMatcher", "Result", "Retriever"]

MODES = ("hybrid", "dense", "bm25")
QUERY_CHARS = 160


@dataclass
class FusionParams:
    alpha: float = 0.6          # weight of dense vs lexical
    dense_floor: float = 0.80   # e5 cosines bunch at 0.83-0.92: rescale from here to 1.0
    answer_shift: float = 0.0   # added to the answer-passage cosine before max() with questions
    topic_boost: float = 0.10   # added when the entry's topic equals the NLU topic
    lexical: str = "rel"        # BM25 scaling: "rel" (share of the best score) or "sat" (s / (s + 5))


@dataclass
class Calibration:
    """Logistic map from retrieval features to P(top hit is right), fitted on held-out questions."""

    coef: list[float] = field(default_factory=lambda: [8.0, 6.0, 0.0, 0.0])
    intercept: float = -5.0
    answer_at: float = 0.5      # at or above: answer
    clarify_at: float = 0.15    # below answer_at: answer and list alternatives; below this: ask which
    params: FusionParams = field(default_factory=FusionParams)
    report: dict[str, float] = field(default_factory=dict)

    def probability(self, features: list[float]) -> float:
        z = self.intercept + sum(c * f for c, f in zip(self.coef, features, strict=False))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def save(self, path: Path) -> None:
        data = asdict(self)
        path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Calibration | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            data["params"] = FusionParams(**data["params"])
            return cls(**data)
        except (OSError, ValueError, TypeError, KeyError):
            return None


@dataclass
class Hit:
    entry: Entry
    score: float
    dense: float
    lexical: float


@dataclass
class Result:
    hits: list[Hit]
    confidence: float
    features: list[float]

    @property
    def top(self) -> Hit | None:
        return self.hits[0] if self.hits else None


class Retriever:
    def __init__(self, kb: KnowledgeBase, index: DenseIndex, embedder: Embedder, *,
                 segmenter: Segmenter | None = None, calibration: Calibration | None = None) -> None:
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets itself to DEBUG on import
        self.kb, self.index, self.embedder = kb, index, embedder
        self.seg = segmenter or default_segmenter()
        self.calibration = calibration or Calibration()
        self.entries = list(kb.entries)
        self._row = {e.id: i for i, e in enumerate(self.entries)}
        self._doc_entry = np.array([self._row[d.entry_id] for d in index.docs])
        self._doc_is_answer = np.array([d.kind == "p" for d in index.docs])
        self._topics = np.array([e.topic for e in self.entries])
        corpus = [self.seg.terms(" ".join((e.title, *e.questions, *e.tags, e.title, kb.render(e.answer))))
                  for e in self.entries]
        self.bm25 = bm25s.BM25()
        self.bm25.index(corpus, show_progress=False)
        self.items = ItemMatcher(kb.items)

    @property
    def params(self) -> FusionParams:
        return self.calibration.params

    def raw_scores(self, query: str, qvec: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Per-entry (dense cosine, BM25 score)."""
        # Long stories: keep the start and the end, where the question is (and e5 stays fast).
        text = clip(strip_emoji(prepare(query)) or query, QUERY_CHARS)
        if qvec is None:
            qvec = self.embedder.encode_queries([text])[0]
        scores, rows = self.index.search(qvec, len(self.index.docs))
        doc_scores = np.full(len(self.index.docs), -1.0, dtype=np.float32)
        doc_scores[rows[rows >= 0]] = scores[rows >= 0]
        doc_scores = np.where(self._doc_is_answer, doc_scores + self.params.answer_shift, doc_scores)
        dense = np.full(len(self.entries), -1.0, dtype=np.float32)
        np.maximum.at(dense, self._doc_entry, doc_scores)
        terms = self.seg.terms(text)
        lexical = self.bm25.get_scores(terms) if terms else np.zeros(len(self.entries))
        return dense, np.asarray(lexical, dtype=np.float32)

    def fuse(self, dense: np.ndarray, lexical: np.ndarray, topic: str | None, mode: str = "hybrid",
             params: FusionParams | None = None) -> np.ndarray:
        p = params or self.params
        dn = np.clip((dense - p.dense_floor) / (1.0 - p.dense_floor), 0.0, 1.0)
        if p.lexical == "sat":
            ln = lexical / (lexical + 5.0)
        else:
            top = float(lexical.max()) if len(lexical) else 0.0
            ln = lexical / top if top > 0 else np.zeros_like(lexical)
        if mode == "dense":
            fused = dn
        elif mode == "bm25":
            fused = ln
        else:
            fused = p.alpha * dn + (1.0 - p.alpha) * ln
        if topic:
            fused = fused + p.topic_boost * (self._topics == topic)
        return fused

    @staticmethod
    def features(fused: np.ndarray, dense: np.ndarray, lexical: np.ndarray) -> list[float]:
        order = np.argsort(-fused)
        top = int(order[0])
        second = float(fused[order[1]]) if len(order) > 1 else 0.0
        lex = float(lexical[top])
        return [float(fused[top]), float(fused[top]) - second, float(dense[top]), lex / (lex + 5.0)]

    def search(self, query: str, topic: str | None = None, k: int = 3, mode: str = "hybrid") -> Result:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        dense, lexical = self.raw_scores(query)
        return self.rank(dense, lexical, topic, k, mode)

    def rank(self, dense: np.ndarray, lexical: np.ndarray, topic: str | None, k: int = 3,
             mode: str = "hybrid", params: FusionParams | None = None,
             exclude: np.ndarray | None = None) -> Result:
        fused = self.fuse(dense, lexical, topic, mode, params)
        if exclude is not None:
            fused = np.where(exclude, -9.0, fused)
        order = np.argsort(-fused)[:k]
        hits = [Hit(self.entries[i], float(fused[i]), float(dense[i]), float(lexical[i])) for i in order]
        feats = self.features(fused, dense, lexical)
        return Result(hits, self.calibration.probability(feats), feats)
