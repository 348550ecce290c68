"""``python -m assistant console``: serve the admins' web console on loopback.

Options: ``--port`` (default $ASSISTANT_CONSOLE_PORT, else 8090), ``--host`` (a loopback address,
default 127.0.0.1), ``--tokens FILE`` (default $ASSISTANT_CONSOLE_TOKENS, else
models/console_tokens.yml; created with one random token per roster admin, mode 0600, when missing).
The stores are the Desk's (``$ASSISTANT_TICKETS_URL``, the roster from $ASSISTANT_HANDOFF_ROSTER).
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from pathlib import Path
from typing import Any

from assistant.errors import ConfigError

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


def port_from(args: argparse.Namespace) -> int:
    if args.port is not None:
        port = args.port
    else:
        raw = os.environ.get(PORT_ENV, "").strip()
        try:
            port = int(raw) if raw else DEFAULT_PORT
        except ValueError:
            raise ConfigError(f"${PORT_ENV} must be a port number, not {raw!r}") from None
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


def run(args: argparse.Namespace, settings: Any) -> int:
    import uvicorn

    from assistant.desk.desk import Desk
    from assistant.console.app import create_app
    from assistant.console.tokens import create_tokens, default_tokens_path, load_tokens, readable_by_others

    host, port = check_loopback(args.host), port_from(args)
    desk = Desk.open(rasa_url=getattr(settings, "rasa_url", None))
    try:
        path = Path(args.tokens) if args.tokens else default_tokens_path(getattr(settings, "root", None))
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
        from assistant.desk.sweep import Sweeper

        # Handoffs nobody took and overdue tickets are swept while the console runs.
        with Sweeper(desk, every=max(float(os.environ.get("ASSISTANT_SWEEP_SECONDS", "60")), 1.0)):
            # log_config=None: uvicorn's records (tracebacks of failed requests) go through the app's
            # handler and its personal-data filter (assistant.logs), not a handler of uvicorn's own.
            uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, log_config=None)
    finally:
        for store in (desk.tickets, desk.handoffs):
            getattr(store, "dispose", lambda: None)()
    return 0
