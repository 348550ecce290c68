"""Talking to the assistant through Rasa's REST channel, as every chat platform does.

``Assistant.ask`` prepares the text (at most ``MAX_MESSAGE_CHARS``, normalisation, clipping),
handles what needs no model (blank or emoji-only messages), sends the rest to Rasa and reads back
replies plus the metadata the custom actions attach. Whatever goes wrong, the resident gets a reply.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TYPE_CHECKING, Any

import httpx

from assistant.channels.base import Reply
from assistant.dialogue import replies
from assistant.text import pinyin
from assistant.text.normalize import is_blank, limit, normalize, prepare, scrub

if TYPE_CHECKING:
    from assistant.desk.handoff import HandoffStore
    from assistant.desk.notices import Outbox
    from assistant.moderation import Moderator

log = logging.getLogger(__name__)
_MARK = re.compile(r"\[[^\[\]]{1,12}已隐藏\]")      # what redaction left in place of a number
# Waiting for Rasa: after PATIENCE s the action server's health is checked (PROBE_TIMEOUT s), so a resident
# gets the polite SERVICE_DOWN reply within ~5 s when it is frozen.
PATIENCE = 2.0
PROBE_TIMEOUT = 2.0


class ActionServerDown(httpx.HTTPError):
    """Rasa has not answered yet and the action server does not answer its health check."""


class RasaClient:
    """POSTs to Rasa's REST channel. With ``health_url`` (the action server's /health): a reply not
    there after ``patience`` s while that check fails within ``probe_timeout`` s raises
    ``ActionServerDown`` at once (Rasa waits minutes for a frozen action server; Rasa 3.6's timeout
    for it, ``DEFAULT_REQUEST_TIMEOUT`` = 300 s, is not configurable). A slow answer from healthy
    servers is still awaited up to ``timeout``."""

    def __init__(self, url: str, timeout: float = 30.0, *, health_url: str | None = None,
                 patience: float = PATIENCE, probe_timeout: float = PROBE_TIMEOUT) -> None:
        self.url = url.rstrip("/")
        self.health_url, self.patience, self.probe_timeout = health_url, patience, probe_timeout
        self._http = httpx.Client(timeout=timeout, trust_env=False)
        self._pool: ThreadPoolExecutor | None = None

    def send(self, sender: str, text: str) -> list[dict[str, Any]]:
        if self.health_url is None:
            return self._send(sender, text)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="rasa-client")
        future = self._pool.submit(self._send, sender, text)
        try:
            return future.result(timeout=self.patience)
        except FutureTimeout:
            pass
        if not self._healthy():
            future.cancel()            # a request already sent ends with its own timeout; its result is dropped
            raise ActionServerDown("the action server does not answer its health check")
        return future.result()

    def _send(self, sender: str, text: str) -> list[dict[str, Any]]:
        resp = self._http.post(f"{self.url}/webhooks/rest/webhook", json={"sender": sender, "message": text})
        resp.raise_for_status()
        data = resp.json()
        if not isinstance(data, list):
            raise ValueError("Rasa REST channel returned something other than a list")
        return data

    def _healthy(self) -> bool:
        if self.health_url is None:
            return True
        try:
            return httpx.get(self.health_url, timeout=self.probe_timeout, trust_env=False).status_code == 200
        except httpx.HTTPError:
            return False

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._http.close()


class Assistant:
    """Resident message in, Reply out. With a moderator, rule-breaking messages (ads, personal
    data, abuse, fee fraud, flooding) are handled here and never reach Rasa."""

    def __init__(self, client: RasaClient, moderator: Moderator | None = None,
                 handoffs: HandoffStore | None = None, outbox: Outbox | None = None) -> None:
        self.client = client
        self.moderator = moderator
        self.handoffs = handoffs  # while a conversation is with a human admin, the bot stays quiet
        self.outbox = outbox      # what the admins' side left for this resident (e.g. the CSAT question)
        pinyin.warm()             # the first message does not wait for the pinyin and typo tables

    def ask(self, text: str, sender: str | None = None) -> Reply:
        start = time.perf_counter()
        sender = scrub(sender) if sender else f"anon-{uuid.uuid4().hex[:12]}"
        reply = self._ask(limit(text or ""), sender)
        reply.latency_ms = (time.perf_counter() - start) * 1000
        return reply

    def _ask(self, text: str, sender: str) -> Reply:
        clean = prepare(text)
        warning: Reply | None = None
        if self.moderator is not None and clean:
            from assistant.moderation import Message  # the moderation package loads SQLAlchemy: only when moderating

            decision = self.moderator.check(Message(sender, sender, normalize(text)))
            if not decision.allowed:
                said = [r for r in (decision.reply, *decision.extra_replies) if r] or [decision.explanation]
                warning = Reply("moderation", said, intent=decision.rule_id)
                if decision.action != "redact" and decision.rule_id != "abuse":
                    return warning
                # Abuse: the warning, and the assistant hands the resident to a human admin.
                # Personal data only: as in the group gateway, warn, then answer the redacted question.
                clean = prepare(decision.redacted_text)
                if is_blank(_MARK.sub("", clean)):
                    return warning            # nothing but the number: nothing to answer
        reply = self._answer(clean, sender)
        if warning is None:
            return reply
        warning.replies += reply.replies
        warning.topic, warning.sources, warning.ticket_id = reply.topic, reply.sources, reply.ticket_id
        return warning

    def _answer(self, clean: str, sender: str) -> Reply:
        if self.handoffs is not None and self.handoffs.is_paused(sender):
            log.info("sender=%s handed off: the bot stays quiet", sender)
            return Reply("handoff", [])
        if is_blank(clean) and clean.strip() not in ("👍", "👎"):   # a thumb is feedback on the last answer
            route, said = replies.blank(clean)
            return Reply(route, [said])
        try:
            messages = self.client.send(sender, clean)
        except (httpx.HTTPError, ValueError) as exc:
            log.error("sender=%s rasa request failed: %s", sender, type(exc).__name__,
                      exc_info=log.isEnabledFor(logging.DEBUG))
            return Reply("fallback", [replies.SERVICE_DOWN])
        reply = parse(messages, sender)
        reply.replies[:0] = self._notices(sender)
        return reply

    def _notices(self, sender: str) -> list[str]:
        """Texts waiting in the outbox for this conversation, delivered before the reply."""
        if self.outbox is None:
            return []
        try:
            return [n.text for n in self.outbox.claim(sender)]
        except Exception:
            log.exception("sender=%s outbox unavailable", sender)
            return []

    def close(self) -> None:
        self.client.close()


def parse(messages: list[dict[str, Any]], sender: str = "") -> Reply:
    """Replies and the action's metadata from Rasa's REST output."""
    texts = [m["text"] for m in messages if isinstance(m.get("text"), str)]
    metas = [m["custom"] for m in messages if isinstance(m.get("custom"), dict) and "route" in m["custom"]]
    if not metas:
        # No custom action ran: the action server is down or failed.
        log.error("sender=%s no action metadata in Rasa's reply (action server down?)", sender)
        return Reply("fallback", [replies.SERVICE_DOWN])
    meta = metas[-1]
    return Reply(route=meta.get("route", "fallback"), replies=texts or [replies.SERVICE_DOWN],
                 intent=meta.get("intent"), confidence=meta.get("confidence"), topic=meta.get("topic"),
                 sources=list(meta.get("sources") or []), ticket_id=meta.get("ticket_id"),
                 answer_confidence=meta.get("answer_confidence"))
