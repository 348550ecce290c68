"""Reranking the retriever's candidates, and the answer confidence.

Plain functions over arrays. Each candidate entry of a query gets features from the dense and lexical
scores and from how much of the query its text covers; a logistic model scores the candidates
(trained on the knowledge base's own phrasings, each held out in turn, so it learns what a right
entry looks like, not which entries exist). A second logistic map turns the best candidate's score, its
margin and the share of the query the knowledge base has never seen into P(the answer is right),
fitted on held-out questions with their expected entry (``python -m assistant calibrate answer``).
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "resources" / "answer.json"
CANDIDATES = 10
# per candidate
FEATURES = ("dense_q", "dense_q_gap", "dense_p", "dense_p_gap", "lex_rel", "lex_sat", "fused", "fused_gap",
            "rank", "topic", "cover", "cover_title", "bigram_cover", "bigram_title")
# per query, for the answer confidence
ANSWER_FEATURES = ("top", "margin", "unknown", "unknown_bigrams", "fused_top", "long")


@dataclass
class TermStats:
    """What the knowledge base's texts contain: terms and character bigrams per entry, and their idf."""

    title_terms: list[set[str]]
    all_terms: list[set[str]]
    title_bigrams: list[set[str]]
    all_bigrams: list[set[str]]
    idf: dict[str, float]
    bigram_idf: dict[str, float]

    @classmethod
    def build(cls, titles: Sequence[list[str]], bodies: Sequence[list[str]],
              title_texts: Sequence[str], body_texts: Sequence[str]) -> TermStats:
        """``titles``/``bodies``: terms of each entry's title+questions+tags and of its answer."""
        title_terms = [set(t) for t in titles]
        all_terms = [set(t) | set(b) for t, b in zip(titles, bodies, strict=True)]
        title_bi = [bigrams(t) for t in title_texts]
        all_bi = [a | bigrams(b) for a, b in zip(title_bi, body_texts, strict=True)]
        return cls(title_terms, all_terms, title_bi, all_bi, _idf(all_terms), _idf(all_bi))

    @cached_property
    def unseen(self) -> float:
        """The idf of a term no entry has (the idf tables do not change once built: computed once, not per call)."""
        return _unseen_idf(self.idf)

    @cached_property
    def bigram_unseen(self) -> float:
        return _unseen_idf(self.bigram_idf)

    def coverage(self, terms: list[str], row: int, *, title: bool) -> float:
        return _cover(terms, (self.title_terms if title else self.all_terms)[row], self.idf, self.unseen)

    def bigram_coverage(self, grams: set[str], row: int, *, title: bool) -> float:
        return _cover(list(grams), (self.title_bigrams if title else self.all_bigrams)[row], self.bigram_idf,
                      self.bigram_unseen)

    def unknown(self, terms: list[str]) -> float:
        """The idf-weighted share of the query's terms found in no entry at all."""
        return _unknown(terms, self.idf, self.unseen)

    def unknown_bigrams(self, grams: set[str]) -> float:
        return _unknown(list(grams), self.bigram_idf, self.bigram_unseen)


def bigrams(text: str) -> set[str]:
    cjk = [c for c in text if "\u4e00" <= c <= "\u9fff" or c.isalnum()]
    return {a + b for a, b in itertools.pairwise(cjk)}


def _idf(sets: Sequence[set[str]]) -> dict[str, float]:
    df: dict[str, int] = {}
    for s in sets:
        for t in s:
            df[t] = df.get(t, 0) + 1
    n = len(sets)
    return {t: math.log((n + 1) / (d + 0.5)) for t, d in df.items()}


def _unseen_idf(idf: dict[str, float]) -> float:
    return max(idf.values(), default=1.0) + 0.5


def _cover(terms: list[str], have: set[str], idf: dict[str, float], miss: float) -> float:
    if not terms:
        return 0.0
    total = sum(idf.get(t, miss) for t in terms)
    return sum(idf.get(t, miss) for t in terms if t in have) / total if total else 0.0


