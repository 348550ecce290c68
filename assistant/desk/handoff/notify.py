"""Telling admins about handoffs and overdue tickets: a small Notifier protocol and three notifiers.

Events are plain dicts, built with ``handoff_event``::

    {"event": "handoff.requested", "event_id": "…", "handoff_id": "H-20261123-0007",
     "conversation_id": …, "resident_id": …, "reason": …, "state": …, "summary": <redacted>,
     "admin": {"id", "name", "contacts", ...} | None, "at": ISO time}

(``handoff.expired`` events from the sweeper add ``ticket_id`` and ``resident_told``), or with
``ticket_event``::

    {"event": "ticket.overdue", "event_id": "…", "ticket_id": "T-20261123-0007", "category": …,
     "priority": …, "status": …, "kind": "first_response" | "resolution", "due": ISO time,
     "assignee": … | None, "admin": {...} | None, "at": ISO time}

Ticket events carry no resident text (no description, no unit). Notifiers never raise into the
conversation: failures are logged (ids only) and dropped.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx

from assistant.desk.handoff.queue import Handoff, redact_summary
from assistant.desk.handoff.roster import Admin
from assistant.desk.tickets.models import Ticket

log = logging.getLogger("assistant.desk.handoff.notify")
EVENTS = ("handoff.requested", "handoff.taken", "handoff.released", "handoff.expired")
TICKET_EVENTS = ("ticket.overdue",)


class Notifier(Protocol):
    def notify(self, event: dict[str, Any]) -> None: ...


def handoff_event(kind: str, handoff: Handoff, admin: Admin | None = None,
                  at: datetime | None = None) -> dict[str, Any]:
    """The event dict for ``handoff`` (``kind`` one of EVENTS); ``admin`` is who should act."""
    return {"event": kind, "event_id": uuid.uuid4().hex, "handoff_id": handoff.id,
            "conversation_id": handoff.conversation_id, "resident_id": handoff.resident_id,
            "reason": handoff.reason, "state": handoff.state, "summary": redact_summary(handoff.summary),
            "admin": admin.as_dict() if admin else None,
            "at": (at or datetime.now(UTC)).isoformat()}


def ticket_event(ticket: Ticket, kind: str, admin: Admin | None = None, at: datetime | None = None,
                 event: str = "ticket.overdue") -> dict[str, Any]:
    """The event dict for ``ticket`` having missed its ``kind`` due time (first_response or
    resolution); ``admin`` is who should act. No resident text goes in."""
    due = ticket.first_response_due if kind == "first_response" else ticket.resolution_due
    return {"event": event, "event_id": uuid.uuid4().hex, "ticket_id": ticket.id, "category": ticket.category,
            "priority": ticket.priority, "status": ticket.status, "kind": kind, "due": due.isoformat(),
            "assignee": ticket.assignee, "admin": admin.as_dict() if admin else None,
            "at": (at or datetime.now(UTC)).isoformat()}


def event_ids(event: dict[str, Any]) -> str:
    """The event's kind and ids for a log line (never the summary)."""
    admin = event.get("admin")
    admin_id = admin.get("id", "-") if isinstance(admin, dict) else (admin or "-")
    if str(event.get("event", "")).startswith("service."):
        return f"{event.get('event')} {event.get('service', '?')} restarts={event.get('restarts', '?')}"
    if str(event.get("event", "")).startswith("ticket."):
        return f"{event.get('event')} {event.get('ticket_id', '?')} kind={event.get('kind', '?')} admin={admin_id}"
    ticket = f" ticket={event['ticket_id']}" if event.get("ticket_id") else ""
    return (f"{event.get('event', '?')} {event.get('handoff_id', '?')} "
            f"conversation={event.get('conversation_id', '?')}{ticket} admin={admin_id}")


class LogNotifier:
    """Logs the event's kind and ids (never the summary)."""

    def __init__(self, logger: logging.Logger = log, level: int = logging.INFO) -> None:
        self.logger, self.level = logger, level

    def notify(self, event: dict[str, Any]) -> None:
        self.logger.log(self.level, "notify %s", event_ids(event))


class WebhookNotifier:
    """POSTs the event as JSON to ``url``. Connection errors, timeouts, 429 and 5xx are retried up to
    ``attempts`` times in all, waiting ``base_delay * 2**n`` (capped at ``max_delay``) between tries;
    other 4xx give up at once. Giving up logs an error. The summary is redacted again before sending.

    ``background=True`` sends from a daemon thread so the conversation never waits; ``flush()``
    waits for sends in flight (tests, shutdown)."""

    def __init__(self, url: str, *, attempts: int = 4, base_delay: float = 0.5, max_delay: float = 8.0,
                 timeout: float = 5.0, headers: dict[str, str] | None = None, background: bool = False,
                 client: httpx.Client | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.url, self.attempts, self.base_delay, self.max_delay = url, attempts, base_delay, max_delay
        self.timeout, self.headers, self.background = timeout, dict(headers or {}), background
        self.client, self.sleep = client, sleep
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()

    def notify(self, event: dict[str, Any]) -> None:
        try:
            payload = dict(event)
            if "summary" in payload:
                payload["summary"] = redact_summary(str(payload["summary"] or ""))
            if not self.background:
                self.send(payload)
                return
            t = threading.Thread(target=self._send_and_forget, args=(payload,), daemon=True,
                                 name="handoff-webhook")
            with self._lock:
                self._threads.add(t)
            t.start()
        except Exception:
            log.exception("webhook %s not sent", event_ids(event))

    def _send_and_forget(self, payload: dict[str, Any]) -> None:
        try:
            self.send(payload)
        except Exception:
            log.exception("webhook %s not sent", event_ids(payload))
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def flush(self, timeout: float | None = None) -> None:
        with self._lock:
            threads = list(self._threads)
        for t in threads:
            t.join(timeout)

    def send(self, payload: dict[str, Any]) -> bool:
        """One delivery with retries; True when the endpoint accepted it (2xx/3xx)."""
        client = self.client or httpx.Client(timeout=self.timeout)
        try:
            for attempt in range(1, self.attempts + 1):
                why = ""
                try:
                    r = client.post(self.url, json=payload, headers=self.headers)
                    if r.status_code < 400:
                        log.info("webhook %s delivered (attempt %d)", event_ids(payload), attempt)
                        return True
                    why = f"HTTP {r.status_code}"
                    if r.status_code < 500 and r.status_code != 429:
                        break                     # the endpoint refuses this payload: retrying won't help
                except httpx.TransportError as exc:
                    why = type(exc).__name__
                if attempt < self.attempts:
                    delay = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
                    log.warning("webhook %s attempt %d failed (%s); retrying in %.2fs",
                                event_ids(payload), attempt, why, delay)
                    self.sleep(delay)
            log.error("webhook %s gave up after attempt %d: %s", event_ids(payload), attempt, why)
            return False
        finally:
            if self.client is None:
                client.close()


class MultiNotifier:
    """Calls every notifier in turn; one failing does not stop the others."""

    def __init__(self, notifiers: Iterable[Notifier]) -> None:
        self.notifiers = list(notifiers)

    def notify(self, event: dict[str, Any]) -> None:
        for n in self.notifiers:
            try:
                n.notify(event)
            except Exception:
                log.exception("notifier %s failed on %s", type(n).__name__, event_ids(event))

    def flush(self, timeout: float | None = None) -> None:
        """Wait for background sends of the notifiers that have them (before a command exits)."""
        for n in self.notifiers:
            flush = getattr(n, "flush", None)
            if callable(flush):
                flush(timeout)
