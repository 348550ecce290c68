"""``python -m assistant webhook``: serve the signed JSON webhook with the real assistant.

    export ASSISTANT_WEBHOOK_SECRET=$(python -c 'import secrets; print(secrets.token_hex(32))')
    python -m assistant webhook --port 8080 [--host 127.0.0.1] [--residents units.csv] [--replay-window 300]

Requests are signed over "{X-Timestamp}.{X-Nonce}.{body}" (see assistant/channels/README.md); ones
outside the replay window, or reusing a nonce, are refused. The secret is read from an environment
variable (never the command line, where ``ps`` shows it) and must be at least 16 characters.
Exit codes: 0 stopped with Ctrl-C; 1 cannot listen or the servers failed; 2 bad input (no or short
secret, bad port or replay window, bad roster file).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from assistant.cli.common import add_residents_option
from assistant.errors import ConfigError
from assistant.runtime.app import group_gateway, live_answerer, residents_roster

if TYPE_CHECKING:
    from assistant.channels.gateway import Gateway
    from assistant.channels.webhook import WebhookServer
    from assistant.settings import Settings

SECRET_ENV = "ASSISTANT_WEBHOOK_SECRET"
MIN_SECRET = 16
REPLAY_WINDOW = 300          # the default; assistant.channels.webhook.REPLAY_WINDOW (not imported: it pulls in uvicorn)
MAX_REPLAY_WINDOW = 86_400


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser("webhook", help="serve the signed JSON webhook (POST /webhook) with the real assistant")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 picks a free one)")
    p.add_argument("--secret-env", default=SECRET_ENV, metavar="VAR",
                   help=f"environment variable holding the shared secret, {MIN_SECRET}+ characters "
                        f"(default {SECRET_ENV})")
    p.add_argument("--replay-window", type=int, default=REPLAY_WINDOW, metavar="SECONDS",
                   help=f"accept signed requests whose X-Timestamp is within this many seconds of the server's "
                        f"clock (default {REPLAY_WINDOW})")
    add_residents_option(p)
    p.set_defaults(run=run)
    return p


def check_secret(secret: str | bytes | None, where: str = "the webhook secret") -> None:
    if not secret:
        raise ConfigError(f"{where} is empty: the webhook refuses to serve unsigned requests "
                          f"(use a secret of at least {MIN_SECRET} characters)")
    if len(secret) < MIN_SECRET:
        raise ConfigError(f"{where} is {len(secret)} characters; use at least {MIN_SECRET} "
                          "(e.g. python -c 'import secrets; print(secrets.token_hex(32))')")


def build_webhook_server(gateway: Gateway, host: str, port: int, secret: str | bytes,
                         replay_window: int = REPLAY_WINDOW) -> WebhookServer:
    """The bound server the command runs (port 0 picks a free one); ``serve_forever`` it yourself."""
    from assistant.channels.webhook import make_webhook_server

    check_secret(secret)
    return make_webhook_server(gateway, host, port, secret=secret, replay_window=replay_window)


def run(args: argparse.Namespace, settings: Settings) -> int:
    value = settings.secret_from(args.secret_env)
    secret = value.get_secret_value() if value is not None else None
    try:
        if secret is None:
            raise ConfigError(f"${args.secret_env} is not set: export the shared secret "
                              f"({MIN_SECRET}+ characters) the platform signs its requests with")
        check_secret(secret, f"${args.secret_env}")
        if not 0 <= args.port <= 65535:
            raise ConfigError(f"--port {args.port} is not a port number (0-65535)")
        if not 1 <= args.replay_window <= MAX_REPLAY_WINDOW:
            raise ConfigError(f"--replay-window {args.replay_window} is not between 1 and {MAX_REPLAY_WINDOW} seconds")
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    gateway = group_gateway(settings, residents_roster(settings, args.residents))
    try:
        # Bind before starting the servers (~30 s): a taken port is reported at once.
        server = build_webhook_server(gateway, args.host, args.port, secret, args.replay_window)
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    try:
        print("starting the assistant (first start ~30 s) …", file=sys.stderr, flush=True)
        with live_answerer(settings) as ask:
            gateway.answerer = ask
            print(f"webhook on {server.url} (X-Signature: sha256=HMAC of \"{{X-Timestamp}}.{{X-Nonce}}.{{body}}\" "
                  f"with ${args.secret_env}, replay window {args.replay_window} s). Ctrl-C to stop.", flush=True)
            server.serve_until_interrupted()
    finally:
        server.server_close()        # also when starting the assistant failed
    return 0
