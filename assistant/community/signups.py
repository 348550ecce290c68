"""Sign-ups (群接龙): started in the group, joined and left with a short message, the list shown
with each unit once; a limit, a deadline and a waiting list promoted when someone leaves.

    signups = Signups(tables)
    s = signups.start("group-1", "周六亲子运动会 限30人 截止周五18:00", created_by="u1")
    signups.join(s.id, "5-101", "u2")         # JoinResult: in / waiting, position
    signups.leave(s.id, "5-101")              # LeaveResult: the waiting unit promoted, if any

Concurrency: every join and leave locks the sign-up's row (PostgreSQL ``SELECT … FOR UPDATE``;
SQLite takes the database's write lock up front), counts, then writes; a unique constraint on
(sign-up, unit) keeps a unit from appearing twice whatever happens.
"""

from __future__ import annotations

import builtins
import csv
import datetime as dt
import io
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from assistant.community.errors import BadInput, NotFound, Refused
from assistant.community.store import Tables, known_id
from assistant.community.tables import EntryRow, SignupRow
from assistant.community.when import TZ, format_when, parse_when
from assistant.moderation.pii import redact_text
from assistant.text.units import cn_number

IN, WAITING = "in", "waiting"
STATUS_NAMES = {IN: "已报名", WAITING: "候补"}
MAX_CAPACITY = 1000
MAX_TITLE = 60
EXAMPLE = "例如：接龙 周六亲子运动会 限30人 截止周五18:00"
_LIMIT = re.compile(r"(?:限额|限|名额|人数上限|上限)\s*[:：]?\s*(-?\s*[0-9零〇一二两三四五六七八九十百千]+)"
                    r"\s*(?:人|户|名|位|家|组)?")
_LIMIT_WORD = re.compile(r"(?:限额|限|名额|人数上限|上限)\s*[:：]?\s*(\S{0,8}?)\s*(?:人|户|名|位|家|组)")
_DEADLINE = re.compile(r"(?:报名)?截止(?:时间|日期)?\s*[:：]?\s*(.+)$")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _naive(t: dt.datetime) -> dt.datetime:
    return t.astimezone(dt.UTC).replace(tzinfo=None)


def _aware(t: dt.datetime | None) -> dt.datetime | None:
    return t.replace(tzinfo=dt.UTC) if t is not None else None


@dataclass(frozen=True)
class Signup:
    id: int
    conversation_id: str
    title: str
    capacity: int | None
    deadline: dt.datetime | None       # aware UTC
    created_by: str
    created_at: dt.datetime
    closed_at: dt.datetime | None

    def is_open(self, now: dt.datetime) -> bool:
        return self.closed_at is None and (self.deadline is None or now < self.deadline)


@dataclass(frozen=True)
class Entry:
    unit: str
    status: str                        # in | waiting
    position: int                      # 1-based, within its status
    sender_id: str
    joined_at: dt.datetime


@dataclass(frozen=True)
class JoinResult:
    signup: Signup
    entry: Entry
    already: bool                      # the unit was on the list before


@dataclass(frozen=True)
class LeaveResult:
    signup: Signup
    unit: str
    promoted: Entry | None             # the first waiting unit, now in


@dataclass(frozen=True)
class StartRequest:
    title: str
    capacity: int | None
    deadline: dt.datetime | None


def parse_start(text: str, now: dt.datetime) -> StartRequest:
    """What follows 接龙: a title, optionally 限N人 and 截止<time>; ``BadInput`` names the part
    that is wrong (title, limit, deadline)."""
    s = unicodedata.normalize("NFKC", text or "").strip()
    capacity = None
    if m := _LIMIT.search(s):
        raw = re.sub(r"\s+", "", m.group(1))
        n = None if raw.startswith("-") else cn_number(raw)
        if n is None or not 1 <= n <= MAX_CAPACITY:
            raise BadInput("limit", f"人数上限“{raw}”不对：要写 1-{MAX_CAPACITY} 之间的整数，{EXAMPLE}")
        capacity = n
        s = (s[:m.start()] + " " + s[m.end():]).strip()
    elif m := _LIMIT_WORD.search(s):
        raise BadInput("limit", f"人数上限“{m.group(1)}”不对：要写 1-{MAX_CAPACITY} 之间的整数，{EXAMPLE}")
    deadline = None
    if m := _DEADLINE.search(s):
        deadline = parse_when(m.group(1), now)
        s = s[:m.start()].strip()
    title = re.sub(r"\s+", " ", s).strip(" ,，。;；")
    if not title:
        raise BadInput("title", f"请写上接龙的名称，{EXAMPLE}")
    if len(title) > MAX_TITLE:
        raise BadInput("title", f"接龙名称太长（最多 {MAX_TITLE} 字）")
    return StartRequest(title, capacity, deadline.astimezone(dt.UTC) if deadline else None)


def _signup(r: SignupRow) -> Signup:
    return Signup(r.id, r.conversation_id, r.title, r.capacity, _aware(r.deadline), r.created_by,
                  _aware(r.created_at) or utcnow(), _aware(r.closed_at))


