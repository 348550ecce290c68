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
from assistant.knowledge.rerank import CANDIDATES, AnswerModel, TermStats, answer_features, bigrams, candidate_features
from assistant.text.normalize import query_text
from assistant.text.segment import Segmenter, default_segmenter

__all__ = ["GARBAGE_CUE", "Calibration", "FusionParams", "Hit", "ItemMatcher", "Result", "Retriever"]

MODES = ("hybrid", "dense", "bm25")


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
    prob: float | None = None   # the reranker's P(this entry is the right one)


@dataclass
class Query:
    """One query's scores against every entry, and its terms."""

    text: str
    dense: np.ndarray       # max over the entry's questions and its answer (shifted)
    dense_q: np.ndarray     # best cosine to the entry's title and questions
    dense_p: np.ndarray     # cosine to the entry's answer
    lexical: np.ndarray     # BM25
    terms: list[str]
    grams: set[str]


@dataclass
class Result:
    hits: list[Hit]
    confidence: float       # P(an entry of the knowledge base answers this at all), from fused scores
    features: list[float]
    answer_confidence: float | None = None   # P(the top hit is the right entry), after reranking
    fused: list[Hit] = field(default_factory=list)   # the best hits by fused score, before reranking
    unknown: float = 0.0    # the share of the query's words no entry contains

    @property
    def top(self) -> Hit | None:
        return self.hits[0] if self.hits else None


class Retriever:
    def __init__(self, kb: KnowledgeBase, index: DenseIndex, embedder: Embedder, *,
                 segmenter: Segmenter | None = None, calibration: Calibration | None = None,
                 answer_model: AnswerModel | None = None) -> None:
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
        heads = [" ".join((e.title, *e.questions, *e.tags)) for e in self.entries]
        bodies = [kb.render(e.answer) for e in self.entries]
        self.stats = TermStats.build([self.seg.terms(t) for t in heads], [self.seg.terms(b) for b in bodies],
                                     heads, bodies)
        self.answer_model = answer_model
        self.items = ItemMatcher(kb.items)

    @property
    def params(self) -> FusionParams:
        return self.calibration.params

    def query(self, query: str, qvec: np.ndarray | None = None) -> Query:
        """Per-entry dense and BM25 scores of a query, with its terms."""
        # Long stories: keep the start and the end, where the question is (and e5 stays fast).
        text = query_text(query)
        if qvec is None:
            qvec = self.embedder.encode_queries([text])[0]
        scores, rows = self.index.search(qvec, len(self.index.docs))
        doc_scores = np.full(len(self.index.docs), -1.0, dtype=np.float32)
        doc_scores[rows[rows >= 0]] = scores[rows >= 0]
        dense_q = np.full(len(self.entries), -1.0, dtype=np.float32)
        dense_p = np.full(len(self.entries), -1.0, dtype=np.float32)
        np.maximum.at(dense_q, self._doc_entry[~self._doc_is_answer], doc_scores[~self._doc_is_answer])
        np.maximum.at(dense_p, self._doc_entry[self._doc_is_answer], doc_scores[self._doc_is_answer])
        dense = np.maximum(dense_q, dense_p + self.params.answer_shift)
        terms = self.seg.terms(text)
        lexical = self.bm25.get_scores(terms) if terms else np.zeros(len(self.entries))
        return Query(text, dense, dense_q, dense_p, np.asarray(lexical, dtype=np.float32), terms, bigrams(text))

    def raw_scores(self, query: str, qvec: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Per-entry (dense cosine, BM25 score)."""
        q = self.query(query, qvec)
        return q.dense, q.lexical

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
        q = self.query(query)
        return self.rank(q.dense, q.lexical, topic, k, mode, query=q)

    def rank(self, dense: np.ndarray, lexical: np.ndarray, topic: str | None, k: int = 3,
             mode: str = "hybrid", params: FusionParams | None = None,
             exclude: np.ndarray | None = None, query: Query | None = None) -> Result:
        fused = self.fuse(dense, lexical, topic, mode, params)
        if exclude is not None:
            fused = np.where(exclude, -9.0, fused)
        feats = self.features(fused, dense, lexical)
        model = self.answer_model
        if query is None or model is None or mode != "hybrid":
            order = np.argsort(-fused)[:k]
            hits = [Hit(self.entries[i], float(fused[i]), float(dense[i]), float(lexical[i])) for i in order]
            return Result(hits, self.calibration.probability(feats), feats)
        order = np.argsort(-fused)[:k]
        before = [Hit(self.entries[i], float(fused[i]), float(dense[i]), float(lexical[i])) for i in order]
        rows, probs = self.rerank(query, fused, topic, model, exclude)
        hits = [Hit(self.entries[i], float(fused[i]), float(dense[i]), float(lexical[i]), float(p))
                for i, p in zip(rows[:k], probs[:k], strict=True)]
        unknown = self.stats.unknown(query.terms)
        qfeats = answer_features(probs, unknown, self.stats.unknown_bigrams(query.grams), float(fused.max()),
                                 len(query.text))
        return Result(hits, self.calibration.probability(feats), feats, model.confidence(qfeats), fused=before,
                      unknown=unknown)

    def candidates(self, query: Query, fused: np.ndarray, topic: str | None,
                   exclude: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(entry rows, their reranking features): the best ``CANDIDATES`` by fused score."""
        order = np.argsort(-fused)[:CANDIDATES]
        if exclude is not None:
            order = order[~exclude[order]]
        match = np.zeros(len(self.entries)) if topic is None else np.where(self._topics == topic, 1.0, -1.0)
        return order, candidate_features(order, query.dense_q, query.dense_p, query.lexical, fused, match,
                                         self.stats, query.terms, query.grams)

    def rerank(self, query: Query, fused: np.ndarray, topic: str | None, model: AnswerModel,
               exclude: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Candidate rows ordered by the reranker, with its probabilities."""
        rows, cf = self.candidates(query, fused, topic, exclude)
        probs = model.score(cf)
        order = np.argsort(-probs, kind="stable")
        return rows[order], probs[order]
