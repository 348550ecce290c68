"""Command line: ``python -m assistant COMMAND``. Each command module has ``add_parser(subparsers)``
and ``run(args, settings) -> int``; ``main`` holds the registry."""

from assistant.cli.main import main

__all__ = ["main"]
