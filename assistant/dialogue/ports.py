"""What the engine needs of the human side, as small Protocols. The engine never imports the desk:
``assistant.runtime.app`` hands it a ``Desk``, tests hand it fakes. Anything with these members will do."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol


class TicketView(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def category(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def unit(self) -> str | None: ...
    @property
    def other_party_unit(self) -> str | None: ...
    @property
    def priority(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...


class HandoffView(Protocol):
    @property
    def id(self) -> str: ...


class AdminView(Protocol):
    @property
    def name(self) -> str: ...


class Tickets(Protocol):
    def list(self, *, reporter_id: str | None = None, limit: int | None = 200) -> Sequence[TicketView]: ...

    def rate(self, ticket_id: str, score: int, comment: str | None = None, *, actor: str | None = None) -> Any: ...


class Handoffs(Protocol):
    def is_paused(self, conversation_id: str) -> bool: ...


class DeskPort(Protocol):
    """Tickets (a resident's earlier units, the satisfaction score), the handoff state, opening a ticket
    from the complaint form's fields, and handing a conversation to the admin on duty."""

    @property
    def tickets(self) -> Tickets: ...
    @property
    def handoffs(self) -> Handoffs: ...
    @property
    def handoff_timeout(self) -> timedelta: ...
    @property
    def dedup_window(self) -> timedelta: ...

    def complain(self, sender: str, text: str, *, category: str, unit: str | None = None,
                 other_party: str | None = None, priority: str = "normal") -> tuple[TicketView, bool]: ...

    def hand_off(self, sender: str, reason: str, summary: str) -> tuple[HandoffView, AdminView]: ...


class BulletinHitView(Protocol):
    @property
    def text(self) -> str: ...
    @property
    def sources(self) -> list[dict[str, Any]]: ...
    @property
    def topic(self) -> str: ...


class BulletinPort(Protocol):
    """The group's own bulletin (``assistant.schedule.bulletin.Bulletin``): current notices, 辟谣
    clarifications and the activity calendar, asked before the knowledge base. None: not about them."""

    def lookup(self, text: str) -> BulletinHitView | None: ...


class LearningPort(Protocol):
    """What the engine tells the learning seam (``assistant.learning.observer.Observer``): every turn
    (route, topic, entries, confidence; doubtful ones with their text, which the seam redacts) and a
    resident's feedback on the last answer. Neither may raise."""

    def observe(self, sender: str, text: str, route: str, topic: str | None, sources: Sequence[dict[str, Any]],
                confidence: float | None, doubt: str | None) -> None: ...

    def feedback(self, sender: str, entry_id: str, helpful: bool) -> None: ...
