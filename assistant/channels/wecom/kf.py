"""微信客服 (kf): pull the residents' messages with ``kf/sync_msg``, answer through the gateway,
reply with ``kf/send_msg``; hand a resident to a human servicer and take the session back.

    kf = KfService(api, store, gateway, handoffs=queue, servicer=on_duty_wecom_user)
    kf.sync("wkXXXX", token)          # on each kf_msg_or_event callback (and once at start)

Restart-safe, exactly one reply per message:
- the cursor is saved per account after each page; a crash before that re-reads the page;
- each message id is claimed in the store before it is answered and marked done after its reply
  was sent; a done id is skipped, so a re-read page or a second process never answers it again;
- a message claimed but not done (the process died while answering) is answered again with the
  same ``msgid`` on ``kf/send_msg`` (derived from the resident's message id), which WeCom accepts
  only once per account: the reply cannot arrive twice.
Messages of one resident are answered in order; different residents' concurrently (``workers``).

Handoff: when the gateway's reply opens a handoff (route ``handoff``, the conversation now waiting
in the desk's queue), the session is transferred (``kf/service_state/trans``, state 3) to the
servicer on duty (the roster's ``contacts.wecom`` user id) and the handoff marked taken by that
admin. When the servicer ends the session (event ``session_status_change``, change_type 3), the
handoff is released and the resident told the assistant is back. Logs carry ids only.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol

from assistant.channels.base import IncomingMessage, parse_time
from assistant.channels.wecom.api import chunks
from assistant.channels.wecom.errors import WeComError
from assistant.channels.wecom.store import CLAIMED, DONE

if TYPE_CHECKING:
    from assistant.channels.gateway import Gateway
    from assistant.channels.wecom.api import WeComAPI
    from assistant.channels.wecom.store import WeComStore

log = logging.getLogger(__name__)

PLATFORM = "wecom"
CUSTOMER, EVENT, SERVICER = 3, 4, 5            # a message's ``origin``
HUMAN, ENDED_STATE = 3, 4                      # service_state: 由人工接待, 已结束
ENDED = 3                                      # session_status_change change_type: 结束会话

WELCOME = ("您好，我是锦山壹号小区助手🙂 可以问我停车、垃圾分类、报修、物业服务、社区活动等问题；"
           "要找人工请说“转人工”。请勿发送身份证号、银行卡号等个人信息。")
NON_TEXT = "抱歉，我暂时只能看懂文字消息。请用文字描述您的问题，例如“车位怎么租”；需要人工请说“转人工”。"
BACK = "本次人工服务已结束，小区助手继续为您服务。还有问题可以直接问我。"
TRANSFERRED = "已为您转接人工客服，请稍候。"


class Handoffs(Protocol):
    """What the channel needs of the desk's handoff queue (``assistant.desk.handoff.HandoffStore``)."""

    def open_for(self, conversation_id: str) -> Any: ...

    def take(self, handoff_id: str, admin: str) -> Any: ...

    def release(self, handoff_id: str, admin: str) -> Any: ...

    def is_paused(self, conversation_id: str) -> bool: ...


Servicer = Callable[[], "tuple[str, str] | None"]     # () -> (roster admin id, WeCom user id) on duty


def reply_id(msgid: str, i: int) -> str:
    """The ``msgid`` of the i-th reply to message ``msgid``: the same after a restart (≤ 32 bytes)."""
    return f"r{hashlib.sha1(msgid.encode('utf-8', 'replace')).hexdigest()[:26]}{i:03d}"[:32]


def conversation_key(external_userid: str) -> str:
    """The conversation (and Rasa sender) of a resident: the gateway's key for a private chat."""
    return f"{PLATFORM}:{external_userid}"