class Signups:
    """Sign-ups in the community database (``Tables``)."""

    def __init__(self, tables: Tables, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.tables = tables
        self.clock = clock

    # -- starting, finding, closing --------------------------------------------------------------

    def start(self, conversation_id: str, text: str, created_by: str) -> Signup:
        req = parse_start(text, self.clock())
        return self.create(conversation_id, req.title, req.capacity, req.deadline, created_by)

    def create(self, conversation_id: str, title: str, capacity: int | None, deadline: dt.datetime | None,
               created_by: str) -> Signup:
        title = redact_text((title or "").strip())
        if not title or len(title) > MAX_TITLE:
            raise BadInput("title", f"接龙名称要有 1-{MAX_TITLE} 个字")
        if capacity is not None and not 1 <= capacity <= MAX_CAPACITY:
            raise BadInput("limit", f"人数上限要是 1-{MAX_CAPACITY} 之间的整数，收到 {capacity}")
        now = self.clock()
        if deadline is not None and deadline <= now:
            raise BadInput("deadline", f"截止时间 {format_when(deadline)} 已经过去了")
        row = SignupRow(conversation_id=conversation_id, title=title, capacity=capacity,
                        deadline=_naive(deadline) if deadline else None, created_by=created_by,
                        created_at=_naive(now))
        with self.tables.write() as s:
            s.add(row)
            s.flush()
            return _signup(row)

    def get(self, signup_id: int) -> Signup:
        with self.tables.read() as s:
            row = s.get(SignupRow, known_id(signup_id))
            if row is None:
                raise NotFound(f"没有编号为 {signup_id} 的接龙")
            return _signup(row)

    def current(self, conversation_id: str) -> Signup | None:
        """The group's latest sign-up not closed (past its deadline too: "+1" is then told so)."""
        since = _naive(self.clock() - dt.timedelta(days=60))
        with self.tables.read() as s:
            row = s.scalars(select(SignupRow)
                            .where(SignupRow.conversation_id == conversation_id, SignupRow.closed_at.is_(None),
                                   SignupRow.created_at >= since)
                            .order_by(SignupRow.id.desc()).limit(1)).first()
            return _signup(row) if row else None

    def list(self, conversation_id: str | None = None, limit: int = 200) -> builtins.list[Signup]:
        q = select(SignupRow).order_by(SignupRow.id.desc()).limit(limit)
        if conversation_id is not None:
            q = q.where(SignupRow.conversation_id == conversation_id)
        with self.tables.read() as s:
            return [_signup(r) for r in s.scalars(q)]

    def close(self, signup_id: int) -> Signup:
        with self.tables.write() as s:
            row = s.get(SignupRow, known_id(signup_id), with_for_update=True)
            if row is None:
                raise NotFound(f"没有编号为 {signup_id} 的接龙")
            if row.closed_at is None:
                row.closed_at = _naive(self.clock())
            return _signup(row)

    # -- joining and leaving ------------------------------------------------------------------

    def _locked(self, s: object, signup_id: int) -> SignupRow:
        from sqlalchemy.orm import Session

        assert isinstance(s, Session)
        q = select(SignupRow).where(SignupRow.id == known_id(signup_id)).with_for_update()
        row = s.execute(q).scalar_one_or_none()
        if row is None:
            raise NotFound(f"没有编号为 {signup_id} 的接龙")
        return row

    def join(self, signup_id: int, unit: str, sender_id: str) -> JoinResult:
        """Put ``unit`` on the list (or the waiting list when full); a unit already on it keeps its place."""
        now = self.clock()
        try:
            with self.tables.write() as s:
                row = self._locked(s, signup_id)
                signup = _signup(row)
                if row.closed_at is not None:
                    raise Refused(f"接龙“{row.title}”已结束")
                if signup.deadline is not None and now >= signup.deadline:
                    raise Refused(f"接龙“{row.title}”已于 {format_when(signup.deadline)} 截止")
                have = s.scalars(select(EntryRow).where(EntryRow.signup_id == signup_id,
                                                        EntryRow.unit == unit)).first()
                if have is None:
                    taken = s.scalar(select(func.count()).select_from(EntryRow)
                                     .where(EntryRow.signup_id == signup_id, EntryRow.status == IN)) or 0
                    status = IN if row.capacity is None or taken < row.capacity else WAITING
                    have = EntryRow(signup_id=signup_id, unit=unit, sender_id=sender_id, status=status,
                                    joined_at=_naive(now))
                    s.add(have)
                    s.flush()
                    already = False
                else:
                    already = True
                return JoinResult(signup, self._entry(s, have), already)
        except IntegrityError:          # a concurrent join of the same unit won: report its place
            with self.tables.read() as s:
                have = s.scalars(select(EntryRow).where(EntryRow.signup_id == signup_id,
                                                        EntryRow.unit == unit)).one()
                return JoinResult(self.get(signup_id), self._entry(s, have), True)

    def leave(self, signup_id: int, unit: str) -> LeaveResult:
        """Take ``unit`` off; when it had a place, the first waiting unit gets it."""
        with self.tables.write() as s:
            row = self._locked(s, signup_id)
            if row.closed_at is not None:
                raise Refused(f"接龙“{row.title}”已结束")
            have = s.scalars(select(EntryRow).where(EntryRow.signup_id == signup_id, EntryRow.unit == unit)).first()
            if have is None:
                raise NotFound(f"{unit} 不在接龙“{row.title}”里")
            was_in = have.status == IN
            s.delete(have)
            s.flush()
            promoted = None
            if was_in:
                first = s.scalars(select(EntryRow)
                                  .where(EntryRow.signup_id == signup_id, EntryRow.status == WAITING)
                                  .order_by(EntryRow.joined_at, EntryRow.id).limit(1)).first()
                if first is not None:
                    first.status = IN
                    s.flush()
                    promoted = self._entry(s, first)
            return LeaveResult(_signup(row), unit, promoted)

    @staticmethod
    def _entry(s: object, row: EntryRow) -> Entry:
        from sqlalchemy import and_, or_
        from sqlalchemy.orm import Session

        assert isinstance(s, Session)
        before = s.scalar(select(func.count()).select_from(EntryRow).where(
            EntryRow.signup_id == row.signup_id, EntryRow.status == row.status,
            or_(EntryRow.joined_at < row.joined_at, and_(EntryRow.joined_at == row.joined_at, EntryRow.id <= row.id))))
        return Entry(row.unit, row.status, int(before or 0), row.sender_id, _aware(row.joined_at) or utcnow())

    def entries(self, signup_id: int) -> builtins.list[Entry]:
        """Everyone on the list, those in first, each in the order they joined."""
        with self.tables.read() as s:
            rows = s.scalars(select(EntryRow).where(EntryRow.signup_id == known_id(signup_id))
                             .order_by(EntryRow.joined_at, EntryRow.id)).all()
        out: builtins.list[Entry] = []
        for status in (IN, WAITING):
            mine = [r for r in rows if r.status == status]
            out += [Entry(r.unit, r.status, i, r.sender_id, _aware(r.joined_at) or utcnow())
                    for i, r in enumerate(mine, 1)]
        return out

    # -- showing and exporting ------------------------------------------------------------------

    def render(self, signup_id: int) -> str:
        """The list as posted in the group: each unit once, the waiting list after it."""
        signup, entries = self.get(signup_id), self.entries(signup_id)
        ins = [e for e in entries if e.status == IN]
        waiting = [e for e in entries if e.status == WAITING]
        head = [f"【接龙 #{signup.id}】{signup.title}"]
        facts = []
        if signup.capacity:
            facts.append(f"限{signup.capacity}户，已报 {len(ins)}/{signup.capacity}")
        else:
            facts.append(f"已报 {len(ins)} 户")
        if signup.deadline:
            facts.append(f"截止 {format_when(signup.deadline)}")
        if signup.closed_at:
            facts.append("已结束")
        head.append("，".join(facts))
        lines = head + [f"{e.position}. {e.unit}" for e in ins]
        if waiting:
            lines.append(f"候补（{len(waiting)}）：")
            lines += [f"{e.position}. {e.unit}" for e in waiting]
        if signup.is_open(self.clock()):
            lines.append("回复“+1”或“接龙 房号”参加，“退出接龙”退出")
        return "\n".join(lines)

    def rows(self, signup_id: int) -> builtins.list[builtins.list[str]]:
        """Header and rows of the export: 序号, 房号, 状态, 报名时间 (Beijing time). No names, no ids."""
        self.get(signup_id)                         # NotFound for an unknown sign-up, not an empty file
        out = [["序号", "房号", "状态", "报名时间"]]
        for e in self.entries(signup_id):
            out.append([str(e.position), e.unit, STATUS_NAMES[e.status],
                        e.joined_at.astimezone(TZ).strftime("%Y-%m-%d %H:%M:%S")])
        return out

    def export_csv(self, signup_id: int) -> str:
        """CSV with a BOM, so Excel reads the Chinese."""
        buf = io.StringIO()
        buf.write("\ufeff")
        csv.writer(buf).writerows(self.rows(signup_id))
        return buf.getvalue()

    def export_xlsx(self, signup_id: int) -> bytes:
        from openpyxl import Workbook
        from openpyxl.styles import Font

        signup = self.get(signup_id)
        wb = Workbook()
        ws = wb.active
        assert ws is not None
        ws.title = "接龙"
        ws.append([f"{signup.title}（接龙 #{signup.id}）"])
        ws["A1"].font = Font(bold=True)
        for row in self.rows(signup_id):
            ws.append(row)
        for col, width in zip("ABCD", (6, 12, 8, 20), strict=True):
            ws.column_dimensions[col].width = width
        buf = io.BytesIO()
        wb.save(buf)
        return buf.getvalue()
