"""``python -m assistant.runtime.action_server -p PORT``: rasa_sdk's action server in one process.

``python -m rasa_sdk`` (3.21, Sanic 25) serves one worker through Sanic's process manager: a main process
that imports the actions, the worker that runs them, and multiprocessing's resource tracker, about
100 MiB more than the worker alone. This serves rasa_sdk's own app (``create_app_for_serve`` with the
``actions`` package: the same routes, health check and plugins) in Sanic's single-process mode.
Run it with the app environment's Python and the project folder on PYTHONPATH (``Services`` does)."""

from __future__ import annotations

import argparse

from rasa_sdk import utils
from rasa_sdk.constants import DEFAULT_SERVER_PORT
from rasa_sdk.endpoint import create_app_for_serve
from rasa_sdk.executor import ActionExecutor


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m assistant.runtime.action_server",
                                     description="rasa_sdk's action server in one process")
    parser.add_argument("-p", "--port", type=int, default=DEFAULT_SERVER_PORT)
    parser.add_argument("--host", default="127.0.0.1", help="the address to listen on (default: 127.0.0.1)")
    parser.add_argument("--actions", default="actions", help="the package of actions (default: actions)")
    args = parser.parse_args(argv)
    utils.configure_colored_logging(None)   # an entry point, like rasa_sdk's own: the library adds no handlers
    utils.update_sanic_log_level()
    executor = ActionExecutor()
    executor.register_package(args.actions)
    app = create_app_for_serve(executor)
    app.run(host=args.host, port=args.port, single_process=True, access_log=False, motd=False)


if __name__ == "__main__":
    main()
