"""The review queue: doubtful questions grouped by meaning, and the admins' four decisions per group:
attach as phrasings of an existing entry, write a new entry, mark out of scope (a negative example
for calibration), or dismiss. Knowledge changes go through ``KnowledgeFiles`` (checked, comments
kept); every decision is audited (who, when, what)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from assistant.learning.kbedit import EntryDraft, KnowledgeFiles, append_negatives
from assistant.learning.store import LearningError, LearningStore, Question

SIMILAR = 0.10           # cosine distance (average link) under which questions are one group (e5: ~0.9 cosine)


class QueryEncoder(Protocol):
    def encode_queries(self, texts: list[str]) -> np.ndarray: ...


@dataclass
class Group:
    questions: list[Question]
    label: str                       # the question nearest the group's centre
    offered: list[tuple[str, str, int]]   # (entry id, title, times offered), most offered first

    @property
    def ids(self) -> list[int]:
        return [q.id for q in self.questions]

    @property
    def kinds(self) -> Counter[str]:
        return Counter(q.kind for q in self.questions)

    @property
    def key(self) -> str:
        return "-".join(str(i) for i in sorted(self.ids))


def cluster(texts: Sequence[str], encoder: QueryEncoder, threshold: float = SIMILAR) -> tuple[list[int], np.ndarray]:
    """Agglomerative clustering (average link, cosine) of the texts: a label per text, and the vectors."""
    if not texts:
        return [], np.zeros((0, 1), np.float32)
    unique = list(dict.fromkeys(texts))          # residents repeat themselves: encode each text once
    row = {t: i for i, t in enumerate(unique)}
    uvecs = np.asarray(encoder.encode_queries(unique), dtype=np.float32)
    vecs = uvecs[[row[t] for t in texts]]
    if len(unique) == 1:
        return [0] * len(texts), vecs
    from sklearn.cluster import AgglomerativeClustering

    model = AgglomerativeClustering(n_clusters=None, metric="cosine", linkage="average",
                                    distance_threshold=threshold)
    labels = model.fit_predict(uvecs)
    return [int(labels[row[t]]) for t in texts], vecs


def group_questions(questions: Sequence[Question], encoder: QueryEncoder, threshold: float = SIMILAR) -> list[Group]:
    """Groups of similar questions, biggest first."""
    labels, vecs = cluster([q.text for q in questions], encoder, threshold)
    members: dict[int, list[int]] = {}
    for i, lab in enumerate(labels):
        members.setdefault(lab, []).append(i)
    groups = []
    for rows in members.values():
        centre = vecs[rows].mean(axis=0)
        best = rows[int(np.argmax(vecs[rows] @ centre))]
        offered: Counter[tuple[str, str]] = Counter()
        for i in rows:
            for o in questions[i].offered:
                if o.get("id"):
                    offered[(str(o["id"]), str(o.get("title") or o["id"]))] += 1
        groups.append(Group([questions[i] for i in rows], questions[best].text,
                            [(eid, title, n) for (eid, title), n in offered.most_common(5)]))
    groups.sort(key=lambda g: (-len(g.questions), -max(g.ids)))
    return groups


class Review:
    """``reload``: called after the knowledge files changed (an in-process engine's reloader)."""

    def __init__(self, store: LearningStore, files: KnowledgeFiles, encoder: QueryEncoder, negatives: Path,
                 reload: Callable[[], object] | None = None) -> None:
        self.store, self.files, self.encoder, self.negatives, self.reload = store, files, encoder, negatives, reload

    def groups(self, limit: int = 2000) -> list[Group]:
        return group_questions(self.store.questions("open", limit=limit), self.encoder)

    def _open(self, ids: Sequence[int]) -> list[Question]:
        found = sorted(self.store.questions("open", ids=list(ids)), key=lambda q: q.id)
        if not found:
            raise LearningError("none of these questions is waiting for review")
        return found

    def attach(self, ids: Sequence[int], entry_id: str, actor: str, phrasings: Sequence[str] | None = None) -> str:
        """(a) the questions (or the admin's edited ``phrasings``) become phrasings of ``entry_id``."""
        qs = self._open(ids)
        texts = [t for t in (phrasings if phrasings is not None else [q.text for q in qs]) if t.strip()]
        self.files.apply(add_questions={entry_id: texts})
        self._done(qs, "attached", actor, entry_id, {"entry": entry_id, "phrasings": texts})
        return entry_id

    def write_entry(self, ids: Sequence[int], draft: EntryDraft, actor: str) -> str:
        """(b) a new entry answers them; the questions are its phrasings when the admin gave fewer than 2
        (and the title too, when one question alone was asked: the checker wants two phrasings)."""
        qs = self._open(ids) if ids else []
        if len([q for q in draft.questions if q.strip()]) < 2:
            extra = [q.text for q in qs if q.text not in draft.questions]
            draft.questions = [*[q for q in draft.questions if q.strip()], *extra]
            if len(draft.questions) < 2 and draft.title.strip() and draft.title.strip() not in draft.questions:
                draft.questions.append(draft.title.strip())
        eid = self.files.apply(drafts=[draft])[0]
        self._done(qs, "new_entry", actor, eid, {"entry": eid, "title": draft.title, "topic": draft.topic,
                                                 "questions": draft.questions}, action="new_entry")
        return eid

    def out_of_scope(self, ids: Sequence[int], actor: str) -> int:
        """(c) negatives: written to the calibration's file of out-of-scope questions."""
        qs = self._open(ids)
        n = append_negatives(self.negatives, [q.text for q in qs])
        self._done(qs, "out_of_scope", actor, None, {"negatives_added": n})
        return n

    def dismiss(self, ids: Sequence[int], actor: str) -> int:
        """(d) nothing to learn."""
        qs = self._open(ids)
        self._done(qs, "dismissed", actor, None, {})
        return len(qs)

    def _done(self, qs: Sequence[Question], status: str, actor: str, entry: str | None, detail: dict[str, object],
              action: str | None = None) -> None:
        ids = [q.id for q in qs]
        self.store.decide(ids, status, actor, entry)
        self.store.audit(actor, action or status, {"questions": ids, **detail})
        if self.reload is not None and status in ("attached", "new_entry"):
            self.reload()
