"""Fit the reranker and the answer confidence (assistant/knowledge/rerank.py).

The reranker learns from the knowledge base's own phrasings: in fold f the f-th last phrasing of every
entry that keeps two others is removed from the index and BM25 and asked as a query. The answer
confidence is fitted on held-out questions with their expected entry (``entry:`` in the eval format,
``none`` for a question the guide cannot answer), and the thresholds are chosen there: answer at the
lowest confidence where at most ``max_wrong`` of the answered are wrong.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from assistant.knowledge.embedding import Embedder
from assistant.knowledge.index import DenseIndex
from assistant.knowledge.kb import KnowledgeBase
from assistant.knowledge.rerank import ANSWER_FEATURES, FEATURES, AnswerModel, answer_features
from assistant.knowledge.retrieval import Retriever

FOLDS = 6
RELATED_MIN = 0.5


@dataclass(frozen=True)
class Labelled:
    text: str
    entries: frozenset[str]      # empty: the guide has no answer
    topic: str | None


def fold(kb: KnowledgeBase, f: int) -> tuple[KnowledgeBase, list[Labelled]]:
    entries, asked = [], []
    for e in kb.entries:
        if len(e.questions) >= f + 3:
            q = e.questions[-(f + 1)]
            asked.append(Labelled(q, frozenset({e.id}), e.topic))
            e = replace(e, questions=tuple(x for x in e.questions if x != q))
        entries.append(e)
    return KnowledgeBase(entries=entries, items=kb.items, contacts=kb.contacts, root=kb.root), asked


def fold_retriever(kb: KnowledgeBase, index: DenseIndex, embedder: Embedder, base: Retriever,
                   f: int) -> tuple[Retriever, list[Labelled]]:
    sub_kb, asked = fold(kb, f)
    keep = {(e.id, t) for e in sub_kb.entries for t in (e.title, *e.questions)}
    rows = [i for i, d in enumerate(index.docs) if d.kind == "p" or (d.entry_id, d.text) in keep]
    sub_index = DenseIndex([index.docs[i] for i in rows], index.vectors[rows], index.model_name)
    return Retriever(sub_kb, sub_index, embedder, segmenter=base.seg, calibration=base.calibration), asked


Fold = tuple[Retriever, list[Labelled], np.ndarray]


def folds(kb: KnowledgeBase, index: DenseIndex, embedder: Embedder, base: Retriever) -> list[Fold]:
    """Each fold's retriever, its held-out phrasings and their query vectors."""
    out = []
    for f in range(FOLDS):
        sub, asked = fold_retriever(kb, index, embedder, base, f)
        if len(asked) < 10:
            break
        out.append((sub, asked, embedder.encode_queries([c.text for c in asked])))
    return out


def _topic_for(case: Labelled) -> str | None:
    """What the NLU would say: the right topic, except for one query in five (none given)."""
    return None if zlib.crc32(case.text.encode()) % 5 == 0 else case.topic


