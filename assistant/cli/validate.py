"""``python -m assistant validate``: rasa data validate on nlu_data/."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant.settings import Settings


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser("validate", help="rasa data validate on nlu_data/")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.runtime.setup import validate

    return validate(settings)
