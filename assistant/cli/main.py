"""Command line: ``python -m assistant COMMAND``. ``COMMANDS`` is the one registry: each module has
``add_parser(subparsers)`` (which sets ``run``) and ``run(args, settings) -> int``. ``main`` loads
the settings once; a bad setting exits 1 before anything starts."""

from __future__ import annotations

import argparse
import logging
import sys

from assistant import logs
from assistant.cli import (
    ask,
    bench,
    calibrate,
    chat,
    cluster,
    community,
    console,
    desk,
    evaluate,
    faq,
    handoff,
    hittest,
    kb,
    report,
    review,
    schedule,
    serve,
    setup,
    telegram,
    tickets,
    train,
    validate,
    webchat,
    webhook,
    wecom,
)
from assistant.errors import AssistantError, DataError

log = logging.getLogger("assistant")

# In the order of ``--help``.
COMMANDS = (ask, evaluate, chat, serve, webchat, kb, setup, train, validate, tickets, handoff, telegram, webhook,
            wecom, desk, schedule, console, community, bench, calibrate, review, hittest, faq, report, cluster)
# The commands that start (or talk to) the servers: they take the port options after their name too.
SERVER_COMMANDS = (ask, evaluate, chat, serve, webchat, bench, calibrate, cluster)
RASA_PORT_HELP = "Rasa server port (default 5005 or $ASSISTANT_RASA_PORT)"
ACTION_PORT_HELP = "action server port (default 5055 or $ASSISTANT_ACTION_PORT)"


def _add_ports(parser: argparse.ArgumentParser) -> None:
    """``--rasa-port``/``--action-port`` on a subcommand (and its own subcommands). SUPPRESS: when not
    given there, the value given before the subcommand (or None) stays."""
    parser.add_argument("--rasa-port", type=int, default=argparse.SUPPRESS, help=RASA_PORT_HELP)
    parser.add_argument("--action-port", type=int, default=argparse.SUPPRESS, help=ACTION_PORT_HELP)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in set(action.choices.values()):
                _add_ports(child)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m assistant", description="锦山壹号 community assistant")
    p.add_argument("--rasa-port", type=int, help=RASA_PORT_HELP)
    p.add_argument("--action-port", type=int, help=ACTION_PORT_HELP)
    p.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = p.add_subparsers(dest="cmd", required=True)
    for command in COMMANDS:
        parser = command.add_parser(sub)
        if command in SERVER_COMMANDS:
            _add_ports(parser)
    return p


def main(argv: list[str] | None = None) -> int:
    from assistant.runtime.services import quiet_model_libraries
    from assistant.settings import load_settings

    args = _parser().parse_args(argv)
    logs.configure(args.verbose)
    quiet_model_libraries()
    try:
        settings = load_settings().with_ports(args.rasa_port, args.action_port)
        return int(args.run(args, settings))
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except AssistantError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
