"""Handing a conversation to a human admin: the roster (轮值制度), the handoff queue, notifiers, a CLI.

    from assistant.desk.handoff import load_roster, open_handoffs, handoff_event, LogNotifier
    roster = load_roster("assistant/desk/handoff/examples/roster.yml")
    with open_handoffs() as queue:                        # the tickets' database by default
        h, created = queue.request("conv-1", "wx-123", "request_human", "想找物业人工客服")
        if created:
            LogNotifier().notify(handoff_event("handoff.requested", h, roster.handler(h.created_at)))
        queue.is_paused("conv-1")                         # True: the bot stays quiet
"""

from __future__ import annotations

from assistant.desk.handoff.notify import (
           EVENTS,
           TICKET_EVENTS,
           LogNotifier,
           MultiNotifier,
           Notifier,
           WebhookNotifier,
           handoff_event,
           ticket_event,
)
from assistant.desk.handoff.queue import (
           OPEN,
           REASONS,
           STATES,
           AlreadyTaken,
           Handoff,
           HandoffError,
           HandoffNotFound,
           HandoffStore,
           HandoffUnavailable,
           HandoffValidation,
           InvalidHandoffState,
           SQLHandoffStore,
           normalize_handoff_id,
           open_handoffs,
           redact_summary,
)
from assistant.desk.handoff.roster import Admin, DutyRoster, RosterError, load_roster

__all__ = [
           "EVENTS",
           "OPEN",
           "REASONS",
           "STATES",
           "TICKET_EVENTS",
           "Admin",
           "AlreadyTaken",
           "DutyRoster",
           "Handoff",
           "HandoffError",
           "HandoffNotFound",
           "HandoffStore",
           "HandoffUnavailable",
           "HandoffValidation",
           "InvalidHandoffState",
           "LogNotifier",
           "MultiNotifier",
           "Notifier",
           "RosterError",
           "SQLHandoffStore",
           "WebhookNotifier",
           "handoff_event",
           "load_roster",
           "normalize_handoff_id",
           "open_handoffs",
           "redact_summary",
           "ticket_event",
]
