"""Fit fusion weights and the confidence model on held-out knowledge-base questions.

The last phrasing of every entry with three or more is held out: removed from both the dense
index and BM25, then asked as a query. Out-of-scope messages are the negatives.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np

from assistant.knowledge.embedding import Embedder
from assistant.knowledge.index import DenseIndex
from assistant.knowledge.kb import KnowledgeBase
from assistant.knowledge.retrieval import Calibration, FusionParams, Retriever


def held_out(kb: KnowledgeBase) -> tuple[KnowledgeBase, list[tuple[str, str, str]]]:
    """(kb without held-out phrasings, [(question, entry id, topic)])."""
    entries, asked = [], []
    for e in kb.entries:
        if len(e.questions) >= 3:
            asked.append((e.questions[-1], e.id, e.topic))
            e = replace(e, questions=e.questions[:-1])
        entries.append(e)
    return KnowledgeBase(entries=entries, items=kb.items, contacts=kb.contacts, root=kb.root), asked


def held_out_retriever(kb: KnowledgeBase, index: DenseIndex,
                       embedder: Embedder) -> tuple[Retriever, list[tuple[str, str, str]]]:
    """A retriever that has not seen the held-out phrasings (vectors reused, nothing re-encoded)."""
    sub_kb, asked = held_out(kb)
    keep_texts = {(e.id, t) for e in sub_kb.entries for t in (e.title, *e.questions)}
    rows = [i for i, d in enumerate(index.docs) if d.kind == "p" or (d.entry_id, d.text) in keep_texts]
    sub_index = DenseIndex([index.docs[i] for i in rows], index.vectors[rows], index.model_name)
    return Retriever(sub_kb, sub_index, embedder), asked


def calibrate(kb: KnowledgeBase, index: DenseIndex, embedder: Embedder, negatives: list[str]) -> Calibration:
    from sklearn.linear_model import LogisticRegression

    retriever, asked = held_out_retriever(kb, index, embedder)
    qvecs = embedder.encode_queries([q for q, _, _ in asked])
    nvecs = embedder.encode_queries(negatives) if negatives else np.zeros((0, qvecs.shape[1]))
    pos_raw = [(q, v) for (q, _, _), v in zip(asked, qvecs, strict=False)]
    truth = [eid for _, eid, _ in asked]
    topics = [t for _, _, t in asked]

    def run(params: FusionParams, with_topic: bool) -> tuple[float, float, list[tuple[list[float], int]]]:
        retriever.calibration = Calibration(params=params)
        rows_out, correct, topic_ok = [], 0, 0
        for (dense, lex), eid, topic in zip(raw, truth, topics, strict=False):
            res = retriever.rank(dense, lex, topic if with_topic else None, k=1)
            ok = int(res.top is not None and res.top.entry.id == eid)
            correct += ok
            topic_ok += int(res.top is not None and res.top.entry.topic == topic)
            rows_out.append((res.features, ok))
        n = max(1, len(asked))
        return correct / n, topic_ok / n, rows_out

    # Fusion weights: best entry + topic accuracy on the held-out phrasings, without topic hints.
    best, best_obj, best_acc = FusionParams(), -1.0, 0.0
    for shift in (-0.04, -0.02, 0.0):
        retriever.calibration = Calibration(params=FusionParams(answer_shift=shift))
        raw = [retriever.raw_scores(q, v) for q, v in pos_raw]  # the shift applies inside raw_scores
        for lexical, alpha in itertools.product(("rel", "sat"), (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)):
            params = FusionParams(alpha=alpha, answer_shift=shift, lexical=lexical)
            acc, topic_acc, _ = run(params, with_topic=False)
            if acc + topic_acc > best_obj + 1e-9:
                best, best_obj, best_acc = params, acc + topic_acc, acc
    retriever.calibration = Calibration(params=best)
    raw = [retriever.raw_scores(q, v) for q, v in pos_raw]
    acc_topic, _, pos_rows = run(best, with_topic=True)
    retriever.calibration = Calibration(params=best)
    neg_rows = []
    for text, v in zip(negatives, nvecs, strict=False):
        dense, lex = retriever.raw_scores(text, v)
        neg_rows.append((retriever.rank(dense, lex, None, k=1).features, 0))
    data = pos_rows + neg_rows
    X = np.array([f for f, _ in data])
    y = np.array([label for _, label in data])
    cal = Calibration(params=best)
    if len(set(y.tolist())) == 2:
        model = LogisticRegression(C=10.0, max_iter=2000).fit(X, y)
        cal.coef = [float(c) for c in model.coef_[0]]
        cal.intercept = float(model.intercept_[0])
    probs = np.array([cal.probability(list(f)) for f in X])
    answered = probs >= cal.answer_at
    cal.report = {
        "held_out_questions": float(len(asked)),
        "negatives": float(len(negatives)),
        "top1_no_topic": round(best_acc, 4),
        "top1_with_topic": round(acc_topic, 4),
        "answered_share": round(float(answered[: len(pos_rows)].mean()) if pos_rows else 0.0, 4),
        "precision_when_answered": round(float(y[answered].mean()) if answered.any() else 0.0, 4),
        "negatives_answered": round(float(answered[len(pos_rows):].mean()) if neg_rows else 0.0, 4),
    }
    return cal
