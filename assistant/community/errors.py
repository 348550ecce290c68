"""The community seam's errors: bad input (named field, a message for the resident) and an
unavailable database."""

from __future__ import annotations

from assistant.errors import AssistantError


class CommunityError(AssistantError):
    """Base of the community seam's errors; ``str()`` is a Chinese message fit for the chat."""


class BadInput(CommunityError):
    """Input that cannot be taken: ``field`` names what is wrong, the message says how to fix it."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.reason = message
        super().__init__(message)


class NotFound(CommunityError):
    """No such sign-up, survey, post or contact."""


class Refused(CommunityError):
    """Well-formed but not allowed now (closed, past the deadline, already answered, rate limit)."""


class CommunityUnavailable(CommunityError):
    """The community database cannot be reached or migrated."""
