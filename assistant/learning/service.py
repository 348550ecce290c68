"""The learning seam assembled for a process that is not the action server (the CLI, the console):
the store, the knowledge files, the review queue with the project's embedder, hit testing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.knowledge.build import NEGATIVES_FILE
from assistant.learning.hittest import Hit, Parser, hit_test
from assistant.learning.kbedit import KnowledgeFiles
from assistant.learning.review import QueryEncoder, Review
from assistant.learning.store import LearningStore


@dataclass
class Learning:
    store: LearningStore
    files: KnowledgeFiles
    encoder: QueryEncoder
    index_dir: Path
    engine_factory: Callable[[], Any] | None = None      # an Engine without desk or learning (hit testing)
    parser: Parser | None = None                          # Rasa's NLU on the running server
    _engine: Any = field(default=None, repr=False)
    _reloader: Any = field(default=None, repr=False)

    @property
    def review(self) -> Review:
        return Review(self.store, self.files, self.encoder, self.files.folder / NEGATIVES_FILE,
                      reload=self.refresh)

    def engine(self) -> Any:
        if self._engine is None and self.engine_factory is not None:
            from assistant.learning.reload import KnowledgeReloader

            self._engine = self.engine_factory()
            self._reloader = KnowledgeReloader(self._engine, self.files.folder, self.index_dir, every=0.0)
        return self._engine

    def refresh(self) -> bool:
        return bool(self._reloader.check(force=True)) if self._reloader is not None else False

    def hit(self, text: str) -> Hit:
        engine = self.engine()
        if engine is None:
            raise RuntimeError("no engine for hit testing")
        if self._reloader is not None:
            self._reloader.check()
        return hit_test(engine, text, self.parser)
