"""``python -m assistant serve``: the Rasa and action servers (and the desk's sweeps) until interrupted."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant.settings import Settings


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser("serve", help="run the Rasa and action servers until interrupted")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.runtime.app import desk_sweeper
    from assistant.runtime.services import Services

    with Services(settings) as svc, desk_sweeper(settings):
        if not svc.started:
            print(f"both servers already running: {settings.rasa_url} and {settings.action_url}")
            return 0
        print(f"Rasa server on {settings.rasa_url} (REST: {settings.rasa_url}/webhooks/rest/webhook), "
              f"action server on {settings.action_url}. Ctrl-C to stop.", flush=True)
        svc.wait()
    return 0
