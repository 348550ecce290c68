"""``python -m assistant eval``: route/topic accuracy and latency on a cases file."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.cli.common import dump

if TYPE_CHECKING:
    from assistant.settings import Settings


def add_parser(sub: Any) -> argparse.ArgumentParser:
    e = sub.add_parser("eval", help="route/topic accuracy and latency on a cases file")
    e.add_argument("cases", type=Path)
    e.add_argument("--json", action="store_true")
    e.set_defaults(run=run)
    return e


def run(args: argparse.Namespace, settings: Settings) -> int:
    from rich.console import Console
    from rich.progress import Progress

    from assistant.devtools.evaluate import load_cases
    from assistant.devtools.evaluate import run as run_cases
    from assistant.runtime.app import open_assistant, scratch_settings
    from assistant.runtime.services import Services

    cases = load_cases(args.cases)
    settings = scratch_settings(settings, Services(settings).rasa_up())
    with open_assistant(settings) as bot:
        if args.json:
            report = run_cases(cases, bot.ask)
        else:
            with Progress(console=Console(stderr=True)) as bar:
                task = bar.add_task("eval", total=len(cases))
                report = run_cases(cases, bot.ask, lambda i: bar.update(task, completed=i))
    metrics = report.metrics()
    if args.json:
        print(dump(metrics))
    else:
        print_metrics(metrics)
    return 0


def print_metrics(m: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console()
    con.print(f"cases {m['cases']}  route accuracy [bold]{m['route_accuracy']:.3f}[/]  "
              f"topic accuracy [bold]{m['topic_accuracy']:.3f}[/] (on {m['topic_cases']})  "
              f"out-of-scope answered {m['out_of_scope_answered']:.3f} (of {m['out_of_scope_cases']})  "
              f"latency p50 {m['latency_ms']['p50']} ms  p95 {m['latency_ms']['p95']} ms")
    t = Table("route", "precision", "recall", "support", title="per route")
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
            t.add_row(str(e["line"]), e["text"][:40], "/".join(e["expected"]) + " " + "/".join(e["expected_topic"]),
                      f"{e['route']} {e['topic'] or ''} ({e['intent']})")
        con.print(t)
