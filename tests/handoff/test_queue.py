"""Conformance tests of the handoff queue, over SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta, timezone

import pytest

from assistant.desk.handoff import AlreadyTaken, HandoffNotFound, HandoffStore, HandoffUnavailable, HandoffValidation, InvalidHandoffState, SQLHandoffStore, normalize_handoff_id, open_handoffs

from .conftest import FakeClock

MOBILE = "13812345678"
ID_NUMBER = "11010519491231002X"


def test_protocol(store: SQLHandoffStore) -> None:
    s: HandoffStore = store       # the implementation satisfies the protocol
    assert s is store


def test_request_is_idempotent_while_open(store: SQLHandoffStore, clock: FakeClock) -> None:
    h, created = store.request("conv-1", "wx-123", "request_human", f"想找人工，电话 {MOBILE}，身份证 {ID_NUMBER}")
    assert created and h.state == "waiting" and h.admin is None
    assert h.id == "H-20261123-0001" and normalize_handoff_id(h.id) == h.id
    assert MOBILE not in h.summary and ID_NUMBER not in h.summary and "[手机号已隐藏]" in h.summary
    assert h.created_at == clock.now.astimezone(timezone.utc) and h.created_at.tzinfo is not None
    again, created = store.request("conv-1", "wx-123", "low_confidence", "another summary")
    assert not created and again == h                        # nothing changes
    store.take(h.id, "wang")
    assert store.request("conv-1", "wx-123", "abusive")[0].id == h.id
    other, created = store.request("conv-2", "wx-456", "sensitive_category")
    assert created and other.id == "H-20261123-0002"
    store.release(h.id, "wang")
    fresh, created = store.request("conv-1", "wx-123", "low_confidence")
    assert created and fresh.id != h.id and fresh.reason == "low_confidence"
    assert store.get(h.id).state == "released"


@pytest.mark.parametrize(("args", "field"), [
    (("conv", "wx", "angry"), "reason"),
    (("", "wx", "abusive"), "conversation_id"),
    (("conv", "  ", "abusive"), "resident_id"),
    (("c" * 129, "wx", "abusive"), "conversation_id"),
    (("conv", "w" * 65, "abusive"), "resident_id"),
])
def test_request_refuses_bad_fields(store: SQLHandoffStore, args: tuple[str, str, str], field: str) -> None:
    with pytest.raises(HandoffValidation) as err:
        store.request(*args)
    assert err.value.field == field


def test_summary_is_cleaned_and_clipped(store: SQLHandoffStore) -> None:
    h, _ = store.request("conv", "wx", "request_human", "a\x00b\x07" + "很长" * 400)
    assert h.summary.startswith("ab") and len(h.summary) == 500 and h.summary.endswith("…")
    assert store.request("conv-2", "wx", "request_human", "<b>'; DROP TABLE handoffs;--")[0].summary \
        == "<b>'; DROP TABLE handoffs;--"


def test_take_and_release(store: SQLHandoffStore, clock: FakeClock) -> None:
    h, _ = store.request("conv-1", "wx-1", "request_human")
    clock.advance(minutes=3)
    taken = store.take(f" {h.id.lower()} ", "wang")            # ids forgive case and spaces ...
    assert taken.state == "taken" and taken.admin == "wang" and taken.taken_at == clock.now
    assert store.take(h.id.replace("H-", "Ｈ－"), "wang") == taken   # ... and full width; same admin: no-op
    with pytest.raises(AlreadyTaken) as err:
        store.take(h.id, "li")
    assert err.value.admin == "wang" and "already taken by wang" in str(err.value)
    clock.advance(minutes=10)
    released = store.release(h.id, "li")                       # a colleague may hand it back
    assert released.state == "released" and released.released_by == "li" and released.admin == "wang"
    assert store.release(h.id, "wang") == released             # again: no-op
    with pytest.raises(InvalidHandoffState):
        store.take(h.id, "wang")


def test_release_a_waiting_handoff(store: SQLHandoffStore) -> None:
    h, _ = store.request("conv-1", "wx-1", "low_confidence")
    assert store.release(h.id, "wang").state == "released"
    assert not store.is_paused("conv-1")


@pytest.mark.parametrize("bad", ["H-20261123-9999", "nonsense", "", "T-20261123-0001"])
def test_unknown_ids(store: SQLHandoffStore, bad: str) -> None:
    for op in (lambda: store.get(bad), lambda: store.take(bad, "wang"), lambda: store.release(bad, "wang")):
        with pytest.raises(HandoffNotFound):
            op()


def test_is_paused(store: SQLHandoffStore) -> None:
    assert not store.is_paused("conv-1")
    h, _ = store.request("conv-1", "wx-1", "request_human")
    assert store.is_paused("conv-1") and not store.is_paused("conv-2")
    store.take(h.id, "wang")
    assert store.is_paused("conv-1")
    store.release(h.id, "wang")
    assert not store.is_paused("conv-1")


def test_expire(store: SQLHandoffStore, clock: FakeClock) -> None:
    old, _ = store.request("conv-old", "wx-1", "request_human")
    taken, _ = store.request("conv-taken", "wx-2", "request_human")
    store.take(taken.id, "wang")
    clock.advance(minutes=10)
    young, _ = store.request("conv-young", "wx-3", "low_confidence")
    clock.advance(minutes=10)
    assert store.expire(take_timeout=timedelta(minutes=30)) == []
    clock.advance(minutes=10)                                 # old: 30 min, young: 20 min
    expired = store.expire(take_timeout=timedelta(minutes=30))
    assert [h.id for h in expired] == [old.id] and expired[0].state == "expired"
    assert expired[0].expired_at == clock.now
    assert store.expire(take_timeout=timedelta(minutes=30)) == []      # each is returned once
    assert not store.is_paused("conv-old") and store.is_paused("conv-taken") and store.is_paused("conv-young")
    with pytest.raises(InvalidHandoffState):
        store.take(old.id, "wang")
    with pytest.raises(InvalidHandoffState):
        store.release(old.id, "wang")
    assert store.request("conv-old", "wx-1", "request_human")[1]       # a new one may be requested
    later = store.expire(clock.now + timedelta(hours=1), timedelta(minutes=30))
    assert {h.conversation_id for h in later} == {"conv-young", "conv-old"}
    with pytest.raises(HandoffValidation):
        store.expire()                                         # no timeout anywhere


def test_store_take_timeout(make_store: Callable[..., SQLHandoffStore], clock: FakeClock) -> None:
    store = make_store(take_timeout=timedelta(minutes=15))
    store.request("conv-1", "wx-1", "request_human")
    clock.advance(minutes=14)
    assert store.is_paused("conv-1")
    clock.advance(minutes=2)
    assert not store.is_paused("conv-1")                       # past the timeout, before any sweep
    assert [h.conversation_id for h in store.expire()] == ["conv-1"]


def test_list(store: SQLHandoffStore) -> None:
    a, _ = store.request("c-a", "wx", "request_human")
    b, _ = store.request("c-b", "wx", "abusive")
    c, _ = store.request("c-c", "wx", "sensitive_category")
    store.take(b.id, "wang")
    store.release(c.id, "wang")
    assert [h.id for h in store.list()] == [a.id, b.id, c.id]
    assert [h.id for h in store.list(state=["waiting", "taken"])] == [a.id, b.id]
    assert [h.id for h in store.list(state="released")] == [c.id]
    assert len(store.list(limit=2)) == 2
    assert store.open_for("c-b") == store.get(b.id) and store.open_for("c-c") is None
    with pytest.raises(HandoffValidation):
        store.list(state="done")


def test_reopen_keeps_data(make_store: Callable[..., SQLHandoffStore]) -> None:
    first = make_store()
    h, _ = first.request("conv-1", "wx-1", "request_human", "摘要")
    first.dispose()
    second = make_store()                     # create_all again on existing tables: harmless
    assert second.get(h.id).summary == "摘要" and second.is_paused("conv-1")


def test_shares_the_ticket_database(db_url: str, clock: FakeClock) -> None:
    from assistant.desk.tickets import Reporter, open_store

    with open_handoffs(db_url, clock=clock) as q, open_store(db_url) as tickets:
        h, _ = q.request("conv-1", "wx-1", "request_human")
        t = tickets.create(Reporter("wx-1"), "noise", "5栋101", "楼上很吵")
    with open_store(db_url) as tickets, open_handoffs(db_url, clock=clock) as q:   # migrations still happy
        assert tickets.get(t.id).id == t.id and q.get(h.id).id == h.id


def test_concurrent_requests_open_one(make_store: Callable[..., SQLHandoffStore]) -> None:
    stores = [make_store() for _ in range(6)]
    barrier = threading.Barrier(len(stores))
    results: list[tuple[str, bool]] = []
    errors: list[BaseException] = []

    def worker(s: SQLHandoffStore) -> None:
        try:
            barrier.wait(timeout=60)
            h, created = s.request("conv-race", "wx-1", "request_human")
            results.append((h.id, created))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len({hid for hid, _ in results}) == 1 and sum(created for _, created in results) == 1
    assert len(stores[0].list()) == 1


def test_concurrent_takes_one_wins(make_store: Callable[..., SQLHandoffStore]) -> None:
    stores = [make_store() for _ in range(6)]
    h, _ = stores[0].request("conv-1", "wx-1", "request_human")
    barrier = threading.Barrier(len(stores))
    won: list[str] = []
    lost: list[str] = []

    def worker(i: int, s: SQLHandoffStore) -> None:
        barrier.wait(timeout=60)
        try:
            won.append(s.take(h.id, f"admin-{i}").admin or "")
        except AlreadyTaken as exc:
            lost.append(exc.admin)

    threads = [threading.Thread(target=worker, args=(i, s)) for i, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1 and len(lost) == 5 and set(lost) == set(won)
    assert stores[0].get(h.id).admin == won[0]


def test_concurrent_sweeps_expire_each_once(make_store: Callable[..., SQLHandoffStore], clock: FakeClock) -> None:
    stores = [make_store() for _ in range(4)]
    ids = {stores[0].request(f"conv-{i}", "wx", "request_human")[0].id for i in range(10)}
    clock.advance(hours=1)
    barrier = threading.Barrier(len(stores))
    seen: list[str] = []

    def worker(s: SQLHandoffStore) -> None:
        barrier.wait(timeout=60)
        seen.extend(h.id for h in s.expire(take_timeout=timedelta(minutes=5)))

    threads = [threading.Thread(target=worker, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(seen) == sorted(ids)


def test_unavailable(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(HandoffUnavailable, match="not a database URL"):
        open_handoffs("::nonsense::")
    with pytest.raises(HandoffUnavailable, match="cannot open"):
        open_handoffs("postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2")


def test_default_url_is_the_tickets_one(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    url = f"sqlite:///{Path(str(tmp_path)) / 'env.db'}"
    monkeypatch.setenv("ASSISTANT_TICKETS_URL", url)
    from assistant.runtime.app import open_desk
    from assistant.settings import load_settings

    with open_desk(load_settings()) as desk:
        assert str(desk.handoffs.engine.url) == url == str(desk.tickets.engine.url)
