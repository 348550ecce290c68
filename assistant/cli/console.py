"""``python -m assistant console``: serve the admins' web console on loopback.

Options: ``--port`` (default $ASSISTANT_CONSOLE_PORT, else 8090), ``--host`` (a loopback address,
default 127.0.0.1), ``--tokens FILE`` (default $ASSISTANT_CONSOLE_TOKENS, else
models/console_tokens.yml; created with one random token per roster admin, mode 0600, when missing; read
again when it changes), ``--trusted-proxy ADDR`` (repeatable; default $ASSISTANT_CONSOLE_TRUSTED_PROXIES,
comma-separated: reverse proxies whose X-Forwarded-For names the client). The session secret is kept in
``<tokens file stem>.key`` next to the tokens file (mode 0600, made on first start).
The stores are the Desk's (``$ASSISTANT_TICKETS_URL``, the roster from $ASSISTANT_HANDOFF_ROSTER); the
community pages (sign-ups, surveys, suggestions, help list) use the same database.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.errors import AssistantError, ConfigError

if TYPE_CHECKING:
    from assistant.schedule.store import ScheduleStore
    from assistant.settings import Settings

PORT_ENV = "ASSISTANT_CONSOLE_PORT"
DEFAULT_PORT = 8090


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("console", help="serve the admins' web console (tickets, handoff queue) on loopback")
    p.add_argument("--port", type=int, help=f"port (default {DEFAULT_PORT} or ${PORT_ENV})")
    p.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    p.add_argument("--tokens", type=Path, metavar="FILE",
                   help="admin tokens file (default $ASSISTANT_CONSOLE_TOKENS or models/console_tokens.yml)")
    p.add_argument("--trusted-proxy", action="append", metavar="ADDR",
                   help="address or network of a reverse proxy whose X-Forwarded-For names the client; repeat for "
                        "several (default $ASSISTANT_CONSOLE_TRUSTED_PROXIES, comma-separated; "
                        "none: the socket peer is the client)")
    p.set_defaults(run=run)
    return p


def proxies_from(args: argparse.Namespace, settings: Settings) -> list[str]:
    """The trusted reverse proxies: --trusted-proxy, else $ASSISTANT_CONSOLE_TRUSTED_PROXIES."""
    from assistant.console.throttle import parse_networks

    given = getattr(args, "trusted_proxy", None)
    items = [x.strip() for x in (given or settings.console_trusted_proxies) if x.strip()]
    try:
        parse_networks(items)
    except ValueError as exc:
        raise ConfigError(f"trusted proxy: {exc}") from None
    return items


def port_from(args: argparse.Namespace, settings: Settings) -> int:
    """--port, else $ASSISTANT_CONSOLE_PORT (checked when the settings were loaded), else 8090."""
    port = args.port if args.port is not None else settings.console_port
    if not 0 < port < 65536:
        raise ConfigError(f"port {port} is out of range")
    return port


def check_loopback(host: str) -> str:
    """The console has no TLS and its cookie is not Secure: bind to loopback only."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        if ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        pass
    raise ConfigError(f"--host {host!r} is not a loopback address; the console only serves on loopback "
                      "(put an HTTPS reverse proxy in front to reach it from elsewhere)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from assistant.console.app import create_app
    from assistant.console.sessions import load_secret, secret_path
    from assistant.console.tokens import TokenFile, create_tokens, readable_by_others
    from assistant.desk.sweep import Sweeper
    from assistant.errors import AssistantError
    from assistant.runtime.app import open_community, open_desk, schedule_runner

    host, port, proxies = check_loopback(args.host), port_from(args, settings), proxies_from(args, settings)
    with open_desk(settings) as desk, open_community(settings) as community:
        path = Path(args.tokens) if args.tokens else settings.console_tokens_path
        if path.exists():
            tokens = TokenFile(path, desk.roster)
        else:
            created = create_tokens(path, desk.roster)
            print(f"created {path} (mode 0600) with one login token per admin: "
                  f"{', '.join(t.admin for t in created)}")
            tokens = TokenFile(path, desk.roster)
        key = secret_path(path)
        secret = load_secret(key)
        for private in (path, key):
            if readable_by_others(private):
                print(f"warning: {private} is readable by other users; run: chmod 600 {private}", file=sys.stderr)
        learning = None
        try:                 # review queue, hit testing, entry statistics (assistant/learning)
            from assistant.runtime.app import learning_service

            learning = learning_service(settings)
        except AssistantError as exc:
            print(f"warning: no knowledge review pages: {exc}", file=sys.stderr)
        schedule = group_schedule(settings)
        app = create_app(desk, tokens, session_secret=secret, trusted_proxies=proxies, schedule=schedule,
                         community=community, learning=learning)
        shown = f"[{host}]" if ":" in host else host
        print(f"admin console: http://{shown}:{port}/  (log in with your token from {path}; Ctrl-C stops)",
              flush=True)
        # Handoffs nobody took and overdue tickets are swept while the console runs.
        with Sweeper(desk, every=settings.sweep_every), schedule_runner(settings, desk.notifier):
            # proxy_headers=False: the app itself decides whether X-Forwarded-For is to be believed.
            # log_config=None: uvicorn's records (tracebacks of failed requests) go through the app's
            # handler and its personal-data filter (assistant.logs), not a handler of uvicorn's own.
            uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, proxy_headers=False,
                        log_config=None)
    return 0


def group_schedule(settings: Settings) -> ScheduleStore | None:
    """The schedule's store for the console's posts, notices and calendar pages; None (warned) without it."""
    from assistant.runtime.app import open_schedule_store

    try:
        return open_schedule_store(settings)
    except AssistantError as exc:
        print(f"warning: no schedule pages: {exc}", file=sys.stderr)
        return None
