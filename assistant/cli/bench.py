"""``python -m assistant bench latency|turn|memory|retrieval|baselines|moderation|garbage|load``: benchmarks
that print figures."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.cli.common import dump

if TYPE_CHECKING:
    from assistant.settings import Settings


def add_parser(sub: Any) -> argparse.ArgumentParser:
    bench = sub.add_parser("bench", help="benchmarks that print figures")
    bsub = bench.add_subparsers(dest="bench_cmd", required=True)
    bl = bsub.add_parser("latency", help="warm latency through the REST channel beside Rasa's /model/parse, "
                                         "and server memory")
    bl.add_argument("--cases", type=Path, help="cases file whose texts are sent (default: tests/data/eval_cases.yml)")
    bl.add_argument("-n", type=int, default=300, help="number of requests")
    bl.add_argument("--json", action="store_true")
    bt = bsub.add_parser("turn", help="where a turn's time goes: client, REST, NLU, the action call, retrieval, "
                                      "the database; beside /model/parse, with server memory")
    bt.add_argument("--cases", type=Path, help="cases file whose texts are sent (default: tests/data/eval_cases.yml)")
    bt.add_argument("-n", type=int, default=200, help="number of messages")
    bt.add_argument("--residents", type=int, default=8, help="conversations at once in the throughput step "
                                                               "(0: none)")
    bt.add_argument("--json", action="store_true")
    bmem = bsub.add_parser("memory", help="both servers' resident memory once warm and after N turns (cases and "
                                          "dialogues of eval files)")
    bmem.add_argument("files", type=Path, nargs="*", metavar="EVAL",
                      help="eval files (default: tests/data/eval_cases.yml tests/data/form_dialogues.yml)")
    bmem.add_argument("-n", type=int, default=1000, help="number of turns (default 1000)")
    bmem.add_argument("--json", action="store_true")
    br = bsub.add_parser("retrieval", help="topic accuracy of hybrid vs dense-only vs BM25-only")
    br.add_argument("cases", type=Path)
    br.add_argument("--json", action="store_true")
    bb = bsub.add_parser("baselines", help="route/topic accuracy of Rasa's FAQ recipe, BM25 alone and dense alone "
                                           "beside the assistant's, on any cases file")
    bb.add_argument("cases", type=Path, nargs="+", metavar="CASES", help="eval files; their `cases:` are used")
    bb.add_argument("--json", action="store_true")
    bb.add_argument("--no-moderation", action="store_true",
                    help="baselines without the assistant's moderation in front (it is on by default)")
    bm = bsub.add_parser("moderation", help="precision, recall, F1 of the moderation flag per kind, and the misses")
    bm.add_argument("file", type=Path, help="messages: [{text, flag, kind}] (flag true: the group rules forbid it)")
    bm.add_argument("--rules", type=Path, help="the rules file (default: assistant/moderation/default_rules.yml)")
    bm.add_argument("--sweep", action="store_true", help="also show the flag's figures at other ad.solicit thresholds")
    bm.add_argument("--json", action="store_true")
    bg = bsub.add_parser("garbage", help="the garbage item table on the compound-name corpus: misfires and misses "
                                         "of whole-word matching beside the old substring rule, lookup time")
    bg.add_argument("corpus", type=Path, nargs="?", help="default: tests/data/garbage_compounds.yml")
    bg.add_argument("--json", action="store_true")
    ld = bsub.add_parser("load", help="Locust residents against the cluster (cluster up) in steps, one Rasa and one "
                                      "action server killed in the last; lost turns, duplicated tickets, a plot")
    ld.add_argument("--steps", default="8,32,64", help="concurrent residents per step (default 8,32,64)")
    ld.add_argument("--seconds", type=int, default=30, help="length of each step (default 30)")
    ld.add_argument("--no-kill", action="store_true", help="kill nothing in the last step")
    ld.add_argument("--plot", type=Path, help="the latency-vs-load PNG (default .run/bench-load.png)")
    ld.add_argument("--json", action="store_true")
    bench.set_defaults(run=run)
    return bench


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.bench_cmd == "moderation":
        from assistant.devtools import moderation_bench as mb

        report = mb.bench(args.file, args.rules)
        summary = mb.summary_with_sweep(report) if args.sweep else (report.summary(), None)
        print(dump({**summary[0], "sweep": summary[1]}) if args.json else mb.format_report(*summary))
        return 0
    if args.bench_cmd == "garbage":
        from assistant.devtools import garbage_bench as gb
        from assistant.knowledge.kb import load

        table = load(settings.knowledge_dir).items
        if table is None:
            print("no garbage item table in the knowledge base")
            return 2
        result = gb.bench(table, args.corpus or settings.root / "tests" / "data" / "garbage_compounds.yml")
        print(dump(result) if args.json else gb.format_report(result))
        return 0
    if args.bench_cmd == "load":
        import sys

        from assistant.devtools import load as load_bench

        steps = tuple(int(x) for x in args.steps.split(",") if x.strip())
        result = load_bench.run(settings, steps, args.seconds, () if args.no_kill else ("rasa1", "actions1"),
                          args.plot or settings.run_dir / "bench-load.png",
                          say=lambda msg: print(msg, file=sys.stderr, flush=True))
        print(dump(result) if args.json else load_bench.format_report(result))
        return 0 if result["lost_turns"] == 0 and result["residents_with_duplicates"] == 0 else 1
    from assistant.devtools import bench

    if args.bench_cmd == "memory":
        from assistant.runtime.app import scratch_settings
        from assistant.runtime.services import Services

        settings = scratch_settings(settings, Services(settings).rasa_up())
        files = args.files or [settings.root / "tests" / "data" / f for f in ("eval_cases.yml", "form_dialogues.yml")]
        result = bench.memory(settings, files, args.n)
        print(dump(result) if args.json else bench.format_memory(result))
        return 0
    if args.bench_cmd in ("latency", "turn"):
        from assistant.runtime.app import scratch_settings
        from assistant.runtime.services import Services

        cases = args.cases or settings.root / "tests" / "data" / "eval_cases.yml"
        settings = scratch_settings(settings, Services(settings).rasa_up())
        if args.bench_cmd == "turn":
            result = bench.turn(settings, cases, args.n, args.residents)
            print(dump(result) if args.json else bench.format_turn(result))
            return 0
        result = bench.latency(settings, cases, args.n)
        print(dump(result) if args.json else bench.format_latency(result))
        return 0
    if args.bench_cmd == "baselines":
        import sys

        bench.baseline_cases(args.cases)            # a bad file stops before any training
        result = bench.baselines(settings, args.cases, moderation=not args.no_moderation,
                                 say=lambda msg: print(msg, file=sys.stderr, flush=True))
        print(dump(result) if args.json else bench.format_baselines(result))
        return 0
    result = bench.retrieval(settings, args.cases)
    print(dump(result) if args.json else bench.format_retrieval(result))
    return 0
