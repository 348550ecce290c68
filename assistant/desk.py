"""The human side the engine hands work to: dispute tickets, the handoff queue, the duty roster."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timezone

from .handoff import HandoffStore, LogNotifier, Notifier, Roster, handoff_event, load_roster, open_handoffs
from .tickets import Reporter
from .tickets.store import TicketStore, open_store
from .tickets.text import normalize_unit

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
CATEGORY_NAMES = {"noise": "噪音", "pets": "宠物", "parking": "停车纠纷", "service": "物业服务", "fees": "费用账单",
                  "neighbour": "邻里纠纷", "cleaning": "环境卫生", "safety": "安全隐患", "renovation": "装修",
                  "other": "其他"}
_URGENT = re.compile(r"紧急|马上|立刻|危险|着火|砸到|受伤")
_UNIT = re.compile(r"([0-9一二三四五六七八九十]+\s*(?:号楼|栋|幢|座|号|#|-|/)\s*(?:[0-9一二三四五六七八九十]+\s*单元\s*)?"
                   r"[0-9]{2,5}\s*(?:室|号)?(?:[-/][0-9]{2,5})?)")


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

    @classmethod
    def open(cls, url: str | None = None) -> Desk:
        """Stores at ``url`` (default $ASSISTANT_TICKETS_URL, else models/tickets.db)."""
        return cls(open_store(url), open_handoffs(url), load_roster(), LogNotifier())

    def complain(self, sender: str, text: str):  # noqa: ANN201 - returns (Ticket, created)
        category = infer_category(text)
        priority = "urgent" if _URGENT.search(text) else ("high" if category == "safety" else "normal")
        ticket, created = self.tickets.open_or_append(Reporter(sender), category, find_unit(text), text,
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