def _unknown(terms: list[str], idf: dict[str, float], miss: float) -> float:
    if not terms:
        return 0.0
    total = sum(idf.get(t, miss) for t in terms)
    return sum(miss for t in terms if t not in idf) / total if total else 0.0


def candidate_features(rows: np.ndarray, dense_q: np.ndarray, dense_p: np.ndarray, lexical: np.ndarray,
                       fused: np.ndarray, topic_match: np.ndarray, stats: TermStats, terms: list[str],
                       grams: set[str]) -> np.ndarray:
    """One row of ``FEATURES`` per candidate (``rows``: entry rows, best fused first)."""
    top_lex = float(lexical.max()) if len(lexical) else 0.0
    dq, dp, fu = dense_q[rows], dense_p[rows], fused[rows]
    out = np.zeros((len(rows), len(FEATURES)), dtype=np.float64)
    out[:, 0] = dq
    out[:, 1] = dq - dq.max()
    out[:, 2] = dp
    out[:, 3] = dp - dp.max()
    out[:, 4] = lexical[rows] / top_lex if top_lex > 0 else 0.0
    out[:, 5] = lexical[rows] / (lexical[rows] + 5.0)
    out[:, 6] = fu
    out[:, 7] = fu - fu.max()
    out[:, 8] = 1.0 / (1.0 + np.arange(len(rows)))
    out[:, 9] = topic_match[rows]
    for i, r in enumerate(rows):
        out[i, 10] = stats.coverage(terms, int(r), title=False)
        out[i, 11] = stats.coverage(terms, int(r), title=True)
        out[i, 12] = stats.bigram_coverage(grams, int(r), title=False)
        out[i, 13] = stats.bigram_coverage(grams, int(r), title=True)
    return out


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30.0, 30.0)))


@dataclass
class AnswerModel:
    """The reranker's and the answer confidence's weights, with the thresholds chosen on held-out data."""

    rerank_coef: list[float] = field(default_factory=list)
    rerank_intercept: float = 0.0
    rerank_mean: list[float] = field(default_factory=list)
    rerank_scale: list[float] = field(default_factory=list)
    answer_coef: list[float] = field(default_factory=list)
    answer_intercept: float = 0.0
    answer_at: float = 0.5        # at or above: answer
    related_at: float = 0.25      # below answer_at: answer and list alternatives; below this: don't answer
    lacks_at: float = 0.34        # below answer_at, this share of the words in no entry ...
    lacks_below: float = 0.7      # ... and a confidence below this: the guide lacks what was asked
    report: dict[str, float] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return len(self.rerank_coef) == len(FEATURES)

    def score(self, feats: np.ndarray) -> np.ndarray:
        """P(candidate is the right entry), per row of ``candidate_features``."""
        x = (feats - np.asarray(self.rerank_mean)) / np.asarray(self.rerank_scale)
        return _sigmoid(x @ np.asarray(self.rerank_coef) + self.rerank_intercept)

    def lacks(self, confidence: float, unknown: float) -> bool:
        """The guide has no answer to this: unsure, and much of what was asked is in no entry."""
        return confidence < min(self.answer_at, self.lacks_below) and unknown >= self.lacks_at

    def confidence(self, qfeats: list[float]) -> float:
        if len(self.answer_coef) != len(ANSWER_FEATURES):
            return qfeats[0]
        z = float(np.dot(self.answer_coef, qfeats) + self.answer_intercept)
        return float(_sigmoid(np.array(z)))

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> AnswerModel | None:
        try:
            model = cls(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return None
        return model if model.ready else None


def answer_features(probs: np.ndarray, unknown: float, unknown_bi: float, fused_top: float,
                    length: int) -> list[float]:
    top = float(probs[0]) if len(probs) else 0.0
    second = float(probs[1]) if len(probs) > 1 else 0.0
    return [top, top - second, unknown, unknown_bi, fused_top, min(length, 80) / 80.0]
