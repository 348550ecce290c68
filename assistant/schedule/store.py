"""The schedule's database: posts and their runs, notices, events, quiet-hours reminders and the
group outbox, in the desk's database by default ($ASSISTANT_TICKETS_URL) under their own Alembic
version table (``schedule_alembic_version``).

    store = open_schedule(url)            # migrated to head
    store.add_post("周五物业通知", Rule.parse("0 18 * * 5", "workday"), "property_weekly", "…")
    store.claim("post:1", due)            # True once per (job, due time), across processes

Every input is checked here (so chat, console and CLI reject the same things with the same
message) and text is redacted (ID, bank-card, mobile numbers) before it is stored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from assistant import db
from assistant.moderation.pii import redact_text
from assistant.schedule.errors import NotFound, ScheduleInputError, ScheduleUnavailable
from assistant.schedule.models import RUMOUR_TAG, TAGS, TARGETS, Event, Notice, Post, Run
from assistant.schedule.rules import Rule
from assistant.schedule.schema import EventRow, GroupPostRow, NoticeRow, PostRow, QuietReminderRow, RunRow
from assistant.schedule.templates import check as check_template

log = logging.getLogger("assistant.schedule.store")

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "schedule_alembic_version"
_PG_MIGRATE_LOCK = 0x73636864    # advisory lock key held while migrating ("schd")
TEXT_LIMIT = 2000
SHORT_LIMIT = 200


def _now() -> datetime:
    return datetime.now(UTC)


def naive(t: datetime) -> datetime:
    if t.tzinfo is None:
        raise ScheduleInputError("time", "must carry a time zone")
    return t.astimezone(UTC).replace(tzinfo=None)


def aware(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC)


def text_field(field: str, value: object, *, limit: int = TEXT_LIMIT, required: bool = True) -> str:
    if not isinstance(value, str):
        raise ScheduleInputError(field, f"must be text, not {type(value).__name__}")
    value = redact_text("".join(ch for ch in value if ch in "\n\t" or ch.isprintable()).strip())
    if required and not value:
        raise ScheduleInputError(field, "must not be empty")
    if len(value) > limit:
        raise ScheduleInputError(field, f"is {len(value)} characters; at most {limit}")
    return value


def check_tags(tags: Sequence[str]) -> tuple[str, ...]:
    out: list[str] = []
    for raw in tags:
        tag = str(raw).strip().strip("#＃").strip()
        if not tag:
            continue
        if tag not in TAGS:
            raise ScheduleInputError("tags", f"unknown tag #{tag}#; known tags: {' '.join(f'#{t}#' for t in TAGS)}")
        if tag not in out:
            out.append(tag)
    if not out:
        raise ScheduleInputError("tags", f"a notice needs at least one tag, e.g. #物业通知# (known: {', '.join(TAGS)})")
    return tuple(out)


def migrate(engine: Engine) -> None:
    """Upgrade the schedule's tables to head (``assistant.db.migrate``: one transaction, under a lock, retried)."""
    db.migrate(engine, MIGRATIONS, _PG_MIGRATE_LOCK)


def open_schedule(url: str, *, clock: Callable[[], datetime] = _now) -> ScheduleStore:
    """The store on the database at ``url`` (created and migrated as needed)."""
    return ScheduleStore(db.open_engine(url, MIGRATIONS, _PG_MIGRATE_LOCK, unavailable=ScheduleUnavailable),
                         clock=clock)


def _post(r: PostRow) -> Post:
    rule = Rule(r.cron, aware(r.at) if r.at else None, r.days, r.tz)
    return Post(r.id, r.name, r.template, r.text, rule, r.target, r.active, r.created_by, aware(r.created_at),
                aware(r.checked_until))


def _notice(r: NoticeRow) -> Notice:
    return Notice(r.id, r.kind, tuple(t for t in r.tags.split(",") if t), r.body, r.rumour, r.source,
                  aware(r.valid_from), aware(r.valid_until), r.created_by, aware(r.created_at), r.removed)


def _event(r: EventRow) -> Event:
    remind = tuple(int(m) for m in r.remind.split(",") if m)
    return Event(r.id, r.title, r.place, aware(r.start), aware(r.end), r.signup_id, remind, r.created_by,
                 aware(r.created_at), r.removed)


def _id(value: object, what: str) -> int:
    try:
        return int(str(value).strip().lstrip("#"))
    except ValueError:
        raise NotFound(what, value) from None


