"""``python -m assistant.rasa_server.rasa_main run …``: Rasa's own command line, with ``--auth-token`` taken from
$RASA_API_TOKEN (removed from the environment) instead of the argument list, where every local
user could read it in the process list. The one place the Rasa process reads its environment (it runs
in the Rasa environment, Python 3.10, without the app's settings object)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from rasa.__main__ import main

from assistant.rasa_server import speedups, webchat


def configure(env: Mapping[str, str]) -> list[str]:
    """The web chat channel's action-server health URL from ASSISTANT_HOST / ASSISTANT_ACTION_PORT, and
    the ``--auth-token`` arguments from RASA_API_TOKEN."""
    host = env.get("ASSISTANT_HOST") or "127.0.0.1"
    webchat.ACTION_HEALTH_URL = f"http://{host}:{env.get('ASSISTANT_ACTION_PORT') or '5055'}/health"
    token = env.get("RASA_API_TOKEN", "")
    return ["--auth-token", token] if token else []


if __name__ == "__main__":
    extra = configure(os.environ)
    speedups.install()
    os.environ.pop("RASA_API_TOKEN", None)
    sys.argv = ["rasa", *sys.argv[1:], *extra]
    main()
