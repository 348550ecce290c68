"""One exception tree for the whole engine."""

from __future__ import annotations


class AssistantError(Exception):
    """Base of every error the engine raises on purpose."""


class ConfigError(AssistantError):
    """A setting or configuration file is wrong."""


class DataError(AssistantError):
    """A data file is wrong; the message names the file, line and field."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None,
                 field: str | None = None) -> None:
        self.path, self.line, self.field = path, line, field
        where = path or ""
        if line is not None:
            where += f":{line}"
        parts = [p for p in (where, f"[{field}]" if field else "", message) if p]
        super().__init__(" ".join(parts))


class KnowledgeError(DataError):
    """The knowledge base has problems; ``problems`` lists every one found."""

    def __init__(self, problems: list[DataError]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) in the knowledge base:\n"
                         + "\n".join(f"  {p}" for p in problems))


class ServiceError(AssistantError):
    """A service (Rasa server, action server) could not be reached or started."""


class ModelError(AssistantError):
    """The embedding model is missing or unusable."""
