"""``python -m assistant telegram``: the bot in Telegram groups, by long polling, with the real assistant.

    export TELEGRAM_BOT_TOKEN=123456:ABC…            # from @BotFather
    python -m assistant telegram [--token-env TELEGRAM_BOT_TOKEN] [--base-url URL] [--residents units.csv]

Exit codes: 0 stopped with Ctrl-C; 1 Telegram rejected the token or cannot be reached; 2 bad input
(no token, a malformed token or base URL, bad roster file).
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import TYPE_CHECKING, Any

from assistant.cli.common import add_residents_option
from assistant.runtime.app import group_gateway, live_answerer, residents_roster

if TYPE_CHECKING:
    from assistant.settings import Settings

TOKEN_ENV = "TELEGRAM_BOT_TOKEN"
_TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]{20,}$")


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser("telegram", help="run the bot in Telegram groups (long polling) with the real assistant")
    p.add_argument("--token-env", default=TOKEN_ENV, metavar="VAR",
                   help=f"environment variable holding the bot token (default {TOKEN_ENV})")
    p.add_argument("--base-url", metavar="URL",
                   help="Bot API base URL, token appended (default https://api.telegram.org/bot; "
                        "a local Bot API server: http://127.0.0.1:8081/bot)")
    add_residents_option(p)
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace, settings: Settings) -> int:
    secret = settings.secret_from(args.token_env)
    token = secret.get_secret_value().strip() if secret else ""
    problem = None
    if not token:
        problem = f"${args.token_env} is not set: export the bot token from @BotFather"
    elif not _TOKEN.match(token):
        problem = f"${args.token_env} does not look like a bot token (digits:letters, e.g. 123456:ABC-DEF…)"
    elif args.base_url and not re.match(r"^https?://[^\s/]+", args.base_url):
        problem = f"--base-url must be an http(s) URL, got {args.base_url[:60]!r}"
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    from assistant.channels.telegram import TelegramBot, check_token

    roster = residents_roster(settings, args.residents)
    username = check_token(token, args.base_url)     # before the ~30 s server start: a bad token fails fast
    gateway = group_gateway(settings, roster)
    print("starting the assistant (first start ~30 s) …", file=sys.stderr, flush=True)
    with live_answerer(settings) as ask:
        gateway.answerer = ask
        print(f"Telegram bot @{username} polling for updates. Ctrl-C to stop.", flush=True)
        TelegramBot(gateway, token, args.base_url).run()
    return 0
