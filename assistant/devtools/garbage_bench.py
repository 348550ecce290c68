"""``python -m assistant bench garbage [CORPUS]``: the item table on the compound-name corpus.

Each corpus name is asked three ways ("X是什么垃圾", "X怎么扔", "请问X应该扔哪个桶"). A misfire is an
answer with the wrong category, or any item for a name the table does not list (expect: unknown); a
miss is no item for a name the table lists. Beside the word matcher, the old rule (the longest name
contained in the message as a substring) on the same table shows what whole-word matching changes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.errors import DataError
from assistant.knowledge.garbage import Item, ItemMatcher, ItemTable
from assistant.text.yamlfile import LINE, read_yaml

ASKED = ("{}是什么垃圾", "{}怎么扔", "请问{}应该扔哪个桶")


@dataclass(frozen=True)
class Compound:
    name: str
    expect: str          # a category, or "unknown"
    line: int


def load_corpus(path: Path, table: ItemTable) -> list[Compound]:
    data = read_yaml(path)
    rows = data.get("compounds") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        raise DataError("expected a list under compounds:", path=str(path), line=1, field="compounds")
    known = {*table.categories, "unknown"}
    out = []
    for i, row in enumerate(rows):
        line = row.get(LINE) if isinstance(row, dict) else None
        if not isinstance(row, dict) or not str(row.get("name") or "").strip():
            raise DataError(f"compound #{i + 1}: needs a name", path=str(path), line=line, field="name")
        if row.get("expect") not in known:
            raise DataError(f"compound {row['name']!r}: expect must be one of {', '.join(sorted(known))}",
                            path=str(path), line=line, field="expect")
        out.append(Compound(str(row["name"]).strip(), str(row["expect"]), int(line or 0)))
    return out


def longest_substring(table: ItemTable) -> Any:
    """The rule the table used before issue #15: the longest name found anywhere in the message."""
    names = sorted(((n, it) for it in table.items for n in (it.name, *it.aliases)), key=lambda p: -len(p[0]))

    def find(text: str) -> Item | None:
        return next((it for n, it in names if n in text), None)
    return find


def score(find: Any, corpus: list[Compound]) -> dict[str, Any]:
    misfires, misses, seconds = [], 0, []
    for row in corpus:
        for template in ASKED:
            text = template.format(row.name)
            start = time.perf_counter()
            item = find(text)
            seconds.append(time.perf_counter() - start)
            got = item.category if item is not None else "unknown"
            if got == row.expect:
                continue
            if item is None:
                misses += 1
            else:
                misfires.append({"text": text, "expect": row.expect, "got": f"{item.name} ({item.category})",
                                 "line": row.line})
    seconds.sort()
    return {"asked": len(seconds), "misfires": len(misfires), "misses": misses,
            "p50_ms": round(1000 * seconds[len(seconds) // 2], 3),
            "p95_ms": round(1000 * seconds[int(len(seconds) * 0.95)], 3), "examples": misfires[:10]}


def bench(table: ItemTable, corpus_path: Path) -> dict[str, Any]:
    corpus = load_corpus(corpus_path, table)
    matcher = ItemMatcher(table)
    start = time.perf_counter()
    matcher.lookup("预热")
    load_s = time.perf_counter() - start
    return {"items": len(table.items), "names": sum(1 + len(it.aliases) for it in table.items),
            "corpus": len(corpus), "unknown_in_corpus": sum(r.expect == "unknown" for r in corpus),
            "matcher_load_s": round(load_s, 2),
            "words": score(matcher.find, corpus), "substring": score(longest_substring(table), corpus)}


def format_report(r: dict[str, Any]) -> str:
    lines = [f"item table: {r['items']} items, {r['names']} names and aliases; matcher loads in "
             f"{r['matcher_load_s']} s",
             f"compound corpus: {r['corpus']} names ({r['unknown_in_corpus']} not in the table), asked 3 ways each",
             f"{'rule':<28}{'asked':>7}{'misfires':>10}{'misses':>8}{'p50 ms':>9}{'p95 ms':>9}"]
    for key, label in (("words", "jieba words (this table)"), ("substring", "longest substring (old)")):
        s = r[key]
        lines.append(f"{label:<28}{s['asked']:>7}{s['misfires']:>10}{s['misses']:>8}{s['p50_ms']:>9}{s['p95_ms']:>9}")
    for key in ("words", "substring"):
        for ex in r[key]["examples"][:5]:
            lines.append(f"  {key} misfire (line {ex['line']}): {ex['text']} -> {ex['got']}, expected {ex['expect']}")
    return "\n".join(lines)
