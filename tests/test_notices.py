"""The residents' outbox: store conformance on SQLite and PostgreSQL (each notice claimed once, even by
concurrent processes), Desk.resolve keeping what Rasa returned, and the gateway delivering it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config

from assistant.channels import IncomingMessage
from assistant.channels.client import Reply
from assistant.desk.desk import Desk
from assistant.channels.gateway import Gateway
from assistant.desk.handoff import Admin, DutyRoster, open_handoffs
from assistant.moderation import Moderator, id_check_char, load_config
from assistant.desk.notices import SQLOutbox, keep, open_outbox
from assistant.desk.push import CSAT, ResidentUnreachable
from assistant.desk.tickets import ValidationError
from assistant.db import make_engine
from assistant.desk.tickets.store import MIGRATIONS, open_store

from .pg import SHANGHAI, FakeClock, sqlite_or_pg
from .tickets.conftest import test_sla

MOBILE = "13812345678"
ID_NUMBER = "11010519491231002" + id_check_char("11010519491231002")
QUESTION = "请为本次处理打分 1-5"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from sqlite_or_pg(request, tmp_path, "notices_test")


@pytest.fixture
def make_outbox(db_url: str, clock: FakeClock) -> Iterator[Callable[[], SQLOutbox]]:
    """A fresh outbox on the shared database each call: its own engine, as another process would have."""
    made: list[SQLOutbox] = []

    def make() -> SQLOutbox:
        made.append(open_outbox(db_url, clock=clock))
        return made[-1]

    yield make
    for o in made:
        o.dispose()


@pytest.fixture
def outbox(make_outbox: Callable[[], SQLOutbox]) -> SQLOutbox:
    return make_outbox()


# --- the store -----------------------------------------------------------------------------

def test_add_keeps_texts_in_order_redacted(outbox: SQLOutbox, clock: FakeClock) -> None:
    added = outbox.add("telegram:-100123:42", [QUESTION, f"有事请拨 {MOBILE}，身份证 {ID_NUMBER}", "  "],
                       "csat", "T-20261123-0001")
    assert [n.text for n in added] == [QUESTION, "有事请拨 [手机号已隐藏]，身份证 [身份证号已隐藏]"]
    pending = outbox.pending("telegram:-100123:42")
    assert pending == added and added[0].id < added[1].id
    n = pending[0]
    assert (n.kind, n.ticket_id, n.delivered_at) == ("csat", "T-20261123-0001", None)
    assert n.created_at == clock.now
    assert outbox.add("telegram:42", []) == [] and outbox.add("telegram:42", [" \n"]) == []
    assert outbox.add("telegram:42", ["x" * 3000])[0].text == "x" * 1999 + "…"


def test_add_refuses_bad_fields(outbox: SQLOutbox) -> None:
    with pytest.raises(ValidationError, match="kind"):
        outbox.add("c1", ["x"], "lunch")
    with pytest.raises(ValidationError, match="conversation_id"):
        outbox.add(" ", ["x"])
    with pytest.raises(ValidationError, match="conversation_id"):
        outbox.add("c" * 129, ["x"])
    with pytest.raises(ValidationError, match="text"):
        outbox.add("c1", [5])  # type: ignore[list-item]
    assert outbox.pending() == []


def test_pending_filters(outbox: SQLOutbox) -> None:
    outbox.add("telegram:-1:42", ["a"], "handoff_timeout", "T-1")
    outbox.add("telegram:42", ["b"])
    outbox.add("webhook:g1:u1", ["c"])
    outbox.add("web_%:x", ["d"])
    outbox.add("webXYZ:x", ["e"])
    assert [n.text for n in outbox.pending()] == ["a", "b", "c", "d", "e"]
    assert [n.text for n in outbox.pending(prefix="telegram:")] == ["a", "b"]
    assert [n.text for n in outbox.pending(prefix="web_%:")] == ["d"]          # LIKE characters are literal
    assert [n.text for n in outbox.pending("telegram:42")] == ["b"]
    assert [n.text for n in outbox.pending(limit=2)] == ["a", "b"]


def test_mark_delivered_claims_once(outbox: SQLOutbox, clock: FakeClock) -> None:
    a, b = outbox.add("c1", ["a", "b"])
    clock.advance(minutes=1)
    assert outbox.mark_delivered([a.id, a.id]) == [a.id]
    assert outbox.mark_delivered([a.id, b.id, 10_000]) == [b.id]          # a was taken, 10000 does not exist
    assert outbox.mark_delivered([a.id, b.id]) == [] and outbox.mark_delivered([]) == []
    assert outbox.pending() == []


def test_claim(outbox: SQLOutbox, clock: FakeClock) -> None:
    outbox.add("telegram:-1:42", ["a", "b"], "csat", "T-1")
    outbox.add("telegram:-1:43", ["c"])
    outbox.add("webhook:g1:u1", ["d"])
    clock.advance(minutes=2)
    mine = outbox.claim("telegram:-1:42")
    assert [n.text for n in mine] == ["a", "b"] and all(n.delivered_at == clock.now for n in mine)
    assert outbox.claim("telegram:-1:42") == []
    assert [n.text for n in outbox.claim(prefix="telegram:")] == ["c"]
    assert [n.text for n in outbox.pending()] == ["d"]


def test_concurrent_claimers_deliver_each_notice_once(make_outbox: Callable[[], SQLOutbox]) -> None:
    boxes = [make_outbox() for _ in range(4)]
    for i in range(30):
        boxes[0].add(f"telegram:-1:{i % 5}", [f"n{i}"])
    barrier = threading.Barrier(len(boxes), timeout=30)
    got: list[list[int]] = [[] for _ in boxes]
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            barrier.wait()
            while True:            # small batches, so the claimers keep running into each other
                claimed = boxes[k].claim(prefix="telegram:", limit=4)
                got[k].extend(n.id for n in claimed)
                if not claimed and not boxes[k].pending(prefix="telegram:"):
                    return
        except BaseException as exc:  # noqa: BLE001
            barrier.abort()
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(boxes))]
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    assert not errors
    everything = [i for ids in got for i in ids]
    assert len(everything) == 30 and len(set(everything)) == 30


def test_the_same_claim_from_two_outboxes(make_outbox: Callable[[], SQLOutbox]) -> None:
    one, two = make_outbox(), make_outbox()
    [n] = one.add("c1", ["a"])
    barrier = threading.Barrier(2, timeout=30)
    won: list[list[int]] = []

    def mark(box: SQLOutbox) -> None:
        barrier.wait()
        won.append(box.mark_delivered([n.id]))

    threads = [threading.Thread(target=mark, args=(b,)) for b in (one, two)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert sorted(won) == [[], [n.id]]


def test_upgrade_from_0002_and_shared_ticket_engine(db_url: str, clock: FakeClock) -> None:
    engine = make_engine(db_url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.execution_options(ticket_write=True).begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002")
    engine.dispose()
    with open_store(db_url, sla=test_sla(), clock=clock) as store:      # migrates to head
        t = store.create("wx-1", "noise", None, "吵")
        box = SQLOutbox(store.engine, clock=clock)
        box.add("wx-1", ["a"], "csat", t.id)
        assert [n.ticket_id for n in box.claim("wx-1")] == [t.id]


def test_keep_never_raises() -> None:
    class Broken:
        def add(self, *_: Any) -> list[Any]:
            raise RuntimeError(f"down {MOBILE}")

    assert keep(None, "c1", ["a"], "csat") is False
    assert keep(Broken(), "c1", ["a"], "csat", "T-1") is False          # type: ignore[arg-type]
    assert keep(Broken(), "c1", [], "csat") is False                    # type: ignore[arg-type]


# --- Desk.resolve ------------------------------------------------------------------------

class FakeResidents:
    def __init__(self, texts: list[str], reachable: bool = True) -> None:
        self.texts, self.reachable = texts, reachable
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def tell(self, conversation_id: str, intent: str, entities: dict[str, Any]) -> list[str]:
        self.calls.append((conversation_id, intent, dict(entities)))
        if not self.reachable:
            raise ResidentUnreachable(conversation_id, intent)
        return list(self.texts)


class Quiet:
    def notify(self, event: dict[str, Any]) -> None:
        pass


ROSTER = DutyRoster(admins=(Admin("wang", "王管家", {}, frozenset()),), order=("wang",), tz=SHANGHAI)


@pytest.fixture
def make_desk(db_url: str, clock: FakeClock) -> Iterator[Callable[..., Desk]]:
    made: list[Desk] = []

    def make(residents: Any, notices: bool = True) -> Desk:
        tickets = open_store(db_url, sla=test_sla(), clock=clock)
        desk = Desk(tickets, open_handoffs(db_url, clock=clock), ROSTER, Quiet(), residents,
                    SQLOutbox(tickets.engine, clock=clock) if notices else None)
        made.append(desk)
        return desk

    yield make
    for d in made:
        d.tickets.dispose()
        d.handoffs.dispose()


def test_resolve_keeps_the_csat_question_for_the_gateway(make_desk: Callable[..., Desk]) -> None:
    desk = make_desk(FakeResidents([QUESTION, f"或致电 {MOBILE}"]))
    t = desk.tickets.create("telegram:-100123:42", "noise", "5-101", "楼上吵")
    desk.tickets.assign(t.id, "wang", actor="wang")
    ticket, texts = desk.resolve(t.id, actor="wang")
    assert ticket.status == "resolved" and texts == []          # nothing left for the caller to forward
    assert desk.residents.calls == [("telegram:-100123:42", CSAT, {"ticket_id": t.id})]
    stored = desk.notices.pending("telegram:-100123:42")
    assert [(n.text, n.kind, n.ticket_id) for n in stored] == [
        (QUESTION, "csat", t.id), ("或致电 [手机号已隐藏]", "csat", t.id)]
    assert "请居民评价" in (desk.tickets.events(t.id)[-1].comment or "")


def test_resolve_without_an_outbox_returns_the_texts(make_desk: Callable[..., Desk]) -> None:
    desk = make_desk(FakeResidents([QUESTION]), notices=False)
    t = desk.tickets.create("wx-1", "noise", None, "吵")
    desk.tickets.assign(t.id, "wang", actor="wang")
    assert desk.resolve(t.id, actor="wang")[1] == [QUESTION]


def test_resolve_pushed_or_unreachable_stores_nothing(make_desk: Callable[..., Desk]) -> None:
    pushed = make_desk(FakeResidents([]))                    # the web chat: Rasa pushed it itself
    t = pushed.tickets.create("web-1", "noise", None, "吵")
    pushed.tickets.assign(t.id, "wang", actor="wang")
    assert pushed.resolve(t.id, actor="wang")[1] == []
    down = make_desk(FakeResidents([QUESTION], reachable=False))
    t2 = down.tickets.create("wx-2", "noise", None, "吵")
    down.tickets.assign(t2.id, "wang", actor="wang")
    assert down.resolve(t2.id, actor="wang")[1] == []
    assert "未能送达" in (down.tickets.events(t2.id)[-1].comment or "")
    assert pushed.notices.pending() == []


def test_desk_open_wires_the_outbox(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'desk.db'}"
    from assistant.runtime.app import open_desk
    from assistant.settings import load_settings

    with open_desk(load_settings().with_ports(rasa_port=9), url) as desk:
        assert isinstance(desk.notices, SQLOutbox) and desk.notices.engine is desk.tickets.engine
        desk.notices.add("wx-1", ["a"])
        with open_outbox(url) as other:                        # another process, the same table
            assert [n.text for n in other.claim("wx-1")] == ["a"]


# --- the gateway -------------------------------------------------------------------------

class Answerer:
    def __init__(self, route: str = "answer") -> None:
        self.route = route

    def __call__(self, text: str, sender: str) -> Reply:
        return Reply(self.route, [f"答：{text}"])


def group_msg(text: str, sender: str = "42", conv: str = "-100123") -> IncomingMessage:
    return IncomingMessage("telegram", conv, True, sender, "5-101-张三", text, True)


def private_msg(text: str, sender: str = "42") -> IncomingMessage:
    return IncomingMessage("telegram", sender, False, sender, "5-101-张三", text, True)


@pytest.fixture
def sqlite_outbox(tmp_path: Path) -> Iterator[SQLOutbox]:
    with open_outbox(f"sqlite:///{tmp_path / 'gw.db'}") as box:
        yield box


def test_gateway_delivers_with_the_next_reply_of_that_conversation(sqlite_outbox: SQLOutbox) -> None:
    gateway = Gateway(Moderator(load_config()), Answerer(), outbox=sqlite_outbox)
    sqlite_outbox.add("telegram:-100123:42", [QUESTION], "csat", "T-1")
    other = gateway.handle(group_msg("垃圾几点扔", sender="43"))             # another resident
    assert other.texts == ["答：垃圾几点扔"] and other.notices == []
    private = gateway.handle(private_msg("车位"))                              # the same resident, privately
    assert private.notices == []
    mine = gateway.handle(group_msg("谢谢"))
    assert [(m.conversation_id, m.text, m.at) for m in mine.outgoing] == [
        ("-100123", QUESTION, "42"), ("-100123", "答：谢谢", "42")]
    assert mine.notices == [QUESTION] and mine.as_reply().replies == [QUESTION, "答：谢谢"]
    assert gateway.handle(group_msg("好的")).texts == ["答：好的"]            # delivered once
    assert sqlite_outbox.pending() == []


def test_gateway_stays_quiet_while_handed_off(sqlite_outbox: SQLOutbox) -> None:
    gateway = Gateway(Moderator(load_config()), Answerer("handoff"), outbox=sqlite_outbox)
    sqlite_outbox.add("telegram:42", [QUESTION])
    result = gateway.handle(private_msg("在吗"))
    assert result.notices == [] and len(sqlite_outbox.pending()) == 1


def test_deliver_notices_addresses_them_from_the_key(sqlite_outbox: SQLOutbox) -> None:
    gateway = Gateway(Moderator(load_config()), Answerer(), outbox=sqlite_outbox)
    sqlite_outbox.add("telegram:-100123:42", ["group"])
    sqlite_outbox.add("telegram:42", ["private"])
    sqlite_outbox.add("webhook:g1:u1", ["elsewhere"])
    sent = gateway.deliver_notices("telegram")
    assert [(m.conversation_id, m.text, m.at, m.private_to) for m in sent] == [
        ("-100123", "group", "42", None), ("42", "private", None, "42")]
    assert gateway.deliver_notices("telegram") == []
    assert [n.text for n in sqlite_outbox.pending()] == ["elsewhere"]
    assert Gateway(Moderator(load_config()), Answerer()).deliver_notices("telegram") == []   # no outbox


def test_a_broken_outbox_does_not_stop_replies(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        def claim(self, *_: Any, **__: Any) -> list[Any]:
            raise RuntimeError("down")

    gateway = Gateway(Moderator(load_config()), Answerer(), outbox=Broken())  # type: ignore[arg-type]
    assert gateway.handle(group_msg("垃圾几点扔")).texts == ["答：垃圾几点扔"]
    assert gateway.deliver_notices("telegram") == []
    assert "outbox unavailable" in caplog.text and "RuntimeError: down" in caplog.text   # with the traceback
