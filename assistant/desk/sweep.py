"""The desk's periodic chores: handoffs nobody took in time, and tickets past their SLA.

    from assistant.runtime.app import open_desk
    from assistant.desk.sweep import Sweeper, sweep
    with open_desk(settings) as desk:
        report = sweep(desk)                       # once
        with Sweeper(desk, every=60):              # or every minute in a daemon thread
            ...

``sweep`` does two things:

1. expires waiting handoffs older than the take timeout (default the desk's ``handoff_timeout``:
   $ASSISTANT_HANDOFF_TIMEOUT minutes, else 30) and for each one opens a ticket that keeps the request
   (the already redacted summary), tells the resident in the chat (``push.HANDOFF_TIMEOUT``; an unreachable resident is
   recorded in the report and as a ticket note; the texts Rasa returns for a conversation it cannot
   push to go to the desk's outbox, ``notices``, for the gateway to deliver) and notifies the admins
   (``handoff.expired``).
   ``expire`` hands each handoff to exactly one sweeper, even across processes.
2. reminds the admins of every overdue ticket once per kind (first_response, resolution): the
   reminder is claimed first in the ``ticket_reminders`` table (primary key ticket + kind, so a
   second sweep, in this process or another, finds it taken and stays quiet), then sent
   (``ticket.overdue``). A reminder is therefore sent at most once; if the process dies between the
   claim and the send, that reminder is lost rather than repeated. A reopened ticket that goes
   overdue again is not reminded again of the same kind.

A sweep never raises for one bad item: failures are logged (ids and the traceback) and listed in
``SweepReport.errors`` (ids and exception types only).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from assistant.desk.handoff.notify import handoff_event, ticket_event
from assistant.desk.notices import HANDOFF_TIMEOUT as TIMEOUT_NOTICE
from assistant.desk.notices import keep
from assistant.desk.push import HANDOFF_TIMEOUT, ResidentUnreachable
from assistant.desk.tickets.models import SYSTEM
from assistant.text.units import find_unit
from assistant.vocabulary import infer_category

if TYPE_CHECKING:
    from assistant.desk.desk import Desk
    from assistant.desk.handoff.queue import Handoff
    from assistant.desk.handoff.roster import Admin

log = logging.getLogger("assistant.desk.sweep")

TICKET_PREFIX = "转人工未及时接手："
TOLD_NOTE = "已在聊天中告知居民：转人工超时未接手，已转为工单跟进"
UNREACHABLE_NOTE = "转人工超时通知未能送达居民：助手未在运行，请线下联系居民"


@dataclass
class ExpiredHandoff:
    handoff_id: str
    conversation_id: str
    ticket_id: str | None           # None when the ticket could not be opened (see the report's errors)
    told: bool                      # the resident was told in the chat
    admin_id: str | None
    texts: list[str] = field(default_factory=list)   # replies the caller's own channel must deliver
    queued: bool = False            # Rasa's replies went to the outbox (the gateway delivers them)


@dataclass
class Reminder:
    ticket_id: str
    category: str
    kind: str                       # first_response | resolution
    due: datetime
    assignee: str | None
    admin_id: str | None


@dataclass
class SweepReport:
    at: datetime
    expired: list[ExpiredHandoff] = field(default_factory=list)
    reminders: list[Reminder] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)          # "<step> <id>: <exception type>"

    @property
    def unreachable(self) -> list[str]:
        """Conversations whose resident could not be told their handoff expired."""
        return [e.conversation_id for e in self.expired if not e.told]

    @property
    def empty(self) -> bool:
        return not (self.expired or self.reminders or self.errors)

    def as_dict(self) -> dict[str, Any]:
        def plain(v: Any) -> Any:
            return v.isoformat() if isinstance(v, datetime) else v

        return {"at": self.at.isoformat(),
                "expired": [{k: plain(v) for k, v in asdict(e).items()} for e in self.expired],
                "reminders": [{k: plain(v) for k, v in asdict(r).items()} for r in self.reminders],
                "unreachable": self.unreachable, "errors": list(self.errors)}


def _fail(report: SweepReport, step: str, ident: str, exc: BaseException) -> None:
    # The report (printed, returned as JSON) has the type only: messages may quote residents' text.
    report.errors.append(f"{step} {ident}: {type(exc).__name__}")
    log.error("sweep %s %s failed", step, ident, exc_info=exc)


def _handler(desk: Desk, now: datetime, category: str | None) -> Admin | None:
    try:
        return desk.roster.handler(now, category)
    except Exception as exc:
        log.error("sweep: nobody on duty at %s", now.isoformat(), exc_info=exc)
        return None


def _expire_one(desk: Desk, h: Handoff, now: datetime, report: SweepReport) -> None:
    category = infer_category(h.summary)
    item = ExpiredHandoff(h.id, h.conversation_id, None, False, None)
    try:
        ticket = desk.tickets.create(h.resident_id, category, find_unit(h.summary), TICKET_PREFIX + h.summary)
        item.ticket_id = ticket.id
    except Exception as exc:
        _fail(report, "ticket for handoff", h.id, exc)
    if item.ticket_id:
        try:
            texts = desk.residents.tell(h.conversation_id, HANDOFF_TIMEOUT,
                                        {"ticket_id": item.ticket_id, "handoff_id": h.id})
            item.told = True
            item.queued = keep(desk.notices, h.conversation_id, texts, TIMEOUT_NOTICE, item.ticket_id)
            item.texts = [] if item.queued else texts
        except ResidentUnreachable:
            log.warning("sweep: resident of handoff %s unreachable (conversation %s)", h.id, h.conversation_id)
        except Exception as exc:
            _fail(report, "tell resident of handoff", h.id, exc)
        try:
            desk.tickets.comment(item.ticket_id, TOLD_NOTE if item.told else UNREACHABLE_NOTE, actor=SYSTEM)
        except Exception as exc:
            _fail(report, "note on ticket", item.ticket_id, exc)
    admin = _handler(desk, now, category)
    item.admin_id = admin.id if admin else None
    event = handoff_event("handoff.expired", h, admin, at=now)
    event.update(ticket_id=item.ticket_id, resident_told=item.told)
    try:
        desk.notifier.notify(event)
    except Exception as exc:
        _fail(report, "notify handoff", h.id, exc)
    log.info("sweep: handoff %s expired -> ticket %s (resident told: %s)", h.id, item.ticket_id or "-", item.told)
    report.expired.append(item)


def _remind(desk: Desk, now: datetime, report: SweepReport) -> None:
    try:
        overdue = desk.tickets.overdue(now)
    except Exception as exc:
        _fail(report, "list overdue", "tickets", exc)
        return
    for t in overdue:
        kind = t.overdue_kind(now)
        if kind is None:
            continue
        due = t.first_response_due if kind == "first_response" else t.resolution_due
        try:
            if not desk.tickets.claim_reminder(t.id, kind, due):
                continue                     # reminded before, here or by another process
        except Exception as exc:
            _fail(report, "claim reminder", t.id, exc)
            continue
        admin = _handler(desk, now, t.category)
        try:
            desk.notifier.notify(ticket_event(t, kind, admin, at=now))
        except Exception as exc:
            _fail(report, "notify ticket", t.id, exc)
        log.info("sweep: ticket %s overdue (%s), admins reminded", t.id, kind)
        report.reminders.append(Reminder(t.id, t.category, kind, due, t.assignee, admin.id if admin else None))


def sweep(desk: Desk, now: datetime | None = None, *, take_timeout: timedelta | None = None) -> SweepReport:
    """Expire untaken handoffs (keeping each request as a ticket, telling the resident and the admins)
    and remind the admins once of each overdue ticket. ``take_timeout`` defaults to the desk's."""
    timeout = take_timeout if take_timeout is not None else desk.handoff_timeout
    now = (now or datetime.now(UTC)).astimezone(UTC)
    report = SweepReport(now)
    try:
        expired = desk.handoffs.expire(now, timeout)
    except Exception as exc:
        _fail(report, "expire", "handoffs", exc)
        expired = []
    for h in expired:
        _expire_one(desk, h, now, report)
    _remind(desk, now, report)
    return report


