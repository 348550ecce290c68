"""Conformance tests of the ticket store, run on SQLite and on PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from assistant.errors import AssistantError
from assistant.desk.tickets import STATUSES, TRANSITIONS, InvalidTransition, RatingRefused, Reporter, SQLTicketStore, TicketError, TicketNotFound, TicketStore, ValidationError
from assistant.moderation.pii import PLACEHOLDERS

from .conftest import SHANGHAI, FakeClock

ID_MARK, MOBILE_MARK = PLACEHOLDERS["id_card"], PLACEHOLDERS["mobile"]

ALICE = Reporter("wx-alice", "王小明")


def new(store: SQLTicketStore, category: str = "noise", text: str = "楼上每晚拖椅子", **kw: object):
    return store.create(kw.pop("reporter", ALICE), category, kw.pop("unit", "5栋101"), text, **kw)  # type: ignore[arg-type]


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI)


def test_protocol_is_implemented() -> None:
    wanted = {n for n in dir(TicketStore) if not n.startswith("_")}
    assert wanted <= set(dir(SQLTicketStore))


def test_create_fields(store: SQLTicketStore, clock: FakeClock) -> None:
    t = store.create(ALICE, "噪音", "5号楼1单元101", "楼上吵，电话13812345678，身份证11010519491231002X",
                     other_party="5栋201", priority="high")
    assert re.fullmatch(r"T-20261123-\d{4,}", t.id)
    assert (t.category, t.unit, t.other_party_unit, t.priority, t.status) == ("noise", "5-1-101", "5-201", "high", "open")
    assert t.description == f"楼上吵，电话{MOBILE_MARK}，身份证{ID_MARK}"
    assert (t.reporter_id, t.reporter_name) == ("wx-alice", "王**")
    assert t.created_at == clock.now and t.created_at.tzinfo is not None and t.created_at.utcoffset() == timedelta(0)
    # noise: 2h / 8h business time, halved for high priority
    assert t.first_response_due == at(23, 11) and t.resolution_due == at(23, 15)
    again = store.get(t.id.lower())
    assert again == t
    assert again.created_at.tzinfo is not None


def test_ids_are_unique_and_sequential(store: SQLTicketStore) -> None:
    ids = [new(store).id for _ in range(5)]
    assert len(set(ids)) == 5
    nums = [int(i.rsplit("-", 1)[1]) for i in ids]
    assert nums == sorted(nums)


@pytest.mark.parametrize("field, kwargs, words", [
    ("description", {"text": "x" * 2001}, "2001 characters long; the limit is 2000"),
    ("description", {"text": "   "}, "is empty"),
    ("category", {"category": "aliens"}, "unknown category 'aliens'"),
    ("unit", {"unit": "楼上那家"}, "cannot read '楼上那家' as a unit"),
    ("other_party", {"other_party": "隔壁"}, "cannot read"),
    ("priority", {"priority": "asap"}, "unknown priority"),
    ("reporter_id", {"reporter": Reporter("x" * 65)}, "limit is 64"),
    ("reporter_name", {"reporter": Reporter("r", "名" * 65)}, "limit is 64"),
])
def test_refused_values(store: SQLTicketStore, field: str, kwargs: dict, words: str) -> None:
    with pytest.raises(ValidationError) as info:
        new(store, **kwargs)
    assert info.value.field == field and words in str(info.value)
    assert isinstance(info.value, TicketError) and isinstance(info.value, AssistantError)
    assert store.list() == []


def test_limits_are_inclusive_and_text_is_literal(store: SQLTicketStore) -> None:
    assert len(new(store, text="长" * 2000).description) == 2000
    nasty = "'); DROP TABLE tickets; -- <script>alert(1)</script> %s {0} \\ \"q\""
    t = new(store, text=nasty)
    assert store.get(t.id).description == nasty
    c = store.comment(t.id, nasty, actor="staff")
    assert store.events(c.id)[-1].comment == nasty
    t2 = new(store, text="a\x00b\x07c\nd")           # control characters (PostgreSQL refuses NUL) dropped
    assert store.get(t2.id).description == "abc\nd"
    assert len(store.list()) == 3


def test_unknown_ticket(store: SQLTicketStore) -> None:
    for bad in ("T-20261123-9999", "nonsense", "", "T-1"):
        with pytest.raises(TicketNotFound):
            store.get(bad)
    with pytest.raises(TicketNotFound):
        store.assign("T-20261123-9999", "li", actor="admin")


def test_full_lifecycle_and_audit(store: SQLTicketStore, clock: FakeClock) -> None:
    t = new(store)
    clock.advance(minutes=10)
    t = store.assign(t.id, "李师傅", actor="admin", comment="请尽快")
    assert (t.status, t.assignee, t.first_response_at) == ("assigned", "李师傅", clock.now)
    t = store.transition(t.id, "in_progress", actor="李师傅")
    t = store.transition(t.id, "waiting_resident", actor="李师傅", comment="请提供时间段")
    t = store.transition(t.id, "in_progress", actor="李师傅")
    t = store.resolve(t.id, actor="李师傅", comment="已沟通")
    assert t.status == "resolved" and t.resolved_at == clock.now
    t = store.close(t.id, actor="admin")
    assert t.status == "closed" and t.closed_at == clock.now
    t = store.reopen(t.id, actor="wx-alice", comment="又开始了")
    assert (t.status, t.assignee, t.resolved_at, t.closed_at) == ("open", None, None, None)
    ev = store.events(t.id)
    assert [(e.action, e.from_status, e.to_status) for e in ev] == [
        ("created", None, "open"), ("assigned", "open", "assigned"), ("status", "assigned", "in_progress"),
        ("status", "in_progress", "waiting_resident"), ("status", "waiting_resident", "in_progress"),
        ("status", "in_progress", "resolved"), ("status", "resolved", "closed"), ("status", "closed", "open")]
    assert ev[1].actor == "admin" and ev[1].value == "李师傅" and ev[1].comment == "请尽快"
    assert ev[-1].comment == "又开始了"
    assert [e.seq for e in ev] == sorted(e.seq for e in ev)
    assert all(e.at.tzinfo is not None for e in ev)


def _walk_to(store: SQLTicketStore, status: str) -> str:
    path = {"open": [], "assigned": ["A"], "in_progress": ["A", "in_progress"],
            "waiting_resident": ["A", "in_progress", "waiting_resident"], "resolved": ["A", "resolved"],
            "closed": ["A", "resolved", "closed"]}[status]
    t = new(store)
    for step in path:
        if step == "A":
            store.assign(t.id, "li", actor="admin")
        else:
            store.transition(t.id, step, actor="li")
    assert store.get(t.id).status == status
    return t.id


def test_every_transition_is_allowed_or_refused(store: SQLTicketStore) -> None:
    for current in STATUSES:
        for wanted in STATUSES:
            tid = _walk_to(store, current)
            before = len(store.events(tid))
            if wanted in TRANSITIONS[current] and wanted != "assigned":
                assert store.transition(tid, wanted, actor="li").status == wanted
            else:
                with pytest.raises(InvalidTransition) as info:
                    store.transition(tid, wanted, actor="li")
                assert tid in str(info.value) and current in str(info.value)
                assert store.get(tid).status == current and len(store.events(tid)) == before


def test_bad_status_name(store: SQLTicketStore) -> None:
    t = new(store)
    with pytest.raises(ValidationError, match="unknown status 'done'"):
        store.transition(t.id, "done", actor="li")


def test_assign_rules(store: SQLTicketStore) -> None:
    t = new(store)
    t = store.assign(t.id, "li", actor="admin")
    t = store.transition(t.id, "in_progress", actor="li")
    t2 = store.assign(t.id, "wang", actor="admin")                 # reassign keeps the status
    assert (t2.status, t2.assignee) == ("in_progress", "wang")
    n = len(store.events(t.id))
    store.assign(t.id, "wang", actor="admin")                       # same person: no-op
    assert len(store.events(t.id)) == n
    store.resolve(t.id, actor="wang")
    with pytest.raises(InvalidTransition, match="reopen it first"):
        store.assign(t.id, "li", actor="admin")
    with pytest.raises(InvalidTransition, match="use assign"):
        store.transition(new(store).id, "assigned", actor="admin")
    with pytest.raises(ValidationError):
        store.assign(t.id, "a\nb", actor="admin")


def test_dedup_appends_within_window(store: SQLTicketStore, clock: FakeClock) -> None:
    t, created = store.open_or_append(ALICE, "noise", "5-101", "楼上吵")
    assert created
    clock.advance(hours=3)
    t2, created = store.open_or_append(ALICE, "噪音", None, "还在吵，13812345678")
    assert not created and t2.id == t.id and t2.updated_at == clock.now
    ev = store.events(t.id)
    assert ev[-1].action == "appended" and ev[-1].comment == f"还在吵，{MOBILE_MARK}" and ev[-1].actor == "wx-alice"
    # another category, another reporter: new tickets
    assert store.open_or_append(ALICE, "parking", None, "车位被占")[1]
    assert store.open_or_append(Reporter("wx-bob"), "noise", None, "楼上吵")[1]
    # past the window: a new ticket
    clock.advance(hours=22)
    t3, created = store.open_or_append(ALICE, "noise", None, "今晚又吵")
    assert created and t3.id != t.id
    # a custom window reaches the old one... the newest unresolved one is chosen
    t4, created = store.open_or_append(ALICE, "noise", None, "再补充", window=timedelta(days=7))
    assert not created and t4.id == t3.id
    assert len(store.list()) == 4


def test_dedup_skips_resolved_and_resumes_waiting(store: SQLTicketStore, clock: FakeClock) -> None:
    t, _ = store.open_or_append(ALICE, "pets", None, "狗叫")
    store.assign(t.id, "li", actor="admin")
    store.transition(t.id, "in_progress", actor="li")
    store.transition(t.id, "waiting_resident", actor="li")
    clock.advance(hours=1)
    t2, created = store.open_or_append(ALICE, "pets", None, "是晚上十点后")
    assert not created and t2.status == "in_progress" and t2.paused_at is None
    assert store.events(t.id)[-1].from_status == "waiting_resident"
    store.resolve(t.id, actor="li")
    t3, created = store.open_or_append(ALICE, "pets", None, "又叫了")
    assert created and t3.id != t.id


def test_dedup_validates_before_writing(store: SQLTicketStore) -> None:
    t, _ = store.open_or_append(ALICE, "noise", None, "吵")
    with pytest.raises(ValidationError):
        store.open_or_append(ALICE, "noise", None, "x" * 2001)
    assert len(store.events(t.id)) == 1


def test_overdue_and_first_response(store: SQLTicketStore, clock: FakeClock) -> None:
    a = new(store)                                   # noise: first response 12:00, resolution next day 10:00
    b = new(store, category="fees")                  # default: 14:00 / +16h
    assert store.overdue() == []
    clock.now = at(23, 12, 30)
    assert [t.id for t in store.overdue()] == [a.id]
    assert store.overdue()[0].overdue_kind(clock.now) == "first_response"
    store.comment(a.id, "收到，马上处理", actor="staff")         # a staff comment is the first response
    assert store.overdue() == []
    store.comment(b.id, "补充", actor="wx-alice")                # the reporter's own comment is not
    assert store.get(b.id).first_response_at is None
    clock.now = at(24, 10, 30)
    assert {t.id for t in store.overdue()} == {a.id, b.id}
    assert store.get(a.id).overdue_kind(clock.now) == "resolution"
    assert [t.id for t in store.list(overdue=True)] == [b.id, a.id]
    assert store.overdue(now=at(23, 9)) == []


def test_waiting_resident_pauses_the_clock(store: SQLTicketStore, clock: FakeClock) -> None:
    t = new(store)                                   # resolution due Tue 10:00 (8 business hours)
    store.assign(t.id, "li", actor="admin")
    store.transition(t.id, "in_progress", actor="li")
    clock.now = at(23, 11)
    store.transition(t.id, "waiting_resident", actor="li")
    clock.now = at(25, 11)                           # two days later: would be overdue, but paused
    assert store.overdue() == []
    t = store.transition(t.id, "in_progress", actor="li")
    # 7 business hours were left at the pause (Mon 11-12, 13-18, Tue 09-10); from Wed 11:00 they
    # run Wed 11-12, 13-18 and Thu 09-10
    assert t.resolution_due == at(26, 10)
    assert t.paused_at is None
    clock.now = at(26, 10, 1)
    assert [x.id for x in store.overdue()] == [t.id]


def test_reopen_gets_a_new_resolution_target(store: SQLTicketStore, clock: FakeClock) -> None:
    t = new(store)
    store.assign(t.id, "li", actor="admin")
    store.resolve(t.id, actor="li")
    store.rate(t.id, 2, "没解决")
    clock.now = at(25, 9)
    t = store.reopen(t.id, actor="wx-alice")
    assert t.resolution_due == at(25, 18) and t.satisfaction is None
    assert store.events(t.id)[-2].action == "rated"


def test_rating(store: SQLTicketStore) -> None:
    t = new(store)
    with pytest.raises(RatingRefused, match="once it is resolved"):
        store.rate(t.id, 5)
    store.assign(t.id, "li", actor="admin")
    store.resolve(t.id, actor="li")
    for bad in (0, 6, -1, "five", 4.5, True, None):
        with pytest.raises(ValidationError):
            store.rate(t.id, bad)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="limit is 500"):
        store.rate(t.id, 4, "好" * 501)
    t = store.rate(t.id, 4, "师傅很耐心，电话13812345678")
    assert (t.satisfaction, t.satisfaction_comment) == (4, f"师傅很耐心，电话{MOBILE_MARK}")
    t = store.close(t.id, actor="admin")
    t = store.rate(t.id, "5")
    assert t.satisfaction == 5 and t.status == "closed"
    rated = [e for e in store.events(t.id) if e.action == "rated"]
    assert [e.value for e in rated] == ["4", "5"] and rated[0].actor == "wx-alice"


def test_list_filters(store: SQLTicketStore) -> None:
    a = new(store, unit="5-101")
    b = new(store, category="parking", unit="5号楼1单元302")
    c = new(store, category="pets", unit="12-1001")
    store.assign(b.id, "li", actor="admin")
    store.assign(c.id, "wang", actor="admin")
    assert [t.id for t in store.list()] == [c.id, b.id, a.id]
    assert [t.id for t in store.list(status="assigned")] == [c.id, b.id]
    assert [t.id for t in store.list(status=["open", "assigned"], assignee="li")] == [b.id]
    assert [t.id for t in store.list(category="停车")] == [b.id]
    assert [t.id for t in store.list(unit="5栋101")] == [a.id]
    assert [t.id for t in store.list(unit="5栋")] == [b.id, a.id]
    assert [t.id for t in store.list(unit="五号楼")] == [b.id, a.id]
    assert [t.id for t in store.list(reporter_id="wx-alice", limit=1)] == [c.id]
    assert store.list(unit="12-1002") == []
    with pytest.raises(ValidationError):
        store.list(status="done")
    with pytest.raises(ValidationError):
        store.list(unit="楼上")


def test_audit_rows_are_append_only(store: SQLTicketStore) -> None:
    t = new(store)
    store.comment(t.id, "note", actor="staff")
    for sql in ("UPDATE ticket_events SET comment = 'x'", "DELETE FROM ticket_events"):
        with pytest.raises(Exception, match="append-only"):
            with store.engine.begin() as conn:
                conn.execute(text(sql))
    assert [e.comment for e in store.events(t.id)] == [None, "note"]


def test_reopen_the_same_database(make_store: Callable[..., SQLTicketStore]) -> None:
    s1 = make_store()
    t = new(s1)
    s1.dispose()
    s2 = make_store()                       # migrations already at head: nothing to do
    assert s2.get(t.id).description == t.description
    with s2.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM tickets_alembic_version")).scalar() == "0004"


def test_store_uses_utc_clock_values(make_store: Callable[..., SQLTicketStore]) -> None:
    s = make_store(clock=lambda: datetime(2026, 11, 23, 23, 30, tzinfo=timezone.utc))
    t = new(s)
    assert t.id.startswith("T-20261124-")          # the id carries the local (Shanghai) date
    assert t.created_at == datetime(2026, 11, 23, 23, 30, tzinfo=timezone.utc)
    naive = make_store(clock=lambda: datetime(2026, 11, 23, 10, 0))
    with pytest.raises(ValidationError, match="timezone-aware"):
        new(naive)
