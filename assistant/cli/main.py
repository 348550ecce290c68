"""Command line: ask, eval, chat, serve, kb, setup, train, validate, bench."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from assistant.settings import Settings, load_settings
from assistant import logs
from assistant.errors import AssistantError, DataError
from assistant.runtime.services import QUIET_ENV

log = logging.getLogger("assistant")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m assistant", description="锦山壹号 community assistant")
    p.add_argument("--rasa-port", type=int, help="Rasa server port (default 5005 or $ASSISTANT_RASA_PORT)")
    p.add_argument("--action-port", type=int, help="action server port (default 5055 or $ASSISTANT_ACTION_PORT)")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = p.add_subparsers(dest="cmd", required=True)

    a = sub.add_parser("ask", help="ask one question (or many with --jsonl)")
    a.add_argument("text", nargs="?", help="the resident's message")
    a.add_argument("--json", action="store_true", help="print one JSON object")
    a.add_argument("--jsonl", action="store_true", help='read {"text": ..., "sender": ...} lines from stdin')
    a.add_argument("--sender", help="conversation id (default: a fresh one)")

    e = sub.add_parser("eval", help="route/topic accuracy and latency on a cases file")
    e.add_argument("cases", type=Path)
    e.add_argument("--json", action="store_true")

    ch = sub.add_parser("chat", help="interactive terminal chat")
    ch.add_argument("--group", action="store_true",
                    help="simulate the owners' group: several residents, @助手 mentions, /join, moderation")
    from assistant.runtime.serving import add_residents_option
    add_residents_option(ch)
    sub.add_parser("serve", help="run the Rasa and action servers until interrupted")
    wc = sub.add_parser("webchat", help="serve the web chat page (rasa-webchat widget) and both servers")
    wc.add_argument("--port", type=int, help="page port (default 8088 or $ASSISTANT_WEBCHAT_PORT)")

    kb = sub.add_parser("kb", help="knowledge base tools")
    kbs = kb.add_subparsers(dest="kb_cmd", required=True)
    c = kbs.add_parser("check", help="validate knowledge/ (ids, fields, topics, YAML)")
    c.add_argument("--dir", type=Path, help="knowledge folder (default: the project's)")
    b = kbs.add_parser("build", help="update the index and calibration")
    b.add_argument("--recalibrate", action="store_true")

    s = sub.add_parser("setup", help="convert the embedding model, build the index, train Rasa if stale")
    s.add_argument("--force-train", action="store_true")
    t = sub.add_parser("train", help="train the Rasa model (only when stale unless --force)")
    t.add_argument("--force", action="store_true")
    sub.add_parser("validate", help="rasa data validate on nlu_data/")

    from assistant.cli.handoff import add_parser as add_handoff
    from assistant.cli.tickets import add_parser as add_tickets

    add_tickets(sub)
    add_handoff(sub)
    # Commands defined in their own modules: add_parser(sub) sets ``run(args, settings) -> int``.
    from assistant.cli.telegram import add_parser as add_telegram
    from assistant.cli.webhook import add_parser as add_webhook
    add_telegram(sub)
    add_webhook(sub)
    from assistant.cli.desk import add_parser as add_desk
    add_desk(sub)
    from assistant.cli.console import add_parser as add_console
    add_console(sub)
    bench = sub.add_parser("bench", help="benchmarks that print figures")
    bsub = bench.add_subparsers(dest="bench_cmd", required=True)
    bl = bsub.add_parser("latency", help="warm latency through the REST channel, and server memory")
    bl.add_argument("--cases", type=Path, help="cases file whose texts are sent (default: tests/data/eval_cases.yml)")
    bl.add_argument("-n", type=int, default=300, help="number of requests")
    br = bsub.add_parser("retrieval", help="topic accuracy of hybrid vs dense-only vs BM25-only")
    br.add_argument("cases", type=Path)
    br.add_argument("--json", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logs.configure(args.verbose)
    os.environ.update({k: v for k, v in QUIET_ENV.items() if k not in os.environ})
    try:
        settings = load_settings().with_ports(args.rasa_port, args.action_port)
        handler = COMMANDS.get(args.cmd) or args.run
        return handler(args, settings)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except AssistantError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


@contextmanager
def _assistant(settings: Settings) -> Iterator[Any]:
    from assistant.channels.client import Assistant, RasaClient
    from assistant.desk.handoff import open_handoffs
    from assistant.moderation import Moderator
    from assistant.desk.notices import open_outbox
    from assistant.runtime.services import Services

    with Services(settings):
        try:
            handoffs = open_handoffs()
            outbox = open_outbox()
        except AssistantError as exc:
            log.error("handoff queue / outbox unavailable: %s", exc)
            handoffs = outbox = None
        bot = Assistant(RasaClient(settings.rasa_url), Moderator(), handoffs, outbox)
        try:
            yield bot
        finally:
            bot.close()


def _scratch_desk(settings: Settings) -> None:
    """Servers started for an eval or a benchmark keep its tickets and handoffs out of the real
    queue (a temporary database), unless ASSISTANT_TICKETS_URL says otherwise."""
    from assistant.runtime.services import Services

    if "ASSISTANT_TICKETS_URL" not in os.environ and not Services(settings).rasa_up():
        scratch = tempfile.mkdtemp(prefix="assistant-eval-")
        os.environ["ASSISTANT_TICKETS_URL"] = f"sqlite:///{scratch}/tickets.db"


def _dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    if args.jsonl:
        with _assistant(settings) as bot:
            for n, line in enumerate(sys.stdin, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                    if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
                        raise ValueError('expected an object with a string "text"')
                    sender = obj.get("sender")
                    if sender is not None and not isinstance(sender, (str, int)):
                        raise ValueError('"sender" must be a string')
                except ValueError as exc:
                    print(_dump({"error": f"line {n}: {exc}", "line": n}), flush=True)
                    continue
                reply = bot.ask(obj["text"], str(sender) if sender is not None else None)
                print(_dump(reply.as_dict()), flush=True)
        return 0
    if args.text is None:
        print("error: ask needs a TEXT (or --jsonl)", file=sys.stderr)
        return 2
    with _assistant(settings) as bot:
        reply = bot.ask(args.text, args.sender)
    if args.json:
        print(_dump(reply.as_dict()))
    else:
        print("\n".join(reply.replies))
    return 0


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from rich.console import Console
    from rich.progress import Progress

    from assistant.devtools.evaluate import load_cases, run

    cases = load_cases(args.cases)
    _scratch_desk(settings)
    with _assistant(settings) as bot:
        if args.json:
            report = run(cases, bot.ask)
        else:
            with Progress(console=Console(stderr=True)) as bar:
                task = bar.add_task("eval", total=len(cases))
                report = run(cases, bot.ask, lambda i: bar.update(task, completed=i))
    metrics = report.metrics()
    if args.json:
        print(_dump(metrics))
    else:
        _print_metrics(metrics)
    return 0


def _print_metrics(m: dict[str, Any]) -> None:
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


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    from rich.console import Console

    con = Console()
    con.print("[dim]正在启动助手（首次启动约需半分钟）…[/]")
    if args.group:
        return _group_chat(settings, args.residents)
    with _assistant(settings) as bot:
        sender = f"chat-{uuid.uuid4().hex[:8]}"
        con.print("[bold green]锦山壹号小区助手[/] 已就绪。输入问题后回车；输入 /quit 退出。")
        while True:
            try:
                text = con.input("[bold cyan]你 > [/]")
            except EOFError:
                break
            if text.strip() in ("/quit", "/exit", "/q"):
                break
            reply = bot.ask(text, sender)
            for r in reply.replies:
                con.print(f"[bold green]助手 > [/]{r}")
            con.print(f"[dim]({reply.route}{' · ' + reply.topic if reply.topic else ''}, "
                      f"{reply.latency_ms:.0f} ms)[/]")
    return 0


def _group_chat(settings: Settings, residents: Path | None = None) -> int:
    from assistant.runtime.serving import open_outbox, residents_roster
    from assistant.channels.terminal import run_terminal
    from assistant.channels.client import Assistant, RasaClient
    from assistant.channels.gateway import Gateway
    from assistant.moderation import Moderator
    from assistant.runtime.services import Services

    moderator = Moderator(roster=residents_roster(residents))  # a bad roster fails before the servers start
    with Services(settings):
        bot = Assistant(RasaClient(settings.rasa_url))  # the gateway moderates every group message
        try:
            # notices for the terminal's residents (satisfaction question, handoff timeout) before each prompt
            gateway = Gateway(moderator, bot.ask, outbox=open_outbox(settings))
            run_terminal(gateway, sys.stdin, sys.stdout, prompt="> ")
        finally:
            bot.close()
    return 0


@contextmanager
def desk_sweeper(settings: Settings) -> Iterator[None]:
    """While the assistant runs: expire handoffs nobody took and remind admins of overdue tickets,
    every $ASSISTANT_SWEEP_SECONDS (default 60). Safe to run in several processes at once."""
    from assistant.desk.desk import Desk
    from assistant.desk.sweep import Sweeper

    try:
        every = float(os.environ.get("ASSISTANT_SWEEP_SECONDS", "60"))
        desk = Desk.open(rasa_url=settings.rasa_url)
    except (AssistantError, ValueError) as exc:
        print(f"warning: no handoff/SLA sweeps: {exc}", file=sys.stderr)
        yield
        return
    sweeper = Sweeper(desk, every=max(every, 1.0)).start()
    try:
        yield
    finally:
        sweeper.stop()
        desk.tickets.dispose()
        desk.handoffs.dispose()


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.runtime.services import Services

    with Services(settings) as svc, desk_sweeper(settings):
        if not svc.started:
            print(f"both servers already running: {settings.rasa_url} and {settings.action_url}")
            return 0
        print(f"Rasa server on {settings.rasa_url} (REST: {settings.rasa_url}/webhooks/rest/webhook), "
              f"action server on {settings.action_url}. Ctrl-C to stop.", flush=True)
        svc.wait()
    return 0


def cmd_webchat(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.runtime.services import Services
    from assistant.channels.webchat import serve_page

    settings = settings.with_ports(webchat_port=args.port)
    with Services(settings) as svc, desk_sweeper(settings):
        server = serve_page(settings)
        print(f"web chat on {settings.webchat_url}/ (Rasa socket.io at {settings.rasa_url}). Ctrl-C to stop.",
              flush=True)
        try:
            if svc.started:
                svc.wait()
            else:
                threading.Event().wait()
        finally:
            server.shutdown()
    return 0


def cmd_kb(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.knowledge.kb import load

    if args.kb_cmd == "check":
        kb = load(args.dir or settings.knowledge_dir)
        per_topic: dict[str, int] = {}
        for e in kb.entries:
            per_topic[e.topic] = per_topic.get(e.topic, 0) + 1
        items = len(kb.items.items) if kb.items else 0
        print(f"ok: {len(kb.entries)} entries ({', '.join(f'{k} {v}' for k, v in sorted(per_topic.items()))}), "
              f"{items} garbage items, {len(kb.contacts)} contacts")
        return 0
    from assistant.knowledge.build import load_retriever

    retriever = load_retriever(settings, progress=True, recalibrate=args.recalibrate)
    print(f"index: {len(retriever.index.docs)} texts for {len(retriever.entries)} entries")
    print("calibration:", _dump(retriever.calibration.report))
    return 0


def cmd_setup(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.runtime.setup import setup

    setup(settings, force_train=args.force_train)
    return 0


def cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.runtime.setup import train

    train(settings, force=args.force)
    return 0


def cmd_validate(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.runtime.setup import validate

    return validate(settings)


def cmd_bench(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.devtools import bench

    if args.bench_cmd == "latency":
        cases = args.cases or settings.root / "tests" / "data" / "eval_cases.yml"
        _scratch_desk(settings)
        print(_dump(bench.latency(settings, cases, args.n)))
        return 0
    result = bench.retrieval(settings, args.cases)
    print(_dump(result) if args.json else bench.format_retrieval(result))
    return 0


def cmd_tickets(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.cli.tickets import run

    return run(args)


def cmd_handoff(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.cli.handoff import run

    return run(args)


COMMANDS = {"webchat": cmd_webchat, "tickets": cmd_tickets, "handoff": cmd_handoff, "ask": cmd_ask, "eval": cmd_eval, "chat": cmd_chat, "serve": cmd_serve, "kb": cmd_kb,
            "setup": cmd_setup, "train": cmd_train, "validate": cmd_validate, "bench": cmd_bench}
