"""``python -m assistant chat``: talk to the assistant in the terminal, alone or as a simulated group."""

from __future__ import annotations

import argparse
import sys
import uuid
from typing import TYPE_CHECKING, Any

from assistant.cli.common import add_residents_option

if TYPE_CHECKING:
    from assistant.settings import Settings


def add_parser(sub: Any) -> argparse.ArgumentParser:
    ch = sub.add_parser("chat", help="interactive terminal chat")
    ch.add_argument("--group", action="store_true",
                    help="simulate the owners' group: several residents, @助手 mentions, /join, moderation")
    add_residents_option(ch)
    ch.set_defaults(run=run)
    return ch


def run(args: argparse.Namespace, settings: Settings) -> int:
    from rich.console import Console

    from assistant.runtime.app import open_assistant

    con = Console()
    con.print("[dim]正在启动助手（首次启动约需半分钟）…[/]")
    if args.group:
        return group_chat(settings, args)
    with open_assistant(settings) as bot:
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


def group_chat(settings: Settings, args: argparse.Namespace) -> int:
    """The terminal as the owners' group: the same gateway as webhook and telegram (rules, roster,
    persistent strikes, the residents' outbox, delivered before each prompt)."""
    from assistant.channels.terminal import run_terminal
    from assistant.runtime.app import group_gateway, live_answerer, residents_roster

    gateway = group_gateway(settings, residents_roster(settings, args.residents))  # a bad roster fails first
    with live_answerer(settings) as ask:
        gateway.answerer = ask
        run_terminal(gateway, sys.stdin, sys.stdout, prompt="> ")
    return 0
