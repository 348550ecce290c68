"""Running the schedule: every due post and event reminder posted once, late ones reported instead.

    report = run_due(store, posters, notifier)            # once (the desk's sweeper calls it)
    with ScheduleRunner(store, posters, notifier, every=60):   # or in a daemon thread
        ...

For each active post, the due times between its ``checked_until`` and now are computed from its
rule (working days from chinese-calendar); each is claimed in ``schedule_runs`` (unique job + due
time), so two runners, or a runner restarted after a crash, never post it twice. A due time more
than ``grace`` in the past (the process was down) is not posted late: it is marked ``missed`` and
reported to the admins (event ``schedule.missed``) once. Claim first, then post: a process dying
between the two loses that post rather than repeating it (the run stays ``claimed``, visible in
``schedule list``). Event reminders (minutes before the start) work the same way.

Delivery goes through ``Poster``s by target: ``group`` (the group outbox, which each group
adapter's gateway sends, or a live adapter's send function) and ``admins`` (the admins' notifier).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any, Protocol

from assistant.schedule import rules
from assistant.schedule.models import Event, Post
from assistant.schedule.store import ScheduleStore
from assistant.schedule.templates import render

log = logging.getLogger("assistant.schedule.runner")

DEFAULT_GRACE = timedelta(minutes=30)
CALENDAR_NOTICE = timedelta(days=45)     # how long before a year without holiday data the admins hear of it


class Poster(Protocol):
    """Delivers one scheduled text (``job`` names what it is, for logs)."""

    def post(self, text: str, job: str) -> None: ...


class Notifier(Protocol):
    def notify(self, event: dict[str, Any]) -> None: ...


class OutgoingSend(Protocol):
    def __call__(self, message: Any) -> None: ...


class GroupOutboxPoster:
    """Queues the post for each group (``platform``, ``conversation``); the adapter of that platform
    sends it through its gateway (``Gateway.deliver_notices``), once."""

    def __init__(self, store: ScheduleStore, groups: list[tuple[str, str]]) -> None:
        self.store, self.groups = store, groups

    def post(self, text: str, job: str) -> None:
        if not self.groups:
            raise RuntimeError("no group configured ($ASSISTANT_SCHEDULE_GROUPS)")
        for platform, conversation in self.groups:
            self.store.queue_group(platform, conversation, text, job)


class SendPoster:
    """Posts straight through a chat adapter's send function (e.g. Telegram's Bot API)."""

    def __init__(self, send: OutgoingSend, conversation_id: str) -> None:
        self.send, self.conversation_id = send, conversation_id

    def post(self, text: str, job: str) -> None:
        from assistant.channels.base import OutgoingMessage

        self.send(OutgoingMessage(self.conversation_id, text))


class NotifierPoster:
    """Posts to the admins through the desk's notifier (log, webhook, admins' group)."""

    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier

    def post(self, text: str, job: str) -> None:
        self.notifier.notify({"event": "schedule.post", "job": job, "text": text})


@dataclass
class ScheduleReport:
    at: datetime
    posted: list[tuple[str, datetime]] = field(default_factory=list)
    missed: list[tuple[str, datetime]] = field(default_factory=list)
    failed: list[tuple[str, datetime]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.posted or self.missed or self.failed or self.errors)

    def as_dict(self) -> dict[str, Any]:
        def pairs(xs: list[tuple[str, datetime]]) -> list[dict[str, str]]:
            return [{"job": j, "due": d.isoformat()} for j, d in xs]

        return {"at": self.at.isoformat(), "posted": pairs(self.posted), "missed": pairs(self.missed),
                "failed": pairs(self.failed), "errors": list(self.errors)}


def _notify(notifier: Notifier | None, event: dict[str, Any], report: ScheduleReport) -> None:
    if notifier is None:
        return
    try:
        notifier.notify(event)
    except Exception as exc:
        report.errors.append(f"notify {event.get('job', '?')}: {type(exc).__name__}")
        log.error("schedule: notifying the admins failed", exc_info=exc)


def _deliver(store: ScheduleStore, posters: Mapping[str, Poster], notifier: Notifier | None, *, job: str,
             name: str, target: str, due: datetime, now: datetime, grace: timedelta, text: Callable[[], str],
             report: ScheduleReport, deadline: datetime | None = None) -> None:
    if not store.claim(job, due):
        return                                  # handled before, here or by another process
    late = now - due
    if late > grace or (deadline is not None and now >= deadline):
        store.finish(job, due, "missed")
        report.missed.append((job, due))
        log.warning("schedule %s due %s missed (%.0f min late), not posted", job, due.isoformat(),
                    late.total_seconds() / 60)
        _notify(notifier, {"event": "schedule.missed", "job": job, "name": name, "due": due.isoformat(),
                           "late_minutes": int(late.total_seconds() // 60)}, report)
        return
    poster = posters.get(target)
    try:
        if poster is None:
            raise RuntimeError(f"no poster for target {target!r}")
        poster.post(text(), job)
    except Exception as exc:
        store.finish(job, due, "failed")
        report.failed.append((job, due))
        report.errors.append(f"post {job}: {type(exc).__name__}")
        log.error("schedule %s due %s not posted", job, due.isoformat(), exc_info=exc)
        _notify(notifier, {"event": "schedule.failed", "job": job, "name": name, "due": due.isoformat()}, report)
        return
    store.finish(job, due, "posted")
    report.posted.append((job, due))
    log.info("schedule %s due %s posted to %s", job, due.isoformat(), target)


def _run_post(store: ScheduleStore, post: Post, posters: Mapping[str, Poster], notifier: Notifier | None,
              now: datetime, grace: timedelta, report: ScheduleReport) -> None:
    tz = rules.zone(post.rule.tz)
    due_times = post.rule.due_between(post.checked_until, now)
    for due in due_times:
        _deliver(store, posters, notifier, job=post.job, name=post.name, target=post.target, due=due, now=now,
                 grace=grace, text=partial(render, post.template, post.text, due, tz), report=report)
    done = post.rule.at is not None and post.rule.next_after(now) is None
    if due_times or done:                       # nothing due: the window may stay open (fewer writes)
        store.advance(post.id, now, done=done)


def reminder_text(event: Event, minutes: int, tz: Any) -> str:
    start = event.start.astimezone(tz)
    when = f"{minutes // 1440} 天后" if minutes % 1440 == 0 else (
        f"{minutes // 60} 小时后" if minutes % 60 == 0 else f"{minutes} 分钟后")
    lines = [f"【活动提醒】{event.title} {when}开始", f"时间：{start:%m月%d日 %H:%M}，地点：{event.place}"]
    if event.signup_id:
        lines.append(f"报名：接龙 {event.signup_id}")
    return "\n".join(lines)


def _run_reminders(store: ScheduleStore, posters: Mapping[str, Poster], notifier: Notifier | None, now: datetime,
                   grace: timedelta, report: ScheduleReport, tz: Any) -> None:
    events = store.events(now - timedelta(days=1), now + timedelta(days=15))
    jobs = {(f"event:{e.id}:{m}", e, m) for e in events for m in e.remind}
    taken = store.claimed([j for j, _, _ in jobs])
    for job, event, minutes in sorted(jobs, key=lambda x: x[0]):
        due = event.start - timedelta(minutes=minutes)
        if due > now or due <= event.created_at or (job, due) in taken:
            continue
        _deliver(store, posters, notifier, job=job, name=event.title, target="group", due=due, now=now,
                 grace=grace, text=partial(reminder_text, event, minutes, tz), report=report,
                 deadline=event.start)


def run_due(store: ScheduleStore, posters: Mapping[str, Poster], notifier: Notifier | None = None,
            now: datetime | None = None, *, grace: timedelta = DEFAULT_GRACE) -> ScheduleReport:
    """Post what is due now, report what was missed; never raises for one bad post."""
    now = (now or store.now()).astimezone(UTC)
    report = ScheduleReport(now)
    tz = rules.zone(rules.DEFAULT_TZ)
    try:
        posts = store.posts(active_only=True)
    except Exception as exc:
        report.errors.append(f"list posts: {type(exc).__name__}")
        log.error("schedule: cannot list posts", exc_info=exc)
        return report
    for post in posts:
        try:
            _run_post(store, post, posters, notifier, now, grace, report)
        except Exception as exc:
            report.errors.append(f"{post.job}: {type(exc).__name__}")
            log.error("schedule %s failed", post.job, exc_info=exc)
    try:
        _run_reminders(store, posters, notifier, now, grace, report, tz)
    except Exception as exc:
        report.errors.append(f"event reminders: {type(exc).__name__}")
        log.error("schedule: event reminders failed", exc_info=exc)
    for year in sorted({now.year, (now + CALENDAR_NOTICE).year}):
        # once per year and database, 45 days ahead: the admins should upgrade chinese-calendar
        if not rules.has_data(year) and store.claim(f"calendar:{year}",
                                                    datetime.combine(date(year, 1, 1), datetime.min.time(), UTC)):
            _notify(notifier, {"event": "schedule.calendar_gap", "job": f"calendar:{year}", "year": year}, report)
    return report


class ScheduleRunner:
    """``run_due`` now and every ``every`` seconds in a daemon thread until ``stop()``."""

    def __init__(self, store: ScheduleStore, posters: Mapping[str, Poster], notifier: Notifier | None = None, *,
                 every: float = 60.0, grace: timedelta = DEFAULT_GRACE,
                 on_report: Callable[[ScheduleReport], None] | None = None) -> None:
        if not every > 0:
            raise ValueError("every must be a positive number of seconds")
        self.store, self.posters, self.notifier = store, posters, notifier
        self.every, self.grace, self.on_report = every, grace, on_report
        self.runs = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> ScheduleReport | None:
        self.runs += 1
        try:
            report = run_due(self.store, self.posters, self.notifier, grace=self.grace)
        except Exception:
            log.exception("schedule run %d failed", self.runs)
            return None
        if self.on_report is not None:
            self.on_report(report)
        return report

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self._stop.wait(self.every)

    def start(self) -> ScheduleRunner:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="schedule-runner", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> ScheduleRunner:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
