"""Overdue reminders claimed once per ticket and kind; the assistant's notes are not a first response."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from alembic import command
from alembic.config import Config

from assistant.db import make_engine
from assistant.desk.tickets import SYSTEM, ValidationError
from assistant.desk.tickets.store import MIGRATIONS, SQLTicketStore, open_store

from .conftest import FakeClock, test_sla


def test_claim_once_per_kind(store: SQLTicketStore, clock: FakeClock) -> None:
    t = store.create("wx-1", "noise", "5-101", "楼上吵")
    clock.advance(hours=5)
    assert store.claim_reminder(t.id, "first_response", t.first_response_due) is True
    assert store.claim_reminder(t.id.lower(), "first_response", t.first_response_due) is False
    assert store.claim_reminder(t.id, "resolution", t.resolution_due) is True
    reminded = [e for e in store.events(t.id) if e.action == "reminded"]
    assert [(e.actor, e.value) for e in reminded] == [(SYSTEM, "first_response"), (SYSTEM, "resolution")]
    assert store.get(t.id).first_response_at is None          # a reminder is not a response
    with pytest.raises(ValidationError):
        store.claim_reminder(t.id, "lunch", t.resolution_due)


def test_claim_once_across_stores_and_threads(make_store: Callable[..., SQLTicketStore]) -> None:
    stores = [make_store() for _ in range(4)]
    t = stores[0].create("wx-1", "parking", None, "车位被占")
    barrier = threading.Barrier(len(stores), timeout=30)
    won: list[bool] = []
    errors: list[BaseException] = []

    def claim(s: SQLTicketStore) -> None:
        try:
            barrier.wait()
            won.append(s.claim_reminder(t.id, "resolution", t.resolution_due))
        except BaseException as exc:  # noqa: BLE001
            barrier.abort()
            errors.append(exc)

    threads = [threading.Thread(target=claim, args=(s,)) for s in stores]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert not errors and sorted(won) == [False, False, False, True]


def test_system_note_is_not_a_first_response(store: SQLTicketStore, clock: FakeClock) -> None:
    t = store.create("wx-1", "noise", None, "吵")
    clock.advance(minutes=5)
    store.comment(t.id, "超时通知未能送达居民", actor=SYSTEM)
    assert store.get(t.id).first_response_at is None
    clock.advance(minutes=5)
    store.comment(t.id, "已联系", actor="admin:wang")
    assert store.get(t.id).first_response_at == clock.now


def test_upgrade_from_0001_keeps_tickets(db_url: str) -> None:
    engine = make_engine(db_url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.execution_options(ticket_write=True).begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    engine.dispose()
    with open_store(db_url, sla=test_sla(), clock=FakeClock()) as old:   # migrates to head
        t = old.create("wx-1", "fees", None, "多收费")
        assert old.claim_reminder(t.id, "first_response", t.first_response_due)
        assert old.get(t.id).description == "多收费"
