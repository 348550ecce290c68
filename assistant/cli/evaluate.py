"""``python -m assistant eval FILE [FILE ...]``: single-turn cases and multi-turn dialogues against the
real servers: route/topic accuracy, turn accuracy, dialogue success, calibration and latency."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.cli.common import dump

if TYPE_CHECKING:
    from assistant.settings import Settings


def add_parser(sub: Any) -> argparse.ArgumentParser:
    e = sub.add_parser("eval", help="accuracy, dialogue success, calibration and latency on eval files")
    e.add_argument("files", type=Path, nargs="+", metavar="FILE",
                   help="YAML with `cases:` (single turns) and/or `dialogues:` (multi-turn)")
    e.add_argument("--json", action="store_true", help="one JSON object: the single-turn metrics at the top, "
                                                         "`dialogue` and per-file figures under `files`")
    e.add_argument("--replies", action="store_true", help="print what the bot said on each missed dialogue turn")
    e.set_defaults(run=run)
    return e


def run(args: argparse.Namespace, settings: Settings) -> int:
    from rich.console import Console
    from rich.progress import Progress, TaskID

    from assistant.devtools.evaluate import DialogueReport, Report, load_eval_file, run_dialogues
    from assistant.devtools.evaluate import run as run_cases
    from assistant.runtime.app import open_assistant, scratch_settings
    from assistant.runtime.services import Services

    files = [load_eval_file(p) for p in args.files]     # a bad file stops here, before any server starts
    settings = scratch_settings(settings, Services(settings).rasa_up())
    per_file = []
    with open_assistant(settings) as bot, Progress(console=Console(stderr=True), disable=args.json) as bar:
        for f in files:
            task = bar.add_task(f.path.name, total=len(f.cases) + len(f.dialogues))

            def done(i: int, task: TaskID = task) -> None:
                bar.update(task, completed=i)

            def done_dialogues(i: int, task: TaskID = task, before: int = len(f.cases)) -> None:
                bar.update(task, completed=before + i)

            single = run_cases(f.cases, bot.ask, done)
            dialogues = run_dialogues(f.dialogues, bot.ask, done_dialogues)
            per_file.append((f, single, dialogues))
    metrics = Report([o for _, s, _ in per_file for o in s.outcomes]).metrics()
    metrics["dialogue"] = DialogueReport([r for _, _, d in per_file for r in d.results]).metrics()
    metrics["files"], metrics["errors"], metrics["dialogue"]["failures"] = [], [], []
    for f, s, d in per_file:     # misses and failures named by file and line
        sm, dm = s.metrics(), d.metrics()
        metrics["errors"] += [e | {"file": str(f.path)} for e in sm["errors"]]
        metrics["dialogue"]["failures"] += [e | {"file": str(f.path)} for e in dm["failures"]]
        metrics["files"].append({"path": str(f.path), "cases": len(f.cases), "dialogues": len(f.dialogues),
                                 **({"single": _headline(sm)} if f.cases else {}),
                                 **({"dialogue": _dialogue_headline(dm)} if f.dialogues else {})})
    if args.json:
        print(dump(metrics))
    else:
        print_metrics(metrics, replies=args.replies)
    return 0


def _headline(m: dict[str, Any]) -> dict[str, Any]:
    entry = {"entry": {k: v for k, v in m["entry"].items() if k != "errors"}} if m.get("entry") else {}
    return {k: m[k] for k in ("cases", "route_accuracy", "topic_accuracy", "topic_cases", "out_of_scope_answered",
                              "out_of_scope_cases")} | {"ece": m["calibration"]["ece"]} | entry


def _dialogue_headline(m: dict[str, Any]) -> dict[str, Any]:
    return {k: m[k] for k in ("dialogues", "dialogue_success", "turns", "turn_accuracy", "errored")} | {
        "ece": m["calibration"]["ece"]}


def _f(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


def print_metrics(m: dict[str, Any], *, replies: bool = False) -> None:
    import sys

    from rich.console import Console
    from rich.table import Table

    con = Console(width=None if sys.stdout.isatty() else 160)     # piped to a file: wide rows, not wrapped
    if len(m["files"]) > 1:
        t = Table("file", "cases", "route", "topic", "oos answered", "dialogues", "success", "turns", "turn acc",
                  title="per file")
        for f in m["files"]:
            s, d = f.get("single", {}), f.get("dialogue", {})
            t.add_row(Path(f["path"]).name, str(f["cases"]), _f(s.get("route_accuracy")),
                      _f(s.get("topic_accuracy")), _f(s.get("out_of_scope_answered")), str(f["dialogues"]),
                      _f(d.get("dialogue_success")), str(d.get("turns", 0)), _f(d.get("turn_accuracy")))
        con.print(t)
    if m["cases"]:
        con.print(f"single turns: cases {m['cases']}  route accuracy [bold]{_f(m['route_accuracy'])}[/]  "
                  f"topic accuracy [bold]{_f(m['topic_accuracy'])}[/] (on {m['topic_cases']})  "
                  f"out-of-scope answered {_f(m['out_of_scope_answered'])} (of {m['out_of_scope_cases']})  "
                  f"latency p50 {m['latency_ms']['p50']} ms  p95 {m['latency_ms']['p95']} ms")
    per_file: list[dict[str, Any]] = m["files"] if len(m["files"]) > 1 else [{"path": "", "single": m}]
    for f in per_file:
        e = (f.get("single") or {}).get("entry")
        if e:
            con.print(f"entries{' in ' + Path(f['path']).name if f['path'] else ''}: answerable {e['answerable']}  "
                      f"top-1 [bold]{_f(e['top1_accuracy'])}[/]  answered {_f(e['answered'])}  wrong when answered "
                      f"[bold]{_f(e['wrong_when_answered'])}[/] (sure {_f(e['wrong_when_sure'])})  answer confidence "
                      f"AUC {_f(e['answer_confidence_auc'])}  unanswerable {e['unanswerable']}, answered "
                      f"{_f(e['unanswerable_answered'])}")
    d = m["dialogue"]
    if d["dialogues"]:
        con.print(f"dialogues: {d['dialogues']}  dialogue success [bold]{_f(d['dialogue_success'])}[/]  "
                  f"turns {d['turns']}  turn accuracy [bold]{_f(d['turn_accuracy'])}[/]  errored {d['errored']}  "
                  + "  ".join(f"{k} {_f(v['accuracy'])} (of {v['checked']})" for k, v in d["per_key"].items()))
    for what, cal in (("single turns", m["calibration"]), ("dialogue turns", d["calibration"])):
        if cal["scored"]:
            con.print(f"calibration of `confidence` vs route correctness, {what}: ECE [bold]{_f(cal['ece'])}[/] "
                      f"on {cal['scored']} (no confidence: {cal['unscored']})  bins "
                      + " ".join(f"[{b['lo']:.1f},{b['hi']:.1f}) n={b['count']} conf={_f(b['mean_confidence'])} "
                                 f"acc={_f(b['accuracy'])}" for b in cal["bins"] if b["count"]))
    if m["cases"]:
        t = Table("route", "precision", "recall", "support", title="per route (single turns)")
        for r, v in m["per_route"].items():
            t.add_row(r, str(v["precision"]), str(v["recall"]), str(v["support"]))
        con.print(t)
    if m["confusions"]:
        t = Table("expected", "got", "count", title="confusions")
        for c in m["confusions"]:
            t.add_row(c["expected"], c["got"], str(c["count"]))
        con.print(t)
    if m["errors"]:
        t = Table("line", "text", "expected", "got", title="misses")
        for e in m["errors"]:
            t.add_row(f"{Path(e['file']).name}:{e['line']}", e["text"][:40],
                      "/".join(e["expected"]) + " " + "/".join(e["expected_topic"]),
                      f"{e['route']} {e['topic'] or ''} ({e['intent']})")
        con.print(t)
    if d["failures"]:
        t = Table("dialogue", "line", "turn", "text", "failed", "got", title="dialogue turns missed")
        for e in d["failures"]:
            t.add_row(e["dialogue"], f"{Path(e['file']).name}:{e['line']}", str(e["turn"]), e["text"][:30],
                      "; ".join(e["failed"]),
                      f"{e['route']} {e['topic'] or ''}")
        con.print(t)
    if replies and d["failures"]:       # the whole turn, to classify each miss
        for e in d["failures"]:
            con.print(f"{e['dialogue']} {Path(e['file']).name}:{e['line']} turn {e['turn']} "
                      f"intent={e['intent']} route={e['route']} topic={e['topic']} failed: {'; '.join(e['failed'])}\n"
                      f"  > {e['text']}\n" + "\n".join(f"  < {r}" for r in e["replies"]), markup=False)
