"""``kb check``'s content checks: one fact written two ways, stale entries, what is still an example.

A fact (``facts.yml``) names its subject with ``about`` words. Every sentence of every answer (a clause:
the text between commas, for ``scope: clause``) that names the subject and states a value of the fact's
kind must state the fact's value, or better reference it as ``{{key}}`` (the placeholder holds no
literal, so it never disagrees):

- ``time``: the time ranges stated must be the fact's ranges (all of them); a lone time (7:00) must fall
  inside one; a fact without ranges (``always``) admits none;
- ``fee``, ``duration``, ``place``, ``phone``: each amount / duration / building / phone (contact key or
  number) stated must be one of the fact's;
- ``list``: the sentence must name every part (channels, steps), or hold the placeholder;
- any kind: ``not`` words beside the subject say the opposite of the fact.

The garbage item table is a set of facts too: a clause naming an item and a category (not negated) must
name the item's category (湿垃圾 = 厨余垃圾, 干垃圾 = 其他垃圾).

A sentence that states the same value literally is a restatement: listed, not an error.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from assistant.knowledge.kb import Entry, Fact, KnowledgeBase

_SENTENCE = re.compile(r"[。！？!?；;\n]+")
_CLAUSE = re.compile(r"[。！？!?；;\n，,]+")
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
_RANGE = re.compile(r"(\d{1,2})[:：](\d{2})\s*(?:[-–—~～至到]|之间到)\s*(?:次日\s*)?(\d{1,2})[:：](\d{2})")
_TIME = re.compile(r"(?<![\d:：])(\d{1,2})[:：](\d{2})(?!\d)")
_FEE = re.compile(r"(\d+(?:\.\d+)?)\s*元")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(分钟|个小时|小时|个工作日|天|周|个月)")
_PLACE = re.compile(r"(\d+)\s*号楼|(?<![A-Za-z\d])([一二三四五六七八九\d])\s*[层楼](?![道梯上下])")
_NUMERALS = str.maketrans("一二三四五六七八九", "123456789")
_PHONE = re.compile(r"(?<!\d)(?:\d{3,4}-\d{7,8}|1[3-9]\d{9}|\d{5,6})(?!\d)")
_CATEGORY = {"可回收物": "可回收物", "有害垃圾": "有害垃圾", "厨余垃圾": "厨余垃圾", "湿垃圾": "厨余垃圾",
             "其他垃圾": "其他垃圾", "干垃圾": "其他垃圾"}
_CATEGORY_RE = re.compile("|".join(_CATEGORY))
_NEGATION = re.compile(r"(不属于|不是|不算|不要投|不能投|别投|并非|而非|非)\s*$")
# an item put in a category: the item, then within a few characters a verb, then the category
_PUT = re.compile(r"^[^，。；]{0,12}?(投入|投放到|投放|投进|投到|投|扔进|扔到|扔|丢进|丢到|丢|放进|放入|"
                  r"属于|算是|算|是|归)[^，。；]{0,5}?(" + "|".join(_CATEGORY) + ")")
# Dated content: a day of a month, a month of a year, or "this month/season/week", unless said to recur.
_DATED = re.compile(r"(?<![每])(\d{4}\s*年\s*\d{1,2}\s*月|\d{1,2}\s*月\s*\d{1,2}\s*[日号]"
                    r"|本月|本季|本周|这个月|今年|明年)")


@dataclass(frozen=True)
class Finding:
    kind: str          # contradiction | restated | stale | example
    path: str
    line: int
    entry: str
    key: str           # the fact or contact key ("" for stale)
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.path and self.line else self.path
        return " ".join(p for p in (where, f"[{self.key or self.entry}]", self.message) if p)


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)

    def of(self, kind: str) -> list[Finding]:
        return [f for f in self.findings if f.kind == kind]


def _ranges(text: str) -> set[tuple[int, int]]:
    return {(int(a) * 60 + int(b), int(c) * 60 + int(d)) for a, b, c, d in _RANGE.findall(text)}


def _times(text: str) -> set[int]:
    return {int(a) * 60 + int(b) for a, b in _TIME.findall(_RANGE.sub(" ", text))}


def _inside(t: int, rng: tuple[int, int]) -> bool:
    lo, hi = rng
    return lo <= t <= hi if lo <= hi else (t >= lo or t <= hi)   # a range may run past midnight


def _durations(text: str) -> set[str]:
    return {f"{float(n):g}{u.replace('个小时', '小时')}" for n, u in _DURATION.findall(text)}


def _fees(text: str) -> set[str]:
    return {f"{float(n):g}" for n in _FEE.findall(text)}


def _places(text: str) -> set[str]:
    """Buildings (10号楼) and floors (一楼 = 一层 = 1层)."""
    return {f"{b}号楼" if b else f"{f.translate(_NUMERALS)}层" for b, f in _PLACE.findall(text)}


class _Checker:
    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self.report = Report()

    def add(self, kind: str, e: Entry | None, key: str, message: str, path: str = "", line: int = 0) -> None:
        self.report.findings.append(Finding(kind, e.path if e else path, e.line if e else line,
                                            e.id if e else "", key, message))

    def phones(self, text: str) -> set[str]:
        keys = {k for k in _PLACEHOLDER.findall(text) if k in self.kb.contacts and k not in self.kb.facts}
        rendered = _PLACEHOLDER.sub(" ", text)
        return keys | set(_PHONE.findall(rendered))

    def fact_in(self, e: Entry, fact: Fact, piece: str) -> None:
        """One sentence or clause ``piece`` of entry ``e`` that names ``fact``'s subject."""
        bad = [w for w in fact.contradicts if w in piece]
        if bad:
            self.add("contradiction", e, fact.key, f"{fact.kind} fact {{{{{fact.key}}}}} ({fact.value}) is "
                     f"contradicted by {'/'.join(bad)!r} in: {piece.strip()}")
            return
        value = fact.value
        lit = _PLACEHOLDER.sub(" ", piece)   # literals only: a placeholder never disagrees
        said: str | None = None
        same = False
        if fact.kind == "time":
            want, got = _ranges(value), _ranges(lit)
            lone = [t for t in _times(lit) if not any(_inside(t, r) for r in want)] if want else []
            if got and got != want:
                said = "times " + ", ".join(f"{a // 60}:{a % 60:02d}-{b // 60}:{b % 60:02d}" for a, b in sorted(got))
            elif lone:
                said = "time " + ", ".join(f"{t // 60}:{t % 60:02d}" for t in sorted(lone))
            same = bool(got) and got == want
        elif fact.kind in ("fee", "duration", "place"):
            get = {"fee": _fees, "duration": _durations, "place": _places}[fact.kind]
            want_set, got_set = get(self.kb.render(value)), get(lit)
            extra = got_set - want_set
            if extra:
                said = f"{fact.kind} {', '.join(sorted(extra))}"
            same = bool(got_set) and not extra
        elif fact.kind == "phone":
            want_set, got_set = self.phones(value), self.phones(piece)
            extra = got_set - want_set
            if extra:
                said = "phone " + ", ".join(f"{{{{{x}}}}}" if x in self.kb.contacts else x for x in sorted(extra))
            same = bool(got_set) and not extra
        elif fact.kind == "list" and f"{{{{{fact.key}}}}}" not in piece.replace(" ", ""):
            missing = [p for p in fact.parts if not any(w in piece for w in p)]
            if missing:
                said = "a list without " + ", ".join("/".join(p) for p in missing)
            else:
                same = True
        if said:
            self.add("contradiction", e, fact.key, f"states {said} where {fact.kind} fact {{{{{fact.key}}}}} "
                     f"says {value!r}: {piece.strip()}")
        elif same:
            self.add("restated", e, fact.key, f"writes {fact.kind} fact {{{{{fact.key}}}}} out; reference it "
                     f"instead: {piece.strip()}")

    def facts(self, e: Entry) -> None:
        text = f"{e.title}\n{e.answer}"
        for fact in self.kb.facts.values():
            if not fact.about or e.id == f"fact:{fact.key}":
                continue
            splitter = _SENTENCE if fact.scope == "sentence" or fact.kind == "list" else _CLAUSE
            pieces = splitter.split(text)
            if fact.kind == "list" or fact.scope == "sentence":
                pieces = [p for p in pieces if p]
            for piece in pieces:
                if any(w in piece for w in fact.about) and (not fact.when or any(w in piece for w in fact.when)):
                    self.fact_in(e, fact, piece)

    def items(self, e: Entry) -> None:
        table = self.kb.items
        if table is None:
            return
        names = sorted(((n, it) for it in table.items for n in (it.name, *it.aliases)), key=lambda x: -len(x[0]))
        for clause in _SENTENCE.split(e.answer):
            if not _CATEGORY_RE.search(clause):
                continue
            taken = clause
            for name, item in names:     # longest first; a name inside a longer one is not that item
                at = taken.find(name)
                if at < 0:
                    continue
                taken = taken.replace(name, "＿" * len(name))
                m = _PUT.match(clause[at + len(name):])
                if not m or _NEGATION.search(clause[:at + len(name) + m.start(2)]):
                    continue
                said, table_says = _CATEGORY[m.group(2)], _CATEGORY.get(item.category)   # 干垃圾 = 其他垃圾
                if table_says and said != table_says:
                    self.add("contradiction", e, f"item:{item.name}",
                             f"puts {name} in {m.group(2)} where the item table says "
                             f"{item.category} ({table.path}:{item.line}): {clause.strip()}")

    def dated(self, e: Entry, today: dt.date) -> None:
        if e.valid_until and e.valid_until < today.isoformat():
            self.add("stale", e, "", f"past its valid_until {e.valid_until}: not answered")
        elif e.valid_from and e.valid_from > today.isoformat():
            return                                  # announced ahead: fine, answered from valid_from
        elif not e.valid_until:
            m = _DATED.search(f"{e.title}\n{e.answer}")
            if m:
                self.add("stale", e, "", f"dated content {m.group(0)!r} without valid_until: state a recurring "
                         "rule, or give valid_from/valid_until")


def check(kb: KnowledgeBase, today: dt.date | None = None) -> Report:
    """Contradictions, restatements, stale entries and examples still to replace."""
    today = today or dt.date.today()
    chk = _Checker(kb)
    for e in [*kb.entries, *kb.stale]:
        chk.dated(e, today)
        chk.facts(e)
        chk.items(e)
    for fact in kb.facts.values():          # a fact must agree with the other facts and the item table
        probe = Entry(id=f"fact:{fact.key}", topic="", title="", questions=(), answer=fact.value, updated="",
                      path=fact.path, line=fact.line)
        chk.facts(probe)
        chk.items(probe)
    for key in sorted(kb.examples):
        f = kb.facts.get(key)
        chk.add("example", None, key, f"{{{{{key}}}}} is still an example: {kb.contacts[key]}",
                path=kb.where.get(key, ""), line=f.line if f else 0)
    for e in kb.entries:
        if e.example:
            chk.add("example", e, "", "entry marked example: true (residents are told it is an example)")
    return chk.report