def candidate_rows(retriever: Retriever, cases: Sequence[Labelled],
                   vecs: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    xs, ys = [], []
    for case, v in zip(cases, vecs, strict=True):
        q = retriever.query(case.text, v)
        topic = _topic_for(case)
        fused = retriever.fuse(q.dense, q.lexical, topic)
        rows, cf = retriever.candidates(q, fused, topic)
        xs.append(cf)
        ys.append(np.array([retriever.entries[r].id in case.entries for r in rows], dtype=np.float64))
    return xs, ys


def fit_reranker(held: list[Fold], model: AnswerModel) -> list[Labelled]:
    from sklearn.linear_model import LogisticRegression

    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    asked_all: list[Labelled] = []
    for sub, asked, vecs in held:
        x, y = candidate_rows(sub, asked, vecs)
        xs += x
        ys += y
        asked_all += asked
    X, Y = np.vstack(xs), np.concatenate(ys)
    mean, scale = X.mean(axis=0), X.std(axis=0) + 1e-6
    lr = LogisticRegression(C=1.0, max_iter=3000).fit((X - mean) / scale, Y)
    model.rerank_coef = [float(c) for c in lr.coef_[0]]
    model.rerank_intercept = float(lr.intercept_[0])
    model.rerank_mean, model.rerank_scale = [float(m) for m in mean], [float(s) for s in scale]
    fused_top1 = np.mean([y[0] for y in ys])
    rerank_top1 = np.mean([y[int(np.argmax(model.score(x)))] for x, y in zip(xs, ys, strict=True)])
    model.report.update({"kb_queries": float(len(asked_all)), "kb_top1_fused": round(float(fused_top1), 4),
                         "kb_top1_reranked": round(float(rerank_top1), 4)})
    return asked_all


def query_rows(retriever: Retriever, cases: Sequence[Labelled], vecs: np.ndarray,
               topics: Sequence[str | None], unknown: list[float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(answer features, top is right) per case, through the retriever's own ranking."""
    X, y = [], []
    for case, v, topic in zip(cases, vecs, topics, strict=True):
        q = retriever.query(case.text, v)
        res = retriever.rank(q.dense, q.lexical, topic, k=3, query=q)
        probs = np.array([h.prob or 0.0 for h in res.hits] + [0.0])
        fused = retriever.fuse(q.dense, q.lexical, topic)
        X.append(answer_features(probs, res.unknown, retriever.stats.unknown_bigrams(q.grams),
                                 float(fused.max()), len(q.text)))
        y.append(float(res.top is not None and res.top.entry.id in case.entries))
        if unknown is not None:
            unknown.append(res.unknown)
    return np.array(X), np.array(y)


def lacks_policy(model: AnswerModel, conf: np.ndarray, unknown: np.ndarray, right: np.ndarray,
                 answerable: np.ndarray) -> None:
    """Choose when "the guide doesn't say" replaces an unsure answer: the most cases handled well
    (answerable: answered right; unanswerable: not answered)."""
    best = (-1.0, model.lacks_at, model.lacks_below)
    for at in np.arange(0.2, 0.85, 0.05):
        for below in np.arange(0.3, 1.0, 0.05):
            model.lacks_at, model.lacks_below = float(at), float(below)
            lacks = np.array([model.lacks(c, u) for c, u in zip(conf, unknown, strict=True)])
            answered = (conf >= model.related_at) & ~lacks
            good = (answered & (right == 1) & answerable).sum() + (~answered & ~answerable).sum()
            if good > best[0]:
                best = (float(good), float(at), float(below))
    model.lacks_at, model.lacks_below = round(best[1], 2), round(best[2], 2)


def thresholds(conf: np.ndarray, right: np.ndarray, max_wrong: float) -> float:
    """The lowest confidence at which the answered (conf >= t) are at most ``max_wrong`` wrong."""
    best = 1.0
    for t in sorted(set(np.round(conf, 3).tolist()), reverse=True):
        answered = conf >= t
        if answered.any() and 1.0 - right[answered].mean() <= max_wrong:
            best = float(t)
    return best


def auc(conf: np.ndarray, right: np.ndarray) -> float | None:
    pos, neg = conf[right == 1], conf[right == 0]
    if not len(pos) or not len(neg):
        return None
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(wins / (len(pos) * len(neg)))


def fit_answer_model(kb: KnowledgeBase, index: DenseIndex, embedder: Embedder, base: Retriever,
                     cases: Sequence[Labelled], *, max_wrong: float = 0.03) -> AnswerModel:
    """Reranker from the knowledge base, answer confidence and thresholds from ``cases``."""
    from sklearn.linear_model import LogisticRegression

    model = AnswerModel()
    held = folds(kb, index, embedder, base)
    kb_asked = fit_reranker(held, model)
    base.answer_model = model
    vecs = embedder.encode_queries([c.text for c in cases])
    unknown: list[float] = []
    Xc, yc = query_rows(base, cases, vecs, [c.topic for c in cases], unknown)
    # the knowledge base's own held-out phrasings add volume (with the index that has not seen them)
    Xk_parts, yk_parts = [], []
    for sub, asked, vecs in held:
        sub.answer_model = model
        x, y = query_rows(sub, asked, vecs, [_topic_for(c) for c in asked])
        Xk_parts.append(x)
        yk_parts.append(y)
    Xk, yk = np.vstack(Xk_parts), np.concatenate(yk_parts)
    X, y = np.vstack([Xc, Xk]), np.concatenate([yc, yk])
    w = np.concatenate([np.ones(len(yc)), np.full(len(yk), 0.3)])
    lr = LogisticRegression(C=1.0, max_iter=3000).fit(X, y, sample_weight=w)
    model.answer_coef = [float(c) for c in lr.coef_[0]]
    model.answer_intercept = float(lr.intercept_[0])
    conf = np.array([model.confidence(list(x)) for x in Xc])
    model.answer_at = thresholds(conf, yc, max_wrong)
    # a hedged answer (the entry plus alternatives) only when it is more likely right than wrong: the
    # confidence is a probability; below, the alternatives are offered as a question
    model.related_at = min(model.answer_at, max(RELATED_MIN, thresholds(conf, yc, 0.25)))
    answerable = np.array([bool(c.entries) for c in cases])
    lacks_policy(model, conf, np.array(unknown), yc, answerable)
    lacked = np.array([model.lacks(c, u) for c, u in zip(conf, unknown, strict=True)])
    answered = conf >= model.answer_at
    model.report.update({
        "cases": float(len(cases)), "answerable": float(answerable.sum()),
        "top1_answerable": round(float(yc[answerable].mean()), 4) if answerable.any() else 0.0,
        "answered_share": round(float(answered[answerable].mean()), 4) if answerable.any() else 0.0,
        "wrong_when_answered": round(float(1 - yc[answered].mean()), 4) if answered.any() else 0.0,
        "unanswerable_answered": round(float(answered[~answerable].mean()), 4) if (~answerable).any() else 0.0,
        "auc": round(auc(conf, yc) or 0.0, 4), "kb_queries_used": float(len(kb_asked)),
        "answerable_said_lacking": round(float(lacked[answerable].mean()), 4) if answerable.any() else 0.0,
        "unanswerable_said_lacking": round(float(lacked[~answerable].mean()), 4) if (~answerable).any() else 0.0,
    })
    assert len(model.rerank_coef) == len(FEATURES) and len(model.answer_coef) == len(ANSWER_FEATURES)
    return model