class Sweeper:
    """Runs ``sweep`` now and then every ``every`` seconds in a daemon thread until ``stop()``.
    A failing sweep is logged with its traceback and the loop goes on."""

    def __init__(self, desk: Desk, every: float = 60.0, *, take_timeout: timedelta | None = None,
                 clock: Callable[[], datetime] | None = None,
                 on_report: Callable[[SweepReport], None] | None = None) -> None:
        if not every > 0:
            raise ValueError("every must be a positive number of seconds")
        self.desk, self.every, self.clock, self.on_report = desk, every, clock, on_report
        self.take_timeout = take_timeout if take_timeout is not None else desk.handoff_timeout
        self.runs = self.failures = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> Sweeper:
        if self.running:
            return self
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="desk-sweeper", daemon=True)
        self._thread.start()
        log.info("sweeper started (every %.1fs)", self.every)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop and wait for the thread (a sweep in progress finishes first, up to ``timeout``)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("sweeper still finishing a sweep after %.1fs", timeout)
        log.info("sweeper stopped after %d run(s), %d failed", self.runs, self.failures)

    def __enter__(self) -> Sweeper:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def run_once(self) -> SweepReport | None:
        self.runs += 1
        try:
            report = sweep(self.desk, self.clock() if self.clock else None, take_timeout=self.take_timeout)
            if self.on_report is not None:
                self.on_report(report)
            return report
        except Exception:
            self.failures += 1
            log.exception("sweeper run %d failed", self.runs)
            return None

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self._stop.wait(self.every)
