"""``bench moderation FILE``: precision, recall and F1 of the moderation flag, per kind, with the misses.

The file (any file of this format)::

    messages:
    - {text: "...", flag: true, kind: wechat_id}    # flag true: the group rules forbid it
    - {text: "...", flag: false, kind: lookalike}

A message is flagged when the moderator does anything but let it through (a warning, a strike,
a fraud warning, or hiding personal data). Every message comes from its own sender, so strikes and
flooding do not carry over from one line to the next.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.errors import DataError
from assistant.moderation import Message, Moderator, load_config
from assistant.text.yamlfile import LINE, read_yaml

UNKINDED = "-"


@dataclass(frozen=True)
class Item:
    text: str
    flag: bool
    kind: str
    line: int


@dataclass(frozen=True)
class Result:
    item: Item
    flagged: bool
    rules: tuple[str, ...]
    score: float | None       # the disguised-ad score (ad.solicit), when that rule is on


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, expected: bool, got: bool) -> None:
        if expected and got:
            self.tp += 1
        elif got:
            self.fp += 1
        elif expected:
            self.fn += 1
        else:
            self.tn += 1

    def figures(self) -> dict[str, Any]:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else None
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else None
        f1 = 2 * p * r / (p + r) if p is not None and r is not None and p + r else (0.0 if p == 0 or r == 0 else None)
        return {"n": self.tp + self.fp + self.fn + self.tn, "flag_true": self.tp + self.fn,
                "tp": self.tp, "fp": self.fp, "fn": self.fn, "tn": self.tn,
                "accuracy": _round((self.tp + self.tn) / max(1, self.tp + self.fp + self.fn + self.tn)),
                "precision": _round(p), "recall": _round(r), "f1": _round(f1)}


@dataclass
class BenchReport:
    path: str
    results: list[Result] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        total = Counts()
        kinds: dict[str, Counts] = {}
        for r in self.results:
            total.add(r.item.flag, r.flagged)
            kinds.setdefault(r.item.kind, Counts()).add(r.item.flag, r.flagged)
        wrong = [r for r in self.results if r.flagged != r.item.flag]
        return {"file": self.path, **total.figures(),
                "kinds": {k: kinds[k].figures() for k in sorted(kinds)},
                "misses": [{"line": r.item.line, "kind": r.item.kind, "expected": r.item.flag, "flagged": r.flagged,
                            "rules": list(r.rules), "score": r.score, "text": r.item.text} for r in wrong]}


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def load_items(path: Path) -> list[Item]:
    """The messages of a bench file; a bad file or item raises ``DataError`` naming the file, line and field."""
    raw = read_yaml(path)
    if not isinstance(raw, dict) or not isinstance(raw.get("messages"), list):
        raise DataError("the file must be a mapping with a list under 'messages'", path=str(path), line=1,
                        field="messages")
    items, problems = [], []
    for i, node in enumerate(raw["messages"]):
        where = f"messages[{i}]"
        if not isinstance(node, dict):
            problems.append(DataError("must be a mapping {text, flag, kind}", path=str(path), field=where))
            continue
        line = int(node.get(LINE, 0))
        text, flag, kind = node.get("text"), node.get("flag"), node.get("kind", UNKINDED)
        if not isinstance(text, str) or not text.strip():
            problems.append(DataError("text must be a non-empty string", path=str(path), line=line,
                                      field=f"{where}.text"))
        elif not isinstance(flag, bool):
            problems.append(DataError("flag must be true or false", path=str(path), line=line, field=f"{where}.flag"))
        elif not isinstance(kind, (str, int)) or isinstance(kind, bool):
            problems.append(DataError("kind must be a word", path=str(path), line=line, field=f"{where}.kind"))
        else:
            items.append(Item(text, flag, str(kind), line))
    if problems:
        raise DataError(f"{len(problems)} problem(s):\n" + "\n".join(f"  {p}" for p in problems), path=str(path))
    if not items:
        raise DataError("no messages", path=str(path), field="messages")
    return items


def run(items: list[Item], moderator: Callable[[], Moderator] | None = None, path: str = "") -> BenchReport:
    mod = (moderator or Moderator)()
    report = BenchReport(path)
    for i, item in enumerate(items):
        d = mod.check(Message(f"bench-{i}", "bench", item.text))
        score = mod.explain(item.text)
        report.results.append(Result(item, not d.allowed, d.rules, score.score if score else None))
    return report


def bench(path: Path, rules: Path | None = None) -> BenchReport:
    config = load_config(rules)
    return run(load_items(path), lambda: Moderator(config), str(path))


def sweep(report: BenchReport, thresholds: list[float]) -> list[dict[str, Any]]:
    """Precision/recall/F1 of the flag had ``ad.solicit`` used each threshold (other rules as they are)."""
    out = []
    for t in thresholds:
        c = Counts()
        for r in report.results:
            others = any(rule != "ad.solicit" for rule in r.rules)
            c.add(r.item.flag, others or (r.score is not None and r.score >= t))
        out.append({"threshold": t, **{k: v for k, v in c.figures().items() if k in ("precision", "recall", "f1")}})
    return out


def summary_with_sweep(report: BenchReport) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    return report.summary(), sweep(report, [round(0.4 + 0.1 * i, 2) for i in range(15)])


def format_report(summary: dict[str, Any], swept: list[dict[str, Any]] | None = None) -> str:
    def num(x: Any) -> str:
        return "   -" if x is None else f"{x:.3f}"

    lines = [f"moderation bench: {summary['file']}",
             f"all: n={summary['n']} flag_true={summary['flag_true']} precision={num(summary['precision'])} "
             f"recall={num(summary['recall'])} f1={num(summary['f1'])} (tp={summary['tp']} fp={summary['fp']} "
             f"fn={summary['fn']} tn={summary['tn']})",
             "(per kind: precision/recall of the flag; accuracy = share right, the figure for innocent kinds)", "",
             f"{'kind':<20}{'n':>5}{'true':>6}{'tp':>5}{'fp':>5}{'fn':>5}{'precision':>11}{'recall':>8}{'f1':>8}"
             f"{'accuracy':>10}"]
    for kind, f in summary["kinds"].items():
        lines.append(f"{kind:<20}{f['n']:>5}{f['flag_true']:>6}{f['tp']:>5}{f['fp']:>5}{f['fn']:>5}"
                     f"{num(f['precision']):>11}{num(f['recall']):>8}{num(f['f1']):>8}{num(f['accuracy']):>10}")
    if swept:
        lines += ["", "ad.solicit threshold sweep (other rules unchanged):"]
        lines += [f"  {s['threshold']:.2f}  precision={num(s['precision'])} recall={num(s['recall'])} f1={num(s['f1'])}"
                  for s in swept]
    misses = summary["misses"]
    lines += ["", f"misses ({len(misses)}):" if misses else "misses: none"]
    for m in misses:
        what = "missed" if m["expected"] else f"false alarm ({', '.join(m['rules'])})"
        score = "" if m["score"] is None else f" score={m['score']:.2f}"
        lines.append(f"  line {m['line']}: [{m['kind']}] {what}{score}: {m['text'][:80]}")
    return "\n".join(lines)
