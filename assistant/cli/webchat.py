"""``python -m assistant webchat``: the web chat page (rasa-webchat widget) and both servers."""

from __future__ import annotations

import argparse
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant.settings import Settings


def add_parser(sub: Any) -> argparse.ArgumentParser:
    wc = sub.add_parser("webchat", help="serve the web chat page (rasa-webchat widget) and both servers")
    wc.add_argument("--port", type=int, help="page port (default 8088 or $ASSISTANT_WEBCHAT_PORT)")
    wc.set_defaults(run=run)
    return wc


def run(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.channels.webchat import serve_page
    from assistant.runtime.app import desk_sweeper
    from assistant.runtime.services import Services

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
