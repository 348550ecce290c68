"""Reading the YAML files admins edit: UTF-8 (BOM allowed), line numbers kept for error messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from assistant.errors import DataError

LINE = "__line__"


class LineLoader(yaml.SafeLoader):
    """SafeLoader that records each mapping's 1-based line under ``__line__``."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        mapping = super().construct_mapping(node, deep=deep)
        mapping[LINE] = node.start_mark.line + 1
        return mapping


def read_yaml(path: Path, loader: type[yaml.SafeLoader] = LineLoader, error: type[DataError] = DataError) -> Any:
    """Parse ``path``; a missing, non-UTF-8 or malformed file raises ``error`` naming file and line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise error("file not found", path=str(path)) from None
    except UnicodeDecodeError as exc:
        raise error(f"not UTF-8 text ({exc.reason} at byte {exc.start})", path=str(path)) from None
    try:
        return yaml.load(text, Loader=loader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise error(f"bad YAML: {exc.problem}", path=str(path), line=line) from None
