"""``python -m assistant setup``: convert the embedding model, build the index, train Rasa if stale."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant.settings import Settings


def add_parser(sub: Any) -> argparse.ArgumentParser:
    s = sub.add_parser("setup", help="convert the embedding model, build the index, train Rasa if stale")
    s.add_argument("--force-train", action="store_true")
    s.set_defaults(run=run)
    return s


def run(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.runtime.setup import setup

    setup(settings, force_train=args.force_train)
    return 0
