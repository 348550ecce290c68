"""The human side the engine hands work to: dispute tickets, the handoff queue, the duty roster."""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from assistant.errors import ConfigError
from assistant.desk.handoff import HandoffStore, Notifier, Roster, handoff_event, load_roster, open_handoffs
from assistant.desk.notices import CSAT as CSAT_NOTICE, Outbox, SQLOutbox, keep
from assistant.desk.push import CSAT, NoResidents, ResidentUnreachable, Residents
from assistant.desk.tickets import Reporter, Ticket
from assistant.desk.tickets.models import CATEGORY_NAMES as CATEGORY_NAMES  # re-exported: its home is the ticket model
from assistant.desk.tickets.store import TicketStore, open_store
from assistant.desk.tickets.text import normalize_unit

log = logging.getLogger(__name__)

# Checked in order: the first category whose words appear wins.
CATEGORY_WORDS = (
    ("safety", "高空抛物|消防|安全通道|隐患|危险|楼道充电|飞线充电|堆满|杂物"),
    ("pets", "狗|猫|宠物|遛狗|拴绳|狗屎|猫砂"),
    ("noise", "吵|噪音|噪声|声音|广场舞|音响|电钻|半夜.*响"),
    ("parking", "车位|停车|乱停|占位|挡住|堵住|车库|地库"),
    ("fees", "物业费|收费|费用|多收|多扣|扣费|账单|涨价|发票|退费|乱收"),
    ("cleaning", "脏|卫生|保洁|打扫|臭|异味|垃圾没人|蟑螂|老鼠"),
    ("renovation", "装修|施工|敲墙|砸墙"),
    ("neighbour", "邻居|隔壁|楼上|楼下|对门"),
    ("service", "保安|物业|客服|态度|没人管|不理|维修|报修|电梯|门禁|路灯"),
)
_UNIT = re.compile(r"([0-9一二三四五六七八九十]+\s*(?:号楼|栋|幢|座|号|#|-|/)\s*(?:[0-9一二三四五六七八九十]+\s*单元\s*)?"
                   r"[0-9]{2,5}\s*(?:室|号)?(?:[-/][0-9]{2,5})?)")


def dedup_window() -> timedelta:
    """How long a resident's repeat complaint of the same category is appended, not a new ticket."""
    raw = os.environ.get("ASSISTANT_DEDUP_HOURS", "24")
    try:
        hours = float(raw)
    except ValueError:
        raise ConfigError(f"ASSISTANT_DEDUP_HOURS={raw!r} is not a number of hours") from None
    return timedelta(hours=max(hours, 0.0))


def handoff_timeout() -> timedelta:
    """How long a handoff may wait for an admin before the resident is told and a ticket keeps the
    request: $ASSISTANT_HANDOFF_TIMEOUT minutes (default 30)."""
    raw = os.environ.get("ASSISTANT_HANDOFF_TIMEOUT", "").strip()
    if not raw:
        return timedelta(minutes=30)
    try:
        minutes = float(raw)
    except ValueError:
        minutes = -1.0
    if not 0 < minutes < 7 * 24 * 60:
        raise ConfigError(f"ASSISTANT_HANDOFF_TIMEOUT={raw!r} is not a number of minutes (e.g. 30)")
    return timedelta(minutes=minutes)


def infer_category(text: str) -> str:
    for category, words in CATEGORY_WORDS:
        if re.search(words, text):
            return category
    return "other"


def find_unit(text: str) -> str | None:
    """The first unit (5-101, 5栋101, 五号楼1单元101) mentioned in a message, normalised."""
    for m in _UNIT.finditer(text):
        unit = normalize_unit(m.group(1))
        if unit:
            return unit
    return None


@dataclass
class Desk:
    tickets: TicketStore
    handoffs: HandoffStore
    roster: Roster
    notifier: Notifier
    residents: Residents = field(default_factory=NoResidents)
    notices: Outbox | None = None       # texts Rasa could not push wait here for a gateway; None: not kept

    @classmethod
    def open(cls, url: str | None = None, rasa_url: str | None = None) -> Desk:
        """Stores at ``url`` (default $ASSISTANT_TICKETS_URL, else models/tickets.db); residents are
        reached through the Rasa server at ``rasa_url`` (default: the configured one). The outbox
        shares the ticket store's engine (disposing the ticket store closes it)."""
        from assistant.desk.admin_notify import notifier_from_env
        from assistant.settings import load_settings
        from assistant.desk.push import RasaResidents

        residents = RasaResidents(rasa_url or load_settings().rasa_url)
        tickets = open_store(url)
        return cls(tickets, open_handoffs(url), load_roster(), notifier_from_env(), residents,
                   SQLOutbox(tickets.engine))

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
                                                      dedup_window(), other_party=other_party,
                                                      priority=priority)
        log.info("ticket %s %s for sender=%s category=%s", ticket.id, "opened" if created else "appended",
                 sender, category)
        return ticket, created

    def hand_off(self, sender: str, reason: str, summary: str):  # noqa: ANN201 - returns (Handoff, Admin)
        handoff, created = self.handoffs.request(sender, sender, reason, summary)
        admin = self.roster.handler(datetime.now(timezone.utc))
        if created:
            self.notifier.notify(handoff_event("handoff.requested", handoff, admin))
        return handoff, admin
