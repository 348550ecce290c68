"""Helpers the command modules share: JSON output and the residents roster option."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def dump(obj: Any) -> str:
    """One line of JSON, Chinese kept readable."""
    return json.dumps(obj, ensure_ascii=False)


def add_residents_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--residents", type=Path, metavar="CSV",
                   help="units that exist (columns building,unit,room): new members' nicknames are checked "
                        "against it (default $ASSISTANT_RESIDENTS_CSV, else members.roster in the rules file)")
