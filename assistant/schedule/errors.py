"""Errors of the schedule seam: bad input names the field (and the file/line when there is one)."""

from __future__ import annotations

from assistant.errors import AssistantError, DataError


class ScheduleInputError(DataError):
    """A date, rule, tag or other input the scheduler cannot take; the message says which and why."""

    def __init__(self, field: str, message: str, *, path: str | None = None, line: int | None = None) -> None:
        super().__init__(message, path=path, line=line, field=field)


class NotFound(ScheduleInputError):
    """No post, notice or event with that id."""

    def __init__(self, what: str, ident: object) -> None:
        super().__init__("id", f"no {what} with id {ident!r}")


class ScheduleUnavailable(AssistantError):
    """The schedule database cannot be reached."""
