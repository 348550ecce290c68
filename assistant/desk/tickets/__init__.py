"""Dispute tickets: a store (SQLite by default, PostgreSQL by URL), SLA clocks and an admin CLI.

    from assistant.desk.tickets import open_store, Reporter
    with open_store() as store:                       # $ASSISTANT_TICKETS_URL or models/tickets.db
        ticket, created = store.open_or_append(Reporter("wx-123", "张伟"), "noise", "5栋101",
                                               "楼上每晚12点后还在拖椅子")
"""

from __future__ import annotations

from assistant.desk.tickets.errors import (
           InvalidTransition,
           SLAConfigError,
           StoreUnavailable,
           TicketError,
           TicketNotFound,
           ValidationError,
)
from assistant.desk.tickets.models import (
           CATEGORIES,
           LIMITS,
           OVERDUE_KINDS,
           PRIORITIES,
           STATUSES,
           SYSTEM,
           TRANSITIONS,
           Event,
           Reporter,
           Ticket,
)
from assistant.desk.tickets.sla import Calendar, SLAPolicy, load_calendar, load_sla
from assistant.desk.tickets.store import RatingRefused, SQLTicketStore, TicketStore, default_url, open_store
from assistant.desk.tickets.text import mask_name
from assistant.text.units import normalize_unit

__all__ = [
           "CATEGORIES",
           "LIMITS",
           "OVERDUE_KINDS",
           "PRIORITIES",
           "STATUSES",
           "SYSTEM",
           "TRANSITIONS",
           "Calendar",
           "Event",
           "InvalidTransition",
           "RatingRefused",
           "Reporter",
           "SLAConfigError",
           "SLAPolicy",
           "SQLTicketStore",
           "StoreUnavailable",
           "Ticket",
           "TicketError",
           "TicketNotFound",
           "TicketStore",
           "ValidationError",
           "default_url",
           "load_calendar",
           "load_sla",
           "mask_name",
           "normalize_unit",
           "open_store",
]
