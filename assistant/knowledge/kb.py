"""The estate's knowledge base: YAML files an admin edits, loaded and checked."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.errors import DataError, KnowledgeError
from assistant.knowledge.garbage import CATEGORIES, ItemTable, check_table, stray_bins
from assistant.text.yamlfile import LINE, read_yaml

TOPICS = ("parking", "garbage", "repair", "property", "community", "merchants", "safety")
TOPIC_NAMES = {"parking": "停车", "garbage": "垃圾分类", "repair": "报修维修", "property": "物业服务",
               "community": "社区与群规", "merchants": "周边商家", "safety": "安全防范"}
ITEM_CATEGORIES = CATEGORIES
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,79}$")
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
_ENTRY_FIELDS = {"id", "title", "questions", "answer", "updated", "tags", "topic"}


@dataclass(frozen=True)
class Entry:
    id: str
    topic: str
    title: str
    questions: tuple[str, ...]
    answer: str
    updated: str
    tags: tuple[str, ...] = ()
    path: str = ""
    line: int = 0

    @property
    def content_hash(self) -> str:
        blob = json.dumps([self.topic, self.title, self.questions, self.answer, self.tags],
                          ensure_ascii=False)
        return hashlib.sha1(blob.encode("utf-8")).hexdigest()


@dataclass
class KnowledgeBase:
    entries: list[Entry]
    items: ItemTable | None = None
    contacts: dict[str, str] = field(default_factory=dict)
    root: str = ""

    def __post_init__(self) -> None:
        self.by_id = {e.id: e for e in self.entries}

    def render(self, text: str) -> str:
        """Fill ``{{key}}`` contact placeholders."""
        return _PLACEHOLDER.sub(lambda m: self.contacts.get(m.group(1), m.group(0)), text)


def _date(value: Any) -> str | None:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            return None
    return None


def _strs(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, list) and all(isinstance(v, (str, int)) and str(v).strip() for v in value):
        return tuple(str(v).strip() for v in value)
    return None


class _Checker:
    def __init__(self) -> None:
        self.problems: list[DataError] = []

    def bad(self, msg: str, path: Path, line: int | None, fld: str | None = None) -> None:
        self.problems.append(DataError(msg, path=str(path), line=line, field=fld))

    def entry(self, raw: Any, path: Path, default_topic: str | None, idx: int) -> Entry | None:
        if not isinstance(raw, dict):
            self.bad(f"entry #{idx + 1} is not a mapping", path, None)
            return None
        line = raw.get(LINE)
        eid = raw.get("id")
        label = f"entry {eid!r}" if eid else f"entry #{idx + 1}"
        ok = True
        for key in sorted(set(raw) - _ENTRY_FIELDS - {LINE}):
            self.bad(f"{label}: unknown field {key!r}", path, line, str(key))
            ok = False
        if not isinstance(eid, str) or not _ID.match(eid):
            self.bad(f"{label}: id must be lowercase letters, digits and '-'", path, line, "id")
            ok = False
        topic = raw.get("topic", default_topic)
        if topic not in TOPICS:
            self.bad(f"{label}: unknown topic {topic!r} (one of {', '.join(TOPICS)})", path, line, "topic")
            ok = False
        title = raw.get("title")
        if not isinstance(title, str) or not title.strip():
            self.bad(f"{label}: missing title", path, line, "title")
            ok = False
        questions = _strs(raw.get("questions"))
        if not questions or len(questions) < 2:
            self.bad(f"{label}: needs a list of at least 2 questions", path, line, "questions")
            ok = False
        answer = raw.get("answer")
        if not isinstance(answer, str) or not answer.strip():
            self.bad(f"{label}: missing answer", path, line, "answer")
            ok = False
        updated = _date(raw.get("updated"))
        if updated is None:
            self.bad(f"{label}: updated must be a date like 2026-10-15", path, line, "updated")
            ok = False
        tags = _strs(raw.get("tags", [])) if raw.get("tags") is not None else ()
        if tags is None:
            self.bad(f"{label}: tags must be a list of words", path, line, "tags")
            ok = False
        # ok covers every check; the isinstance/None tests repeat them for the type checker
        if (not ok or not isinstance(eid, str) or not isinstance(topic, str) or not isinstance(title, str)
                or not questions or not isinstance(answer, str) or updated is None or tags is None):
            return None
        return Entry(id=eid, topic=topic, title=title.strip(), questions=questions,
                     answer=answer.strip(), updated=updated, tags=tags or (),
                     path=str(path), line=line or 0)

    def items(self, raw: dict[str, Any], path: Path) -> ItemTable | None:
        table = check_table(raw, path, self.bad)
        updated = _date(raw.get("updated"))
        if updated is None:
            self.bad("updated must be a date", path, raw.get(LINE), "updated")
        if table is not None:
            table.updated = updated or ""
        return table


def load(root: str | Path) -> KnowledgeBase:
    """Load every ``*.yml`` under ``root``; raise KnowledgeError listing all problems."""
    root = Path(root)
    if not root.is_dir():
        raise KnowledgeError([DataError("knowledge folder not found", path=str(root))])
    chk = _Checker()
    entries: list[Entry] = []
    table: ItemTable | None = None
    contacts: dict[str, str] = {}
    files = sorted(p for p in root.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file())
    if not files:
        chk.bad("no .yml files", root, None)
    for path in files:
        try:
            data = read_yaml(path)
        except DataError as exc:
            chk.problems.append(exc)
            continue
        if not isinstance(data, dict):
            chk.bad("top level must be a mapping", path, 1)
            continue
        if "contacts" in data:
            raw = data["contacts"]
            if not isinstance(raw, dict):
                chk.bad("contacts must be a mapping of key: value", path, data.get(LINE), "contacts")
            else:
                contacts.update({str(k): str(v) for k, v in raw.items() if k != LINE})
        elif "items" in data:
            if table is not None:
                chk.bad(f"a second item table (first in {table.path})", path, 1, "items")
            table = chk.items(data, path)
        elif "entries" in data:
            default_topic = data.get("topic")
            raws = data.get("entries")
            if not isinstance(raws, list):
                chk.bad("entries must be a list", path, data.get(LINE), "entries")
                continue
            for i, raw in enumerate(raws):
                entry = chk.entry(raw, path, default_topic, i)
                if entry:
                    entries.append(entry)
        else:
            chk.bad("expected one of the keys entries, items or contacts", path, 1)

    seen: dict[str, Entry] = {}
    titles: dict[str, Entry] = {}
    for e in entries:
        if e.id in seen:
            first = seen[e.id]
            chk.bad(f"duplicate id {e.id!r} (first at {first.path}:{first.line})", Path(e.path), e.line, "id")
        seen.setdefault(e.id, e)
        if e.title in titles:
            first = titles[e.title]
            chk.bad(f"duplicate title {e.title!r} (first at {first.path}:{first.line})",
                    Path(e.path), e.line, "title")
        titles.setdefault(e.title, e)
        for key in _PLACEHOLDER.findall(e.answer):
            if key not in contacts:
                chk.bad(f"entry {e.id!r}: placeholder {{{{{key}}}}} is not in contacts", Path(e.path),
                        e.line, "answer")
    if table:
        for cat, info in table.categories.items():
            if info.entry and info.entry not in seen:
                chk.bad(f"category {cat!r} points at unknown entry {info.entry!r}", Path(table.path), None,
                        "entry")
        for e in entries:           # the garbage entries name the table's bins, never the national colours
            if e.topic == table.topic:
                for colour in stray_bins(f"{e.title} {e.answer} {' '.join(e.questions)} {' '.join(e.tags)}", table):
                    chk.bad(f"entry {e.id!r} names {colour!r}, not a bin of the item table "
                            f"({', '.join(sorted(table.bins()))})", Path(e.path), e.line, "answer")
        if table.id in seen:
            chk.bad(f"item table id {table.id!r} is also an entry id", Path(table.path), 1, "id")
    if chk.problems:
        raise KnowledgeError(chk.problems)
    return KnowledgeBase(entries=entries, items=table, contacts=contacts, root=str(root))
