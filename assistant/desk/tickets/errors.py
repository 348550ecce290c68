"""Errors of the ticket store, rooted in the project's AssistantError."""

from __future__ import annotations

from assistant.errors import AssistantError, DataError


class TicketError(AssistantError):
    """Base of every error the ticket store raises on purpose."""


class TicketNotFound(TicketError):
    def __init__(self, ticket_id: str) -> None:
        self.ticket_id = ticket_id
        super().__init__(f"no ticket {ticket_id!r}")


class InvalidTransition(TicketError):
    """A status change the lifecycle does not allow."""

    def __init__(self, ticket_id: str, current: str, wanted: str, hint: str = "") -> None:
        self.ticket_id, self.current, self.wanted = ticket_id, current, wanted
        msg = f"ticket {ticket_id} is {current}; it cannot go to {wanted}"
        super().__init__(f"{msg} ({hint})" if hint else msg)


class ValidationError(TicketError):
    """A field value is refused (too long, unknown category, score out of range, ...)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


class StoreUnavailable(TicketError):
    """The database cannot be opened or reached."""


class SLAConfigError(TicketError, DataError):
    """The SLA or calendar file is wrong; the message names the file and line."""
