"""``python -m assistant console``: serve the admins' web console on loopback.

Options: ``--port`` (default $ASSISTANT_CONSOLE_PORT, else 8090), ``--host`` (a loopback address,
default 127.0.0.1), ``--tokens FILE`` (default $ASSISTANT_CONSOLE_TOKENS, else
models/console_tokens.yml; created with one random token per roster admin, mode 0600, when missing).
The stores are the Desk's (``$ASSISTANT_TICKETS_URL``, the roster from $ASSISTANT_HANDOFF_ROSTER).
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.errors import ConfigError

if TYPE_CHECKING:
    from assistant.settings import Settings

PORT_ENV = "ASSISTANT_CONSOLE_PORT"
DEFAULT_PORT = 8090


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("console", help="serve the admins' web console (tickets, handoff queue) on loopback")
    p.add_argument("--port", type=int, help=f"port (default {DEFAULT_PORT} or ${PORT_ENV})")
    p.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    p.add_argument("--tokens", type=Path, metavar="FILE",
                   help="admin tokens file (default $ASSISTANT_CONSOLE_TOKENS or models/console_tokens.yml)")
    p.set_defaults(run=run)
    return p


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
    from assistant.console.tokens import create_tokens, load_tokens, readable_by_others
    from assistant.desk.sweep import Sweeper
    from assistant.runtime.app import open_desk

    host, port = check_loopback(args.host), port_from(args, settings)
    with open_desk(settings) as desk:
        path = Path(args.tokens) if args.tokens else settings.console_tokens_path
        if path.exists():
            tokens = load_tokens(path, desk.roster)
            if readable_by_others(path):
                print(f"warning: {path} is readable by other users; run: chmod 600 {path}", file=sys.stderr)
        else:
            tokens = create_tokens(path, desk.roster)
            print(f"created {path} (mode 0600) with one login token per admin: "
                  f"{', '.join(t.admin for t in tokens)}")
        app = create_app(desk, tokens)
        shown = f"[{host}]" if ":" in host else host
        print(f"admin console: http://{shown}:{port}/  (log in with your token from {path}; Ctrl-C stops)",
              flush=True)
        # Handoffs nobody took and overdue tickets are swept while the console runs.
        with Sweeper(desk, every=settings.sweep_every):
            # log_config=None: uvicorn's records (tracebacks of failed requests) go through the app's
            # handler and its personal-data filter (assistant.logs), not a handler of uvicorn's own.
            uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, log_config=None)
    return 0
