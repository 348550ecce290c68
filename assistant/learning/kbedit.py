"""Write changes back to ``knowledge/*.yml``: ruamel.yaml round trip (comments, order and layout
kept), validated by the knowledge checker on a scratch copy before any file is replaced."""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.errors import DataError, KnowledgeError
from assistant.knowledge.kb import TOPICS, KnowledgeBase
from assistant.knowledge.kb import load as load_kb

_LOCK = threading.Lock()
_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass
class EntryDraft:
    """A new or updated entry (from the review form or a spreadsheet row)."""

    topic: str
    title: str
    questions: list[str]
    answer: str
    id: str = ""
    tags: list[str] = field(default_factory=list)
    updated: str = ""


def _yaml() -> Any:
    from ruamel.yaml import YAML

    y = YAML()                       # round trip: comments, key order and quoting kept
    y.width = 4096
    y.indent(mapping=2, sequence=4, offset=2)
    y.preserve_quotes = True
    return y


def _literal(text: str) -> Any:
    from ruamel.yaml.scalarstring import LiteralScalarString

    return LiteralScalarString(text.strip() + "\n") if "\n" in text.strip() or len(text) > 60 else text.strip()


def _flow(words: Sequence[str]) -> Any:
    from ruamel.yaml.comments import CommentedSeq

    seq = CommentedSeq(list(words))
    seq.fa.set_flow_style()
    return seq


