"""Admins in the WeCom app (自建应用): their replies act on tickets and handoffs through the Desk,
as the console and the CLI do; notifications reach them as app messages (``message/send``).

    接单 T-20261123-0007            take the ticket (assigned to you, in progress)
    结单 T-20261123-0007 已处理      resolve it with a comment (the resident is asked for a score)
    接单 H-20261123-0003            take a handoff
    交还 H-20261123-0003            give the conversation back to the assistant
    帮助                             these lines

The sender is known by the roster's ``contacts.wecom`` (the member's WeCom user id); anyone else is
refused. Every answer goes back to the sender as an app message.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from assistant.channels.wecom.errors import WeComError

if TYPE_CHECKING:
    from assistant.desk.desk import Desk

log = logging.getLogger(__name__)

HELP = ("可用指令：\n接单 T-工单号 —— 认领工单\n结单 T-工单号 处理说明 —— 办结工单（居民会收到满意度调查）\n"
        "接单 H-转人工号 —— 接手转人工会话\n交还 H-转人工号 —— 交还助手")
_CMD = re.compile(r"^\s*(接单|结单|交还|帮助|help)\s*([TH]\s*-\s*\d{8}\s*-\s*\d{4,})?\s*(.*)$", re.I | re.S)


def parse_command(text: str) -> tuple[str, str | None, str] | None:
    """(verb, id, rest) of an admin's message, or None when it is not a command."""
    text = text or ""
    folded = unicodedata.normalize("NFKC", text)
    m = _CMD.match(folded)
    if not m:
        return None
    verb = m.group(1).lower()
    ident = re.sub(r"\s+", "", m.group(2)).upper() if m.group(2) else None
    rest = text[m.start(3):] if len(folded) == len(text) else m.group(3)     # the comment as written
    return ("帮助" if verb == "help" else verb), ident, rest.strip()


def wecom_id(admin: Any) -> str | None:
    """The admin's WeCom user id (the roster's ``contacts.wecom``); None for a placeholder."""
    uid = str((getattr(admin, "contacts", None) or {}).get("wecom") or "").strip()
    if not uid or "{{" in uid or "placeholder" in uid.lower() or "占位" in uid:
        return None
    return uid


def wecom_ids(admins: Iterable[Any]) -> dict[str, str]:
    """WeCom user id -> roster admin id, from the roster's ``contacts.wecom`` (placeholders skipped)."""
    return {uid: a.id for a in admins if (uid := wecom_id(a)) is not None}


class AdminCommands:
    def __init__(self, desk_factory: Callable[[], Desk], reply: Callable[[str, str], None],
                 released: Callable[[str], object] | None = None) -> None:
        self.desk_factory = desk_factory   # a fresh Desk per command (closed after): the console's stores
        self.reply = reply                 # (wecom user id, text) -> None
        self.released = released           # (conversation id) -> …: end the WeCom session of a given-back handoff

    def handle(self, userid: str, text: str) -> str:
        """Act on one admin message and answer the sender; returns the answer."""
        answer = self._answer(userid, text)
        try:
            self.reply(userid, answer)
        except WeComError as exc:
            log.error("wecom admin answer to %s not sent: errcode %s", userid, exc.errcode)
        return answer

    def _answer(self, userid: str, text: str) -> str:
        cmd = parse_command(text)
        if cmd is None:
            return "没看懂这条指令。\n" + HELP
        verb, ident, rest = cmd
        if verb == "帮助":
            return HELP
        if ident is None:
            return f"请写上编号，例如“{verb} T-20261123-0007”。"
        from assistant.desk.handoff import HandoffError
        from assistant.desk.tickets.errors import TicketError

        with self.desk_factory() as desk:
            admin = wecom_ids(desk.roster.admins).get(userid)
            if admin is None:
                log.warning("wecom admin command from user=%s refused: not in the roster", userid)
                return "你不在值班名单（roster 的 contacts.wecom）里，不能处理工单。请联系管理员添加。"
            try:
                return self._act(desk, admin, verb, ident, rest, self.released)
            except (TicketError, HandoffError) as exc:
                log.info("wecom admin=%s %s %s refused: %s", admin, verb, ident, type(exc).__name__)
                return f"未能{verb} {ident}：{exc}"

    @staticmethod
    def _act(desk: Desk, admin: str, verb: str, ident: str, rest: str,
             released: Callable[[str], object] | None = None) -> str:
        from assistant.desk.handoff import handoff_event

        if ident.startswith("H-"):
            if verb == "接单":
                h = desk.handoffs.take(ident, admin)
                desk.notifier.notify(handoff_event("handoff.taken", h))
                return f"已接手 {ident}，请在微信客服中回复居民。"
            if verb == "交还":
                h = desk.handoffs.release(ident, admin)
                desk.notifier.notify(handoff_event("handoff.released", h))
                if released is not None:
                    try:
                        released(h.conversation_id)
                    except WeComError as exc:
                        log.warning("wecom session of handoff %s not ended: errcode %s", h.id, exc.errcode)
                return f"{ident} 已交还助手。"
            return f"转人工 {ident} 只能“接单”或“交还”。"
        if verb == "接单":
            t = desk.tickets.assign(ident, admin, actor=admin, comment="企业微信接单")
            log.info("wecom admin=%s took ticket %s", admin, t.id)
            return f"已认领工单 {t.id}，处理完请回复“结单 {t.id} 处理说明”。"
        if verb == "结单":
            t, _texts = desk.resolve(ident, actor=admin, comment=rest or "已处理")
            log.info("wecom admin=%s resolved ticket %s", admin, t.id)
            return f"工单 {t.id} 已办结，已请居民评价。"
        return f"工单 {ident} 只能“接单”或“结单”。"
