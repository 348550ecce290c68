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
_ENTRY_FIELDS = {"id", "title", "questions", "answer", "updated", "tags", "topic", "valid_from", "valid_until",
                 "example"}
_FACT_FIELDS = {"value", "kind", "about", "when", "parts", "not", "scope", "example", "note"}
FACT_KINDS = ("text", "time", "fee", "duration", "place", "phone", "list")
# An invented detail (example: true) is said to be one, until the estate replaces it and drops the mark.
EXAMPLE_NOTE = "（以上商户等信息为示例，物业尚未核实，请以实际为准。）"
# A contact or fact value still holding this text is a placeholder the estate has to replace.
PLACEHOLDER_MARK = "待管理员替换"


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
    valid_from: str = ""     # ISO dates; empty: no bound
    valid_until: str = ""
    example: bool = False    # invented detail: answered with EXAMPLE_NOTE until replaced

    def current(self, today: dt.date) -> bool:
        """Whether the entry may be answered as current on ``today``."""
        day = today.isoformat()
        return (not self.valid_from or self.valid_from <= day) and (not self.valid_until or day <= self.valid_until)

    @property
    def content_hash(self) -> str:
        blob = json.dumps([self.topic, self.title, self.questions, self.answer, self.tags],
                          ensure_ascii=False)
        return hashlib.sha1(blob.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Fact:
    """A named value declared once in a facts file and referenced from answers as ``{{key}}``.

    ``about``: words naming the fact's subject; a sentence (or clause) of an answer that names one of them
    and also states a value of the fact's ``kind`` must state this one (see ``consistency.py``)."""

    key: str
    value: str
    kind: str = "text"
    about: tuple[str, ...] = ()
    when: tuple[str, ...] = ()                    # and one of these words too
    parts: tuple[tuple[str, ...], ...] = ()       # kind list: every part (one of its words) must be named
    contradicts: tuple[str, ...] = ()             # words that, beside ``about``, say the opposite
    scope: str = "clause"                         # clause | sentence
    example: bool = False
    path: str = ""
    line: int = 0


@dataclass
class KnowledgeBase:
    entries: list[Entry]
    items: ItemTable | None = None
    contacts: dict[str, str] = field(default_factory=dict)   # every {{key}}: contacts and facts
    root: str = ""
    facts: dict[str, Fact] = field(default_factory=dict)
    stale: list[Entry] = field(default_factory=list)          # outside valid_from..valid_until: not answered
    examples: set[str] = field(default_factory=set)           # contact/fact keys still examples
    where: dict[str, str] = field(default_factory=dict)       # contact/fact key -> the file declaring it

    def __post_init__(self) -> None:
        self.by_id = {e.id: e for e in self.entries}

    def render(self, text: str) -> str:
        """Fill ``{{key}}`` placeholders (contacts and facts; a fact may hold contacts)."""
        for _ in range(3):
            new = _PLACEHOLDER.sub(lambda m: self.contacts.get(m.group(1), m.group(0)), text)
            if new == text:
                break
            text = new
        return text


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
        bounds: dict[str, str] = {}
        for key in ("valid_from", "valid_until"):
            if raw.get(key) is not None:
                day = _date(raw.get(key))
                if day is None:
                    self.bad(f"{label}: {key} must be a date like 2026-12-31", path, line, key)
                    ok = False
                else:
                    bounds[key] = day
        if bounds.get("valid_from", "") > bounds.get("valid_until", "9999"):
            self.bad(f"{label}: valid_from is after valid_until", path, line, "valid_until")
            ok = False
        example = raw.get("example", False)
        if not isinstance(example, bool):
            self.bad(f"{label}: example must be true or false", path, line, "example")
            ok = False
        # ok covers every check; the isinstance/None tests repeat them for the type checker
        if (not ok or not isinstance(eid, str) or not isinstance(topic, str) or not isinstance(title, str)
                or not questions or not isinstance(answer, str) or updated is None or tags is None):
            return None
        body = answer.strip()
        if example is True and EXAMPLE_NOTE not in body:
            body += "\n" + EXAMPLE_NOTE
        return Entry(id=eid, topic=topic, title=title.strip(), questions=questions,
                     answer=body, updated=updated, tags=tags or (),
                     path=str(path), line=line or 0, valid_from=bounds.get("valid_from", ""),
                     valid_until=bounds.get("valid_until", ""), example=example is True)

    def value(self, key: str, raw: Any, path: Path, what: str) -> tuple[str, bool, int | None] | None:
        """A contact or a shorthand fact: ``key: text`` or ``key: {value: text, example: true}``."""
        if isinstance(raw, dict):
            line = raw.get(LINE)
            for k in sorted(set(raw) - {"value", "example", "note", LINE}):
                self.bad(f"{what} {key!r}: unknown field {k!r}", path, line, str(k))
            val, example = raw.get("value"), raw.get("example", False)
            if not isinstance(val, (str, int)) or not str(val).strip() or not isinstance(example, bool):
                self.bad(f"{what} {key!r}: needs a value (text) and example true/false", path, line, key)
                return None
            return str(val).strip(), example, line
        if isinstance(raw, (str, int)) and str(raw).strip():
            return str(raw).strip(), False, None
        self.bad(f"{what} {key!r}: needs a value", path, None, key)
        return None

    def fact(self, key: str, raw: Any, path: Path, line0: int | None) -> Fact | None:
        if not isinstance(raw, dict) or "kind" not in raw:
            got = self.value(key, raw, path, "fact")
            return Fact(key=key, value=got[0], example=got[1], path=str(path), line=got[2] or line0 or 0) \
                if got else None
        line = raw.get(LINE)
        ok = True
        for k in sorted(set(raw) - _FACT_FIELDS - {LINE}):
            self.bad(f"fact {key!r}: unknown field {k!r}", path, line, str(k))
            ok = False
        kind, val = raw.get("kind"), raw.get("value")
        if kind not in FACT_KINDS:
            self.bad(f"fact {key!r}: unknown kind {kind!r} (one of {', '.join(FACT_KINDS)})", path, line, "kind")
            ok = False
        if not isinstance(val, (str, int)) or not str(val).strip():
            self.bad(f"fact {key!r}: missing value", path, line, "value")
            ok = False
        lists: dict[str, tuple[str, ...]] = {}
        for k in ("about", "when", "not"):
            words = _strs(raw.get(k, [])) if raw.get(k) is not None else ()
            if words is None:
                self.bad(f"fact {key!r}: {k} must be a list of words", path, line, k)
                ok = False
            lists[k] = words or ()
        parts: list[tuple[str, ...]] = []
        for part in raw.get("parts") or []:
            alts = _strs(part) if isinstance(part, list) else _strs([part])
            if not alts:
                self.bad(f"fact {key!r}: parts must be words or lists of words", path, line, "parts")
                ok = False
            else:
                parts.append(alts)
        if kind != "text" and not lists["about"]:
            self.bad(f"fact {key!r}: a {kind} fact needs about: words naming its subject", path, line, "about")
            ok = False
        if kind == "list" and not parts:
            self.bad(f"fact {key!r}: a list fact needs parts", path, line, "parts")
            ok = False
        scope = raw.get("scope", "clause")
        if scope not in ("clause", "sentence"):
            self.bad(f"fact {key!r}: scope is clause or sentence", path, line, "scope")
            ok = False
        example = raw.get("example", False)
        if not isinstance(example, bool):
            self.bad(f"fact {key!r}: example must be true or false", path, line, "example")
            ok = False
        if not ok:
            return None
        return Fact(key=key, value=str(val).strip(), kind=str(kind), about=lists["about"], when=lists["when"],
                    parts=tuple(parts), contradicts=lists["not"], scope=str(scope), example=example is True,
                    path=str(path), line=line or 0)

    def items(self, raw: dict[str, Any], path: Path) -> ItemTable | None:
        table = check_table(raw, path, self.bad)
        updated = _date(raw.get("updated"))
        if updated is None:
            self.bad("updated must be a date", path, raw.get(LINE), "updated")
        if table is not None:
            table.updated = updated or ""
        return table


def load(root: str | Path, today: dt.date | None = None) -> KnowledgeBase:
    """Load every ``*.yml`` under ``root``; raise KnowledgeError listing all problems.

    Entries outside their ``valid_from``..``valid_until`` on ``today`` (default: the local date) go to
    ``stale``, never to ``entries``: they are not indexed nor answered."""
    root = Path(root)
    today = today or dt.date.today()
    if not root.is_dir():
        raise KnowledgeError([DataError("knowledge folder not found", path=str(root))])
    chk = _Checker()
    entries: list[Entry] = []
    table: ItemTable | None = None
    contacts: dict[str, str] = {}
    facts: dict[str, Fact] = {}
    examples: set[str] = set()
    where: dict[str, str] = {}
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
                for k, v in raw.items():
                    got = chk.value(str(k), v, path, "contact") if k != LINE else None
                    if got:
                        contacts[str(k)] = got[0]
                        where[str(k)] = str(path)
                        if got[1] or PLACEHOLDER_MARK in got[0]:
                            examples.add(str(k))
        elif "facts" in data:
            raw = data["facts"]
            if not isinstance(raw, dict):
                chk.bad("facts must be a mapping of key: value", path, data.get(LINE), "facts")
            else:
                for k, v in raw.items():
                    fact = chk.fact(str(k), v, path, raw.get(LINE)) if k != LINE else None
                    if fact:
                        if fact.key in facts:
                            chk.bad(f"fact {fact.key!r} declared twice", path, fact.line, fact.key)
                        facts[fact.key] = fact
                        if fact.example or PLACEHOLDER_MARK in fact.value:
                            examples.add(fact.key)
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
            chk.bad("expected one of the keys entries, items, facts or contacts", path, 1)
    for key in sorted(set(facts) & set(contacts)):
        chk.bad(f"{{{{{key}}}}} is both a contact and a fact", Path(facts[key].path), facts[key].line, key)
    values = {**contacts, **{k: f.value for k, f in facts.items()}}
    for key, fact in sorted(facts.items()):
        for ref in _PLACEHOLDER.findall(fact.value):
            if ref not in contacts:
                chk.bad(f"fact {key!r}: placeholder {{{{{ref}}}}} is not a contact", Path(fact.path), fact.line,
                        "value")

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
        for key in _PLACEHOLDER.findall(e.answer + e.title):
            if key not in values:
                chk.bad(f"entry {e.id!r}: placeholder {{{{{key}}}}} is not in contacts or facts", Path(e.path),
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
    return KnowledgeBase(entries=[e for e in entries if e.current(today)], items=table, contacts=values,
                         root=str(root), facts=facts, stale=[e for e in entries if not e.current(today)],
                         examples=examples, where={**where, **{k: f.path for k, f in facts.items()}})
