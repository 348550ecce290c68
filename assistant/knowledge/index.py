"""Dense index over the knowledge base: faiss over normalised vectors, persisted with metadata.

Each entry contributes its title and question phrasings (encoded as queries: e5's symmetric
mode) and its answer (encoded as a passage). Rebuilds only encode texts whose content changed.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.errors import ModelError
from assistant.knowledge.embedding import Embedder
from assistant.knowledge.kb import KnowledgeBase

FORMAT = 1


@dataclass(frozen=True)
class Doc:
    entry_id: str
    kind: str  # "q" (title or question, query-encoded) or "p" (answer, passage-encoded)
    text: str

    @property
    def key(self) -> str:
        return hashlib.sha1(f"{self.kind}\x00{self.text}".encode()).hexdigest()


def docs_for(kb: KnowledgeBase) -> list[Doc]:
    docs: list[Doc] = []
    for e in kb.entries:
        seen = set()
        for text in (e.title, *e.questions):
            if text not in seen:
                seen.add(text)
                docs.append(Doc(e.id, "q", text))
        docs.append(Doc(e.id, "p", f"{e.title}。{kb.render(e.answer)}"))
    return docs


class DenseIndex:
    def __init__(self, docs: list[Doc], vectors: np.ndarray, model_name: str) -> None:
        import faiss

        self.docs, self.vectors, self.model_name = docs, vectors, model_name
        self.faiss = faiss.IndexFlatIP(vectors.shape[1] if len(vectors) else 384)
        if len(vectors):
            self.faiss.add(vectors)

    def search(self, qvec: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, doc rows) for one normalised query vector."""
        k = min(k, len(self.docs))
        scores, rows = self.faiss.search(qvec.reshape(1, -1).astype(np.float32), k)
        return scores[0], rows[0]

    def save(self, folder: Path) -> None:
        import faiss

        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / "vectors.npy.tmp"
        with open(tmp, "wb") as fh:
            np.save(fh, self.vectors)
        os.replace(tmp, folder / "vectors.npy")
        faiss.write_index(self.faiss, str(folder / "dense.faiss.tmp"))
        os.replace(folder / "dense.faiss.tmp", folder / "dense.faiss")
        meta = {"format": FORMAT, "model": self.model_name,
                "docs": [[d.entry_id, d.kind, d.text] for d in self.docs]}
        (folder / "docs.json.tmp").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        os.replace(folder / "docs.json.tmp", folder / "docs.json")

    @classmethod
    def load(cls, folder: Path) -> DenseIndex | None:
        try:
            meta = json.loads((folder / "docs.json").read_text(encoding="utf-8"))
            vectors = np.load(folder / "vectors.npy")
        except (OSError, ValueError):
            return None
        if meta.get("format") != FORMAT or len(meta["docs"]) != len(vectors):
            return None
        return cls([Doc(*d) for d in meta["docs"]], vectors, meta["model"])


def build(kb: KnowledgeBase, embedder: Embedder, folder: Path | None = None, *,
          progress: bool = False) -> tuple[DenseIndex, int]:
    """Load the saved index and encode only new or changed texts. Returns (index, texts encoded)."""
    docs = docs_for(kb)
    old = DenseIndex.load(folder) if folder else None
    cache: dict[str, np.ndarray] = {}
    if old is not None and old.model_name == embedder.name:
        cache = {d.key: old.vectors[i] for i, d in enumerate(old.docs)}
    todo = [d for d in docs if d.key not in cache]
    if todo:
        _encode_into(cache, todo, embedder, progress)
    if not docs:
        raise ModelError("the knowledge base has no entries to index")
    vectors = np.stack([cache[d.key] for d in docs]).astype(np.float32)
    index = DenseIndex(docs, vectors, embedder.name)
    if folder and (todo or old is None or len(old.docs) != len(docs)):
        index.save(folder)
    return index, len(todo)


def _encode_into(cache: dict[str, np.ndarray], todo: list[Doc], embedder: Embedder, progress: bool) -> None:
    batches = [todo[i:i + 64] for i in range(0, len(todo), 64)]
    if progress and len(todo) > 64:
        from rich.progress import Progress

        with Progress() as bar:
            task = bar.add_task("编码知识库", total=len(todo))
            for batch in batches:
                _encode_batch(cache, batch, embedder)
                bar.advance(task, len(batch))
    else:
        for batch in batches:
            _encode_batch(cache, batch, embedder)


def _encode_batch(cache: dict[str, np.ndarray], batch: list[Doc], embedder: Embedder) -> None:
    qs = [d for d in batch if d.kind == "q"]
    ps = [d for d in batch if d.kind == "p"]
    for group, fn in ((qs, embedder.encode_queries), (ps, embedder.encode_passages)):
        if group:
            for d, v in zip(group, fn([d.text for d in group]), strict=False):
                cache[d.key] = v
