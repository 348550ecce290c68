"""``python -m assistant.rasa_server.rasa_main run …``: Rasa's own command line, with ``--auth-token`` taken from
$RASA_API_TOKEN (removed from the environment) instead of the argument list, where every local
user could read it in the process list."""

from __future__ import annotations

import os
import sys

from rasa.__main__ import main

if __name__ == "__main__":
    token = os.environ.pop("RASA_API_TOKEN", "")
    sys.argv = ["rasa", *sys.argv[1:], *(["--auth-token", token] if token else [])]
    main()
