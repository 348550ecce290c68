"""The human side the engine hands work to: dispute tickets, the handoff queue, the duty roster."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from assistant.desk.handoff import DutyRoster, HandoffStore, Notifier, handoff_event
from assistant.desk.handoff.queue import Handoff
from assistant.desk.handoff.roster import Admin
from assistant.desk.notices import CSAT as CSAT_NOTICE
from assistant.desk.notices import Outbox, keep
from assistant.desk.push import CSAT, NoResidents, Residents, ResidentUnreachable
from assistant.desk.tickets import Reporter, Ticket
from assistant.desk.tickets.store import TicketStore

log = logging.getLogger(__name__)


@dataclass
class Desk:
    tickets: TicketStore
    handoffs: HandoffStore
    roster: DutyRoster
    notifier: Notifier
    residents: Residents = field(default_factory=NoResidents)
    notices: Outbox | None = None       # texts Rasa could not push wait here for a gateway; None: not kept

    dedup_window: timedelta = timedelta(hours=24)        # a repeat complaint within it is appended
    handoff_timeout: timedelta = timedelta(minutes=30)   # a handoff nobody took by then expires

    # Built from Settings by assistant.runtime.app.open_desk; close() (or ``with``) disposes the stores.
    def __enter__(self) -> Desk:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Send what the notifier still holds (background webhooks), then dispose the ticket store
        (and the outbox on its engine) and the handoff queue."""
        flush = getattr(self.notifier, "flush", None)
        if callable(flush):
            flush(10.0)
        for store in (self.tickets, self.handoffs, self.notices):
            dispose = getattr(store, "dispose", None)
            if callable(dispose):
                dispose()

    def resolve(self, ticket_id: str, *, actor: str, comment: str | None = None) -> tuple[Ticket, list[str]]:
        """Resolve the ticket and ask its reporter for a 1-5 satisfaction score in the chat. Texts Rasa
        returns instead of pushing (REST-channel conversations) go to the outbox, for the gateway
        to deliver; returns the ticket and any texts the caller's own channel must still deliver
        (only when they could not be kept, see ``push`` and ``notices``)."""
        ticket = self.tickets.resolve(ticket_id, actor=actor, comment=comment)
        try:
            texts = self.residents.tell(ticket.reporter_id, CSAT, {"ticket_id": ticket.id})
            note = "已在聊天中请居民评价（满意度 1-5 分）"
        except ResidentUnreachable:
            texts, note = [], "满意度调查未能送达：助手未在运行，请线下询问居民评价"
        if keep(self.notices, ticket.reporter_id, texts, CSAT_NOTICE, ticket.id):
            texts = []
        self.tickets.comment(ticket.id, note, actor="system")
        return self.tickets.get(ticket.id), texts

    def complain(self, sender: str, text: str, *, category: str, unit: str | None = None,
                 other_party: str | None = None, priority: str = "normal") -> tuple[Ticket, bool]:
        """Open a ticket for ``sender`` or append to the same resident's open one of this category
        (within $ASSISTANT_DEDUP_HOURS, default 24). The fields come from the complaint form."""
        ticket, created = self.tickets.open_or_append(Reporter(sender), category, unit or None, text,
                                                      self.dedup_window, other_party=other_party,
                                                      priority=priority)
        log.info("ticket %s %s for sender=%s category=%s", ticket.id, "opened" if created else "appended",
                 sender, category)
        return ticket, created

    def hand_off(self, sender: str, reason: str, summary: str) -> tuple[Handoff, Admin]:
        handoff, created = self.handoffs.request(sender, sender, reason, summary)
        admin = self.roster.handler(datetime.now(UTC))
        if created:
            self.notifier.notify(handoff_event("handoff.requested", handoff, admin))
        return handoff, admin