class ScheduleStore:
    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] = _now) -> None:
        self.engine = engine
        self._write_engine = engine.execution_options(ticket_write=True)
        self.clock = clock

    def now(self) -> datetime:
        return self.clock().astimezone(UTC)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> ScheduleStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @contextmanager
    def _session(self, write: bool = False) -> Iterator[Session]:
        try:
            with Session(self._write_engine if write else self.engine, expire_on_commit=False) as s, s.begin():
                yield s
        except OperationalError as exc:
            raise ScheduleUnavailable(f"schedule database error: {db.error_line(exc)}") from None

    # -- posts -----------------------------------------------------------------------------------
    def add_post(self, name: str, rule: Rule, template: str = "text", text: str = "", *, target: str = "group",
                 actor: str = "admin") -> Post:
        now = self.now()
        if rule.at is not None and rule.at <= now:
            raise ScheduleInputError("at", f"{rule.at.isoformat()} is in the past")
        name = text_field("name", name, limit=100)
        text = text_field("text", text, required=False)
        check_template(template, text)
        if target not in TARGETS:
            raise ScheduleInputError("target", f"{target!r} is not one of {', '.join(TARGETS)}")
        if rule.next_after(now) is None:
            raise ScheduleInputError("cron", "this rule never posts within the next year")
        with self._session(write=True) as s:
            row = PostRow(name=name, template=template, text=text, cron=rule.cron,
                          at=naive(rule.at) if rule.at else None, days=rule.days, tz=rule.tz, target=target,
                          active=True, created_by=text_field("actor", actor, limit=100), created_at=naive(now),
                          checked_until=naive(now))
            s.add(row)
            s.flush()
            post = _post(row)
        log.info("schedule post %d added (%s)", post.id, rule.describe())
        return post

    def posts(self, *, active_only: bool = False) -> list[Post]:
        q = select(PostRow).order_by(PostRow.id)
        if active_only:
            q = q.where(PostRow.active.is_(True))
        with self._session() as s:
            return [_post(r) for r in s.scalars(q)]

    def post(self, post_id: object) -> Post:
        pid = _id(post_id, "post")
        with self._session() as s:
            row = s.get(PostRow, pid)
            if row is None:
                raise NotFound("post", post_id)
            return _post(row)

    def remove_post(self, post_id: object) -> Post:
        pid = _id(post_id, "post")
        with self._session(write=True) as s:
            row = s.get(PostRow, pid)
            if row is None or not row.active:
                raise NotFound("post", post_id)
            row.active = False
            return _post(row)

    def advance(self, post_id: int, until: datetime, *, done: bool = False) -> None:
        """Due times up to ``until`` are handled; ``done``: a one-off that will not post again."""
        with self._session(write=True) as s:
            values: dict[str, Any] = {"checked_until": naive(until)}
            if done:
                values["active"] = False
            s.execute(update(PostRow).where(PostRow.id == post_id, PostRow.checked_until < naive(until))
                      .values(**values))

    # -- runs --------------------------------------------------------------------------------------
    def claim(self, job: str, due: datetime) -> bool:
        """Take (job, due) for this process: True exactly once, whichever process asks first."""
        try:
            with self._session(write=True) as s:
                s.add(RunRow(job=job, due_at=naive(due), status="claimed", at=naive(self.now())))
        except IntegrityError:
            return False
        return True

    def finish(self, job: str, due: datetime, status: str) -> None:
        with self._session(write=True) as s:
            s.execute(update(RunRow).where(RunRow.job == job, RunRow.due_at == naive(due))
                      .values(status=status, at=naive(self.now())))

    def runs(self, job: str | None = None, *, since: datetime | None = None) -> list[Run]:
        q = select(RunRow).order_by(RunRow.due_at, RunRow.id)
        if job is not None:
            q = q.where(RunRow.job == job)
        if since is not None:
            q = q.where(RunRow.due_at >= naive(since))
        with self._session() as s:
            return [Run(r.job, aware(r.due_at), r.status, aware(r.at)) for r in s.scalars(q)]

    def claimed(self, jobs: Sequence[str]) -> set[tuple[str, datetime]]:
        if not jobs:
            return set()
        with self._session() as s:
            return {(j, aware(d)) for j, d in s.execute(select(RunRow.job, RunRow.due_at).where(RunRow.job.in_(jobs)))}

    # -- notices -----------------------------------------------------------------------------------
    def add_notice(self, tags: Sequence[str], body: str, *, valid_until: datetime, rumour: str = "",
                   source: str = "", valid_from: datetime | None = None, actor: str = "admin") -> Notice:
        tags = check_tags(tags)
        kind = "rumour" if RUMOUR_TAG in tags else "notice"
        body = text_field("body", body)
        rumour = text_field("rumour", rumour, required=kind == "rumour")
        source = text_field("source", source, limit=300, required=kind == "rumour")
        now = self.now()
        start = valid_from or now
        if valid_until.tzinfo is None or start.tzinfo is None:
            raise ScheduleInputError("valid_until", "must carry a time zone")
        if valid_until <= now:
            raise ScheduleInputError("valid_until", f"{valid_until.isoformat()} is already past")
        if valid_until <= start:
            raise ScheduleInputError("valid_until", "must be after valid_from")
        with self._session(write=True) as s:
            row = NoticeRow(kind=kind, tags=",".join(tags), body=body, rumour=rumour, source=source,
                            valid_from=naive(start), valid_until=naive(valid_until), removed=False,
                            created_by=text_field("actor", actor, limit=100), created_at=naive(now))
            s.add(row)
            s.flush()
            notice = _notice(row)
        log.info("schedule notice %d added (%s, until %s)", notice.id, kind, valid_until.isoformat())
        return notice

    def notices(self, *, current_at: datetime | None = None) -> list[Notice]:
        """Every notice not removed (newest first), or only those current at ``current_at``."""
        q = select(NoticeRow).where(NoticeRow.removed.is_(False)).order_by(NoticeRow.id.desc())
        if current_at is not None:
            t = naive(current_at)
            q = q.where(NoticeRow.valid_from <= t, NoticeRow.valid_until > t)
        with self._session() as s:
            return [_notice(r) for r in s.scalars(q)]

    def remove_notice(self, notice_id: object) -> Notice:
        nid = _id(notice_id, "notice")
        with self._session(write=True) as s:
            row = s.get(NoticeRow, nid)
            if row is None or row.removed:
                raise NotFound("notice", notice_id)
            row.removed = True
            return _notice(row)

    # -- events ------------------------------------------------------------------------------------
    def add_event(self, title: str, place: str, start: datetime, end: datetime, *, signup_id: str | None = None,
                  remind: Sequence[int] = (1440, 60), actor: str = "admin") -> Event:
        title = text_field("title", title, limit=SHORT_LIMIT)
        place = text_field("place", place, limit=SHORT_LIMIT)
        if start.tzinfo is None or end.tzinfo is None:
            raise ScheduleInputError("start", "must carry a time zone")
        if end <= start:
            raise ScheduleInputError("end", f"{end.isoformat()} is not after the start {start.isoformat()}")
        if end - start > timedelta(days=31):
            raise ScheduleInputError("end", "an activity lasts at most 31 days")
        if start <= self.now():
            raise ScheduleInputError("start", f"{start.isoformat()} is in the past")
        minutes = sorted({int(m) for m in remind}, reverse=True)
        if any(m <= 0 or m > 60 * 24 * 14 for m in minutes):
            raise ScheduleInputError("remind", "reminders are 1 to 20160 minutes (14 days) before the start")
        signup = text_field("signup_id", signup_id, limit=100, required=False) if signup_id else None
        with self._session(write=True) as s:
            row = EventRow(title=title, place=place, start=naive(start), end=naive(end), signup_id=signup or None,
                           remind=",".join(map(str, minutes)), removed=False,
                           created_by=text_field("actor", actor, limit=100), created_at=naive(self.now()))
            s.add(row)
            s.flush()
            event = _event(row)
        log.info("schedule event %d added", event.id)
        return event

    def events(self, start: datetime | None = None, end: datetime | None = None) -> list[Event]:
        """Events not removed that overlap [start, end), by start time."""
        q = select(EventRow).where(EventRow.removed.is_(False)).order_by(EventRow.start, EventRow.id)
        if start is not None:
            q = q.where(EventRow.end > naive(start))
        if end is not None:
            q = q.where(EventRow.start < naive(end))
        with self._session() as s:
            return [_event(r) for r in s.scalars(q)]

    def remove_event(self, event_id: object) -> Event:
        eid = _id(event_id, "event")
        with self._session(write=True) as s:
            row = s.get(EventRow, eid)
            if row is None or row.removed:
                raise NotFound("event", event_id)
            row.removed = True
            return _event(row)

    # -- quiet hours -------------------------------------------------------------------------------
    def claim_quiet_reminder(self, conversation_id: str, sender_id: str, day: str) -> bool:
        """True the first time for (group, person, local day): that person gets the reminder."""
        try:
            with self._session(write=True) as s:
                s.add(QuietReminderRow(conversation_id=conversation_id[:200], sender_id=sender_id[:200], day=day,
                                       at=naive(self.now())))
        except IntegrityError:
            return False
        return True

    # -- the group outbox --------------------------------------------------------------------------
    def queue_group(self, platform: str, conversation_id: str, text: str, job: str) -> None:
        with self._session(write=True) as s:
            s.add(GroupPostRow(platform=platform, conversation_id=conversation_id, text=text_field("text", text),
                               job=job, created_at=naive(self.now())))

    def claim_group(self, platform: str, limit: int = 20) -> list[tuple[str, str]]:
        """(conversation, text) of the group posts waiting for ``platform``, each to one claimer only."""
        with self._session(write=True) as s:
            q = (select(GroupPostRow).where(GroupPostRow.platform == platform, GroupPostRow.delivered_at.is_(None))
                 .order_by(GroupPostRow.id).limit(limit))
            if self.engine.dialect.name == "postgresql":
                q = q.with_for_update(skip_locked=True)
            rows = list(s.scalars(q))
            now = naive(self.now())
            for r in rows:
                r.delivered_at = now
            return [(r.conversation_id, r.text) for r in rows]