class KnowledgeFiles:
    """The knowledge folder as the admins' tools change it. Every change is checked with
    ``assistant.knowledge.kb.load`` on a copy first: a change that breaks the base is refused
    (``KnowledgeError`` naming file, line and field) and nothing is written."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def load(self) -> KnowledgeBase:
        return load_kb(self.folder)

    def new_id(self, topic: str, title: str, taken: Iterable[str]) -> str:
        used = set(taken)
        base = f"{topic}-learned"
        slug = _SLUG.sub("-", title.lower()).strip("-")
        if slug:
            base = f"{topic}-{slug}"[:60]
        n = 1
        while f"{base}-{n}" in used:
            n += 1
        return f"{base}-{n}"

    def _topic_file(self, topic: str, docs: dict[Path, Any]) -> Path:
        for path, data in docs.items():
            if isinstance(data, dict) and data.get("topic") == topic and "entries" in data:
                return path
        return self.folder / f"{topic}.yml"

    def _read(self, path: Path) -> Any:
        return _yaml().load(path.read_text(encoding="utf-8-sig"))

    def apply(self, drafts: Sequence[EntryDraft] = (), add_questions: dict[str, Sequence[str]] | None = None,
              today: dt.date | None = None) -> list[str]:
        """New entries (``id`` empty: one is made; an existing id: that entry is replaced in place) and
        new phrasings for existing entries; returns the ids written."""
        today_s = (today or dt.date.today()).isoformat()
        with _LOCK:
            kb = self.load()
            paths = {Path(e.path) for e in kb.entries}
            docs: dict[Path, Any] = {p: self._read(p) for p in sorted(self.folder.glob("*.yml"))
                                     if p in paths or p.stem in TOPICS}
            changed: set[Path] = set()
            written: list[str] = []
            ids = set(kb.by_id)
            for eid, questions in (add_questions or {}).items():
                entry = kb.by_id.get(eid)
                if entry is None:
                    raise DataError(f"no entry {eid!r}", field="entry")
                path = Path(entry.path)
                raw = next(r for r in docs[path]["entries"] if r.get("id") == eid)
                have = [str(q) for q in raw["questions"]]
                for q in questions:
                    q = q.strip()
                    if q and q not in have:
                        raw["questions"].append(q)
                        have.append(q)
                raw["updated"] = dt.date.fromisoformat(today_s)
                changed.add(path)
                written.append(eid)
            for d in drafts:
                if d.topic not in TOPICS:
                    raise DataError(f"unknown topic {d.topic!r} (one of {', '.join(TOPICS)})", field="topic")
                eid = d.id or self.new_id(d.topic, d.title, ids)
                ids.add(eid)
                node = self._node(d, eid, today_s)
                old = kb.by_id.get(eid)
                if old is not None:
                    path = Path(old.path)
                    seq = docs[path]["entries"]
                    raw = next(r for r in seq if r.get("id") == eid)
                    if old.topic != d.topic and docs[path].get("topic") != d.topic:
                        node["topic"] = d.topic
                    if _merge(raw, node):            # only what changed: the entry's comments stay
                        changed.add(path)
                    written.append(eid)
                    continue
                else:
                    path = self._topic_file(d.topic, docs)
                    if path not in docs:
                        from ruamel.yaml.comments import CommentedMap, CommentedSeq

                        docs[path] = CommentedMap([("topic", d.topic), ("entries", CommentedSeq())])
                    seq = docs[path]["entries"]
                    if len(seq):
                        seq.yaml_set_comment_before_after_key(len(seq), before="\n", indent=2)
                    seq.append(node)
                changed.add(path)
                written.append(eid)
            self._write_checked(docs, changed)
        return written

    @staticmethod
    def _node(d: EntryDraft, eid: str, today: str) -> Any:
        from ruamel.yaml.comments import CommentedMap

        node = CommentedMap()
        node["id"] = eid
        node["title"] = d.title.strip()
        node["questions"] = [q.strip() for q in d.questions if q.strip()]
        node["answer"] = _literal(d.answer)
        node["updated"] = dt.date.fromisoformat(d.updated or today)
        if d.tags:
            node["tags"] = _flow([t.strip() for t in d.tags if t.strip()])
        return node

    def _dump(self, data: Any) -> str:
        buf = io.StringIO()
        _yaml().dump(data, buf)
        return buf.getvalue()

    def _write_checked(self, docs: dict[Path, Any], changed: set[Path]) -> None:
        texts = {p: self._dump(docs[p]) for p in changed}
        with tempfile.TemporaryDirectory(prefix="kb-check-") as tmp:
            scratch = Path(tmp) / "knowledge"
            shutil.copytree(self.folder, scratch)
            for p, text in texts.items():
                (scratch / p.name).write_text(text, encoding="utf-8")
            try:
                load_kb(scratch)
            except KnowledgeError as exc:       # name the real files, not the scratch copy
                raise KnowledgeError([DataError(str(p).replace(str(scratch), str(self.folder)), path=None)
                                      for p in exc.problems]) from None
        for p, text in texts.items():
            tmp_path = p.with_suffix(".yml.tmp")
            tmp_path.write_text(text, encoding="utf-8")
            os.replace(tmp_path, p)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, list) or isinstance(b, list):
        return [str(x) for x in a or []] == [str(x) for x in b or []]
    return str(a if a is not None else "").strip() == str(b if b is not None else "").strip()


def _merge(raw: Any, node: Any) -> bool:
    """Update the entry ``raw`` in place to ``node``; True when anything changed."""
    changed = False
    for key in [k for k in raw if k not in node and k != "topic"]:
        del raw[key]
        changed = True
    for key, value in node.items():
        if key == "updated" or _same(raw.get(key), value):
            continue
        raw[key] = value
        changed = True
    if changed and not _same(raw.get("updated"), node["updated"]):
        raw["updated"] = node["updated"]
    return changed


def append_negatives(path: Path, texts: Iterable[str]) -> int:
    """Out-of-scope questions, one a line: negatives the confidence calibration reads."""
    path.parent.mkdir(parents=True, exist_ok=True)
    have = set(path.read_text(encoding="utf-8").splitlines()) if path.exists() else set()
    new = [t.replace("\n", " ").strip() for t in texts]
    new = [t for t in dict.fromkeys(new) if t and t not in have]
    if new:
        with path.open("a", encoding="utf-8") as fh:
            fh.writelines(t + "\n" for t in new)
    return len(new)
