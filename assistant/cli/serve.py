"""``python -m assistant serve``: the Rasa and action servers (and the desk's sweeps) until stopped,
supervised: a server that crashes or stops answering is restarted (see ``Supervisor``) and the admins
are told. SIGTERM or SIGINT stops both servers with all their processes and exits 0; giving up after
too many restarts stops everything and exits 1."""

from __future__ import annotations

import argparse
import signal
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant.desk.handoff.notify import Notifier
    from assistant.settings import Settings

NAMES = {"rasa": "Rasa server", "actions": "action server"}


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser("serve", help="run the Rasa and action servers until stopped, restarting them when they fail",
                       description="Run the Rasa and action servers (supervised) until SIGTERM or Ctrl-C.")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.desk.admin_notify import notifier_from_settings
    from assistant.runtime.app import desk_sweeper
    from assistant.runtime.services import GaveUp, Services, Supervisor

    stop_on_signals()
    fallback = None
    try:
        with Services(settings) as svc, desk_sweeper(settings) as desk:
            if not svc.started:
                print(f"both servers already running: {settings.rasa_url} and {settings.action_url}")
                return 0
            print(f"Rasa server on {settings.rasa_url} (REST: {settings.rasa_url}/webhooks/rest/webhook), "
                  f"action server on {settings.action_url}. Ctrl-C to stop.", flush=True)
            notifier = desk.notifier if desk is not None else (fallback := notifier_from_settings(settings))
            Supervisor(svc, reporter(notifier)).run()
    except KeyboardInterrupt:
        print("serve: stopped both servers", file=sys.stderr, flush=True)
        return 0
    except GaveUp as exc:
        print(f"error: {exc}. Both servers are stopped.", file=sys.stderr, flush=True)
        return 1
    finally:
        if fallback is not None:
            fallback.flush(10)
    return 0


def stop_on_signals() -> None:
    """SIGTERM (systemd, docker) as well as SIGINT end ``serve`` through KeyboardInterrupt, so the
    servers are stopped on the way out; further signals are ignored while they stop."""
    def handler(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def reporter(notifier: Notifier) -> Callable[[str, dict[str, object]], None]:
    """``Supervisor``'s report: one line on stderr and a ``service.<kind>`` event to the admins."""
    def report(kind: str, event: dict[str, object]) -> None:
        name = NAMES.get(str(event["service"]), str(event["service"]))
        if kind == "restarting":
            line = f"{name} {event['reason']}: restart {event['restarts']} in {event['delay_s']:g} s"
        elif kind == "restarted":
            line = f"{name} is back (restart took {event['took_s']} s)"
        elif kind == "restart_failed":
            line = f"{name} did not come back ({event['error']}); trying again"
        else:
            line = f"{name} {event['reason']}: {event['restarts']} restarts within {event['window_s']:g} s, giving up"
        print(f"serve: {line}", file=sys.stderr, flush=True)
        notifier.notify({"event": f"service.{kind}", "event_id": uuid.uuid4().hex,
                         "at": datetime.now(UTC).isoformat(), **event})

    return report
