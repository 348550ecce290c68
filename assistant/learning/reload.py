"""The running action server picks up knowledge changes without a restart: before each turn a
cheap look at the knowledge files (name, size, mtime; at most once a second); when they changed,
the base is loaded and checked again, the index re-encodes only new or changed texts, and the
engine's knowledge base and retriever are swapped (the calibration is kept until the next setup)."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Protocol

from assistant.errors import AssistantError
from assistant.knowledge.index import build as build_index
from assistant.knowledge.kb import KnowledgeBase
from assistant.knowledge.kb import load as load_kb
from assistant.knowledge.retrieval import Retriever

log = logging.getLogger(__name__)


class HasKnowledge(Protocol):
    kb: KnowledgeBase
    retriever: Retriever


def fingerprint(folder: Path) -> tuple[tuple[str, int, int], ...]:
    out = []
    for p in sorted(folder.glob("*.yml")):
        try:
            st = p.stat()
        except OSError:
            continue
        out.append((p.name, st.st_mtime_ns, st.st_size))
    return tuple(out)


class KnowledgeReloader:
    def __init__(self, engine: HasKnowledge, knowledge_dir: Path, index_dir: Path, *, every: float = 1.0) -> None:
        self.engine, self.folder, self.index_dir, self.every = engine, Path(knowledge_dir), Path(index_dir), every
        self._seen = fingerprint(self.folder)
        self._checked = time.monotonic()
        self._lock = threading.Lock()
        self.reloads = 0

    def check(self, force: bool = False) -> bool:
        """Reload when the files changed; True when the engine now has new knowledge."""
        now = time.monotonic()
        if not force and now - self._checked < self.every:
            return False
        with self._lock:
            self._checked = now
            fp = fingerprint(self.folder)
            if fp == self._seen:
                return False
            self._seen = fp
            old = self.engine.retriever
            try:
                kb = load_kb(self.folder)
                index, encoded = build_index(kb, old.embedder, self.index_dir)
                retriever = Retriever(kb, index, old.embedder, segmenter=old.seg, calibration=old.calibration)
            except AssistantError as exc:
                log.error("knowledge changed but is not usable, keeping the loaded one: %s", exc)
                return False
            self.engine.retriever, self.engine.kb = retriever, kb
            self.reloads += 1
            log.info("knowledge reloaded: %d entries, %d texts encoded", len(kb.entries), encoded)
            return True