class KfService:
    def __init__(self, api: WeComAPI, store: WeComStore, gateway: Gateway, *, handoffs: Handoffs | None = None,
                 servicer: Servicer | None = None, workers: int = 4) -> None:
        self.api, self.store, self.gateway = api, store, gateway
        self.handoffs, self.servicer = handoffs, servicer
        self.workers = max(1, workers)
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self.behind: set[str] = set()   # accounts whose last sync stopped on a passing failure
        self.handled = 0            # messages answered or acted on by this process

    def _lock(self, open_kfid: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(open_kfid, threading.Lock())

    # -- pulling ---------------------------------------------------------------------------------

    def sync(self, open_kfid: str, token: str | None = None) -> int:
        """Pull and handle everything new for the account; how many messages were handled."""
        count = 0
        with self._lock(open_kfid):
            cursor = self.store.cursor(open_kfid)
            self.behind.discard(open_kfid)
            while True:
                page = self.api.kf_sync_msg(cursor=cursor, open_kfid=open_kfid, token=token)
                msgs = [m for m in page.get("msg_list") or [] if isinstance(m, dict)]
                n, failed = self._handle_page(open_kfid, msgs)
                count += n
                if failed:       # WeCom unreachable or busy past the retries: this page again later
                    self.behind.add(open_kfid)
                    log.warning("wecom kf account=%s: page kept for a later sync (replies failed)", open_kfid)
                    break
                nxt = page.get("next_cursor")
                if isinstance(nxt, str) and nxt and nxt != cursor:
                    cursor = nxt
                    self.store.set_cursor(open_kfid, cursor)
                if not page.get("has_more"):
                    break
        return count

    def _handle_page(self, open_kfid: str, msgs: list[dict[str, Any]]) -> tuple[int, bool]:
        """(messages handled, whether one failed for a passing reason: the page must be read again)."""
        by_user: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
        for m in msgs:
            by_user.setdefault(str(m.get("external_userid") or m.get("event", {}).get("external_userid") or "-"),
                               []).append(m)
        if len(by_user) <= 1 or self.workers == 1:
            results = [self._handle_all(open_kfid, group) for group in by_user.values()]
        else:
            with ThreadPoolExecutor(max_workers=min(self.workers, len(by_user)),
                                    thread_name_prefix="wecom-kf") as pool:
                results = list(pool.map(lambda g: self._handle_all(open_kfid, g), list(by_user.values())))
        return sum(n for n, _ in results), any(f for _, f in results)

    def _handle_all(self, open_kfid: str, msgs: list[dict[str, Any]]) -> tuple[int, bool]:
        """One resident's messages in order; stops at a passing failure (the rest wait, in order)."""
        n = 0
        for m in msgs:
            try:
                n += self.handle(open_kfid, m)
            except WeComError as exc:
                if exc.retryable:
                    log.warning("wecom kf message=%s: WeCom failed (errcode %s), kept for later", m.get("msgid"),
                                exc.errcode)
                    return n, True
                log.error("wecom kf message=%s not answered: errcode %s %s", m.get("msgid"), exc.errcode,
                          exc.errmsg[:80])
            except Exception:
                log.exception("wecom kf message=%s not handled", m.get("msgid"))
        return n, False

    # -- one message -----------------------------------------------------------------------------

    def handle(self, open_kfid: str, msg: dict[str, Any]) -> int:
        """Handle one ``msg_list`` item once; 1 when handled now, 0 when skipped."""
        msgid = msg.get("msgid")
        origin = msg.get("origin")
        if not isinstance(msgid, str) or not msgid or origin not in (CUSTOMER, EVENT):
            return 0                      # the servicer's own messages, or nothing to key it by
        state = self.store.claim(f"kf:{msgid}")
        if state == DONE:
            log.info("wecom kf message=%s already answered", msgid)
            return 0
        if origin == EVENT:
            self._event(open_kfid, msgid, msg.get("event") or {})
        else:
            self._customer(open_kfid, msgid, msg, resumed=state == CLAIMED)
        self.store.done(f"kf:{msgid}")
        self.handled += 1
        return 1

    def _customer(self, open_kfid: str, msgid: str, msg: dict[str, Any], *, resumed: bool = False) -> None:
        user = str(msg.get("external_userid") or "")
        if not user:
            log.warning("wecom kf message=%s without external_userid, skipped", msgid)
            return
        key = conversation_key(user)
        text = (msg.get("text") or {}).get("content") if msg.get("msgtype") == "text" else None
        if not isinstance(text, str):
            if self.handoffs is not None and self.handoffs.is_paused(key):
                return                    # a person has the conversation
            log.info("wecom kf message=%s user=%s type=%s: not text", msgid, user, msg.get("msgtype"))
            self._reply(open_kfid, user, [NON_TEXT], msgid, resumed)
            return
        event = IncomingMessage(PLATFORM, user, False, user, "", text, True,
                                parse_time(msg.get("send_time"), "send_time"), msgid)
        result = self.gateway.handle(event)
        texts = [m.text for m in result.outgoing]
        self._reply(open_kfid, user, texts, msgid, resumed)
        if result.route == "handoff" and texts:
            self._transfer(open_kfid, user, key, msgid)

    def _reply(self, open_kfid: str, user: str, texts: list[str], msgid: str, resumed: bool) -> None:
        """Send; a refusal because WeCom still has the session with a person although the desk gave the
        conversation back (released in the console) ends that session, so the next message is answered."""
        try:
            self._send(open_kfid, user, texts, msgid, resumed)
        except WeComError as exc:
            if exc.retryable or not self.end_stale_session(open_kfid, user):
                raise
            log.warning("wecom kf message=%s user=%s: not answered, the session was still with a person "
                        "(ended now; the resident's next message is answered)", msgid, user)

    def end_conversation(self, conversation_id: str, open_kfid: str) -> bool:
        """End the WeCom session of a conversation the desk gave back (``交还`` in the app)."""
        head = f"{PLATFORM}:"
        if not conversation_id.startswith(head):
            return False
        return self.end_stale_session(open_kfid, conversation_id[len(head):])

    def end_stale_session(self, open_kfid: str, user: str) -> bool:
        """End (state 4) a session WeCom still gives to a person or the pool while the desk has no open
        handoff for it: WeCom allows no way back to the assistant but ending it. True when ended."""
        state = self.api.kf_state(open_kfid, user).get("service_state")
        if state not in (2, 3) or (self.handoffs is not None and self.handoffs.is_paused(conversation_key(user))):
            return False
        self.api.kf_trans(open_kfid, user, ENDED_STATE)
        log.info("wecom kf user=%s: session ended from state %s (handoff released in the desk)", user, state)
        return True

    def _send(self, open_kfid: str, user: str, texts: list[str], msgid: str, resumed: bool = False) -> None:
        i = 0
        for text in texts:
            for part in chunks(text):
                rid = reply_id(msgid, i)
                i += 1
                try:
                    self.api.kf_send_text(user, open_kfid, part, msgid=rid)
                except WeComError as exc:
                    if not resumed or exc.errcode is None:
                        raise
                    # answering again after a crash: WeCom refuses a msgid it already delivered
                    log.info("wecom kf reply %s to message=%s refused on resend (errcode %s): sent before",
                             rid, msgid, exc.errcode)

    def _transfer(self, open_kfid: str, user: str, key: str, msgid: str) -> None:
        if self.handoffs is None:
            return
        handoff = self.handoffs.open_for(key)
        if handoff is None or getattr(handoff, "state", "") != "waiting":
            return
        who = self.servicer() if self.servicer is not None else None
        if who is None:
            log.warning("wecom kf handoff %s: no servicer with a wecom user id on duty; it waits in the queue",
                        handoff.id)
            return
        admin_id, servicer_userid = who
        try:
            self.api.kf_trans(open_kfid, user, HUMAN, servicer_userid)
        except WeComError as exc:
            log.error("wecom kf handoff %s: transfer to %s refused (errcode %s %s); it waits in the queue",
                      handoff.id, admin_id, exc.errcode, exc.errmsg[:80])
            return
        self.handoffs.take(handoff.id, admin_id)
        log.info("wecom kf handoff %s: session of user=%s transferred to admin=%s", handoff.id, user, admin_id)

    def deliver_notices(self, open_kfid: str) -> int:
        """Send the outbox's notices for WeCom residents now (the satisfaction question after a ticket
        was resolved, a handoff nobody took), instead of with their next reply; how many were sent.
        WeCom refuses them more than 48 hours after the resident's last message (logged)."""
        sent = 0
        for m in self.gateway.deliver_notices(PLATFORM):
            user = m.private_to or m.conversation_id
            try:
                for part in chunks(m.text):
                    self.api.kf_send_text(user, open_kfid, part)
                sent += 1
            except WeComError as exc:
                log.warning("wecom kf notice to user=%s not sent: errcode %s", user, exc.errcode)
        return sent

    def _event(self, open_kfid: str, msgid: str, ev: dict[str, Any]) -> None:
        kind = ev.get("event_type")
        user = str(ev.get("external_userid") or "")
        if kind == "enter_session":
            code = ev.get("welcome_code")
            paused = self.handoffs is not None and user and self.handoffs.is_paused(conversation_key(user))
            if isinstance(code, str) and code and not paused:
                self.api.kf_send_on_event(code, WELCOME, msgid=reply_id(msgid, 0))
            log.info("wecom kf user=%s entered the session", user)
        elif kind == "session_status_change" and ev.get("change_type") == ENDED:
            self._back(ev, user, msgid)
        else:
            log.info("wecom kf event=%s user=%s ignored", kind, user or "-")

    def _back(self, ev: dict[str, Any], user: str, msgid: str) -> None:
        """The servicer ended the session: release the handoff, tell the resident."""
        servicer = str(ev.get("old_servicer_userid") or "wecom")
        if self.handoffs is not None and user:
            handoff = self.handoffs.open_for(conversation_key(user))
            if handoff is not None:
                admin = getattr(handoff, "admin", None) or servicer
                self.handoffs.release(handoff.id, admin)
                log.info("wecom kf handoff %s released: session ended by servicer", handoff.id)
        code = ev.get("msg_code")
        if isinstance(code, str) and code:
            self.api.kf_send_on_event(code, BACK, msgid=reply_id(msgid, 0))
        elif user:
            self.api.kf_send_text(user, str(ev.get("open_kfid") or ""), BACK, msgid=reply_id(msgid, 0))
