"""``python -m assistant train``: train the Rasa model (only when stale unless --force)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant.settings import Settings


def add_parser(sub: Any) -> argparse.ArgumentParser:
    t = sub.add_parser("train", help="train the Rasa model (only when stale unless --force)")
    t.add_argument("--force", action="store_true")
    t.set_defaults(run=run)
    return t


def run(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.runtime.setup import train

    train(settings, force=args.force)
    return 0
