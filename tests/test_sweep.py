"""The desk sweep: expired handoffs become tickets, overdue tickets are reminded once; the admins'
chat notifier; the Sweeper thread; ``desk sweep`` / ``desk watch``. Shared tests run on SQLite and
PostgreSQL (skipped, naming host and port, when the server is unreachable)."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from assistant.channels.base import OutgoingMessage
from assistant.desk.admin_notify import ChatNotifier, format_event, notifier_from_settings
from assistant.desk.desk import Desk
from assistant.errors import ConfigError
from assistant.logs import RedactFilter
from assistant.desk.handoff import Admin, DutyRoster, LogNotifier, MultiNotifier, WebhookNotifier, handoff_event, open_handoffs, ticket_event
from assistant.moderation import id_check_char
from assistant.desk.notices import SQLOutbox
from assistant.desk.push import HANDOFF_TIMEOUT, ResidentUnreachable
from assistant.desk.sweep import TICKET_PREFIX, TOLD_NOTE, UNREACHABLE_NOTE, Sweeper, sweep
from assistant.desk.tickets.store import open_store
from assistant.settings import load_settings
from assistant.vocabulary import infer_category

from .conftest import free_port
from .pg import MONDAY_10, SHANGHAI, FakeClock, sqlite_or_pg
from .tickets.conftest import test_sla

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = timedelta(minutes=30)
MOBILE = "13812345678"
CARD = "6222 0212 3456 7890 128"                       # Luhn-valid
ID_NUMBER = "11010519491231002" + id_check_char("11010519491231002")
SUMMARY = f"5栋101楼上装修太吵了，电话{MOBILE}，身份证{ID_NUMBER}，卡号{CARD}"
ROSTER = DutyRoster(admins=(Admin("wang", "王管家", {"phone": MOBILE, "wecom": "wang-wx"}, frozenset({"fees"})),
                        Admin("li", "李主任", {"telegram": "@li_tg"}, frozenset({"noise"}))),
                order=("wang",), tz=SHANGHAI)


def no_personal_numbers(text: str) -> bool:
    digits = text.replace(" ", "")
    return MOBILE not in digits and ID_NUMBER not in digits and CARD.replace(" ", "") not in digits


class Recorder:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def notify(self, event: dict[str, Any]) -> None:
        self.events.append(event)


class FakeResidents:
    """Records tell() calls; ``reachable`` False makes it raise like a stopped assistant."""

    def __init__(self, reachable: bool = True) -> None:
        self.reachable = reachable
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def tell(self, conversation_id: str, intent: str, entities: dict[str, Any]) -> list[str]:
        self.calls.append((conversation_id, intent, dict(entities)))
        if not self.reachable:
            raise ResidentUnreachable(conversation_id, intent)
        return ["抱歉，暂时没有管理员接手，已为您登记工单"]


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from sqlite_or_pg(request, tmp_path, "sweep_test")


@pytest.fixture
def make_desk(db_url: str, clock: FakeClock) -> Iterator[Callable[..., Desk]]:
    """A fresh Desk on the shared database each call: its own engines, as another process would have."""
    made: list[Desk] = []

    def make(notifier: Any = None, residents: Any = None) -> Desk:
        desk = Desk(open_store(db_url, sla=test_sla(), clock=clock), open_handoffs(db_url, clock=clock), ROSTER,
                    notifier if notifier is not None else Recorder(), residents or FakeResidents())
        made.append(desk)
        return desk

    yield make
    for d in made:
        d.tickets.dispose()
        d.handoffs.dispose()


@pytest.fixture
def desk(make_desk: Callable[..., Desk]) -> Desk:
    return make_desk()


# --- expired handoffs ----------------------------------------------------------------------

def test_expired_handoff_becomes_ticket_resident_and_admins_told(desk: Desk, clock: FakeClock,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    h, _ = desk.handoffs.request("conv-1", "wx-1", "request_human", SUMMARY)
    clock.advance(minutes=29)
    assert sweep(desk, clock(), take_timeout=TIMEOUT).empty            # not yet
    clock.advance(minutes=2)
    with caplog.at_level(logging.INFO):
        report = sweep(desk, clock(), take_timeout=TIMEOUT)

    assert [e.handoff_id for e in report.expired] == [h.id] and not report.errors and not report.unreachable
    item = report.expired[0]
    assert item.told and item.texts == ["抱歉，暂时没有管理员接手，已为您登记工单"] and item.admin_id == "li"
    ticket = desk.tickets.get(item.ticket_id or "")
    assert ticket.reporter_id == "wx-1" and ticket.category == infer_category(h.summary) == "noise"
    assert ticket.unit == "5-101" and ticket.description == TICKET_PREFIX + h.summary
    assert "[手机号已隐藏]" in ticket.description and no_personal_numbers(ticket.description)
    assert ticket.first_response_at is None                 # the system's note is not a response
    assert [e.comment for e in desk.tickets.events(ticket.id) if e.actor == "system"] == [TOLD_NOTE]
    assert desk.residents.calls == [("conv-1", HANDOFF_TIMEOUT, {"ticket_id": ticket.id, "handoff_id": h.id})]
    assert desk.handoffs.get(h.id).state == "expired" and not desk.handoffs.is_paused("conv-1")
    [event] = desk.notifier.events
    assert event["event"] == "handoff.expired" and event["handoff_id"] == h.id
    assert event["ticket_id"] == ticket.id and event["resident_told"] is True and event["admin"]["id"] == "li"
    assert no_personal_numbers(caplog.text) and "装修" not in caplog.text   # logs: ids only

    clock.advance(minutes=1)
    assert sweep(desk, clock(), take_timeout=TIMEOUT).empty               # nothing more
    assert len(desk.notifier.events) == 1 and len(desk.residents.calls) == 1
    assert len(desk.tickets.list(reporter_id="wx-1")) == 1


def test_unreachable_resident_is_recorded_not_fatal(make_desk: Callable[..., Desk], clock: FakeClock) -> None:
    desk = make_desk(residents=FakeResidents(reachable=False))
    h1, _ = desk.handoffs.request("conv-1", "wx-1", "low_confidence", "")
    h2, _ = desk.handoffs.request("conv-2", "wx-2", "request_human", "物业费多收了")
    clock.advance(hours=1)
    report = sweep(desk, clock(), take_timeout=TIMEOUT)
    assert [e.handoff_id for e in report.expired] == [h1.id, h2.id] and not report.errors
    assert report.unreachable == ["conv-1", "conv-2"]
    for item in report.expired:
        assert item.ticket_id and not item.told
        notes = [e.comment for e in desk.tickets.events(item.ticket_id) if e.actor == "system"]
        assert notes == [UNREACHABLE_NOTE]
    assert desk.tickets.get(report.expired[0].ticket_id or "").description == TICKET_PREFIX   # empty summary
    fees = desk.tickets.get(report.expired[1].ticket_id or "")
    assert fees.category == "fees" and report.expired[1].admin_id == "wang"
    assert [e["resident_told"] for e in desk.notifier.events] == [False, False]


def test_a_broken_step_does_not_stop_the_sweep(make_desk: Callable[..., Desk], clock: FakeClock) -> None:
    class Broken:
        def tell(self, *_: Any) -> list[str]:
            raise RuntimeError(f"boom {MOBILE}")

    class BrokenNotifier:
        def notify(self, event: dict[str, Any]) -> None:
            raise RuntimeError("down")

    desk = make_desk(notifier=BrokenNotifier(), residents=Broken())
    desk.handoffs.request("conv-1", "wx-1", "request_human", "x")
    clock.advance(hours=1)
    report = sweep(desk, clock(), take_timeout=TIMEOUT)
    assert len(report.expired) == 1 and report.unreachable == ["conv-1"]
    assert any(e.startswith("tell resident of handoff") and e.endswith("RuntimeError") for e in report.errors)
    assert any(e.startswith("notify handoff") for e in report.errors)
    assert all(MOBILE not in e for e in report.errors)


def test_texts_rasa_returned_go_to_the_outbox(make_desk: Callable[..., Desk], clock: FakeClock) -> None:
    class Rest(FakeResidents):          # a REST-channel conversation: Rasa returns the texts, with a number
        def tell(self, conversation_id: str, intent: str, entities: dict[str, Any]) -> list[str]:
            super().tell(conversation_id, intent, entities)
            return ["抱歉，暂时没有管理员接手", f"已登记工单 {entities['ticket_id']}，急事请拨 {MOBILE}"]

    base = make_desk(residents=Rest())
    desk = dataclasses.replace(base, notices=SQLOutbox(base.tickets.engine, clock=clock))
    h, _ = desk.handoffs.request("telegram:-100123:42", "telegram:-100123:42", "request_human", "找人工")
    clock.advance(hours=1)
    report = sweep(desk, clock(), take_timeout=TIMEOUT)
    [item] = report.expired
    assert item.told and item.queued and item.texts == [] and not report.errors
    stored = desk.notices.pending("telegram:-100123:42")
    assert [(n.kind, n.ticket_id) for n in stored] == [("handoff_timeout", item.ticket_id)] * 2
    assert stored[1].text == f"已登记工单 {item.ticket_id}，急事请拨 [手机号已隐藏]"
    assert report.as_dict()["expired"][0]["queued"] is True
    assert [e.comment for e in desk.tickets.events(item.ticket_id or "") if e.actor == "system"] == [TOLD_NOTE]


def test_handoff_timeout_from_env(desk: Desk, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ASSISTANT_HANDOFF_TIMEOUT", raising=False)
    assert load_settings().handoff_timeout == timedelta(minutes=30) == desk.handoff_timeout
    monkeypatch.setenv("ASSISTANT_HANDOFF_TIMEOUT", "45")
    desk.handoff_timeout = load_settings().handoff_timeout          # as open_desk passes it
    desk.handoffs.request("conv-1", "wx-1", "request_human", "找人工")
    clock.advance(minutes=40)
    assert sweep(desk, clock()).empty
    clock.advance(minutes=6)
    assert len(sweep(desk, clock()).expired) == 1
    for bad in ("soon", "0", "-5"):
        monkeypatch.setenv("ASSISTANT_HANDOFF_TIMEOUT", bad)
        with pytest.raises(ConfigError, match="ASSISTANT_HANDOFF_TIMEOUT"):
            load_settings()


# --- overdue tickets -----------------------------------------------------------------------

def test_overdue_reminded_once_per_kind_across_desks(make_desk: Callable[..., Desk], clock: FakeClock) -> None:
    one, two = make_desk(), make_desk()          # two processes' worth: separate engines, same database
    t = one.tickets.create("wx-1", "noise", "5-101", "楼上每晚拖椅子")   # first response due 12:00, resolution Tue 10:00
    clock.advance(hours=2, minutes=30)                                      # Monday 12:30
    r1 = sweep(one, clock(), take_timeout=TIMEOUT)
    assert [(r.ticket_id, r.kind, r.admin_id) for r in r1.reminders] == [(t.id, "first_response", "li")]
    assert r1.reminders[0].due == t.first_response_due
    assert sweep(two, clock(), take_timeout=TIMEOUT).empty
    clock.advance(minutes=30)
    assert sweep(one, clock(), take_timeout=TIMEOUT).empty

    one.tickets.assign(t.id, "李师傅", actor="admin:li")                    # responded; resolution still due
    clock.advance(hours=22)                                                  # Tuesday 11:00
    r2 = sweep(two, clock(), take_timeout=TIMEOUT)
    assert [(r.ticket_id, r.kind, r.assignee) for r in r2.reminders] == [(t.id, "resolution", "李师傅")]
    assert sweep(one, clock(), take_timeout=TIMEOUT).empty and sweep(two, clock(), take_timeout=TIMEOUT).empty

    events = one.notifier.events + two.notifier.events
    assert [(e["event"], e["ticket_id"], e["kind"]) for e in events] == [
        ("ticket.overdue", t.id, "first_response"), ("ticket.overdue", t.id, "resolution")]
    first = events[0]
    assert first["category"] == "noise" and first["due"] == t.first_response_due.isoformat()
    assert first["assignee"] is None and first["admin"]["id"] == "li" and events[1]["assignee"] == "李师傅"
    assert "拖椅子" not in json.dumps(events, ensure_ascii=False) and "5-101" not in json.dumps(events)
    reminded = [e.value for e in one.tickets.events(t.id) if e.action == "reminded"]
    assert reminded == ["first_response", "resolution"]


def test_concurrent_sweeps_do_each_thing_once(make_desk: Callable[..., Desk], clock: FakeClock) -> None:
    desks = [make_desk() for _ in range(3)]
    h, _ = desks[0].handoffs.request("conv-1", "wx-1", "request_human", "想找人工")
    t = desks[0].tickets.create("wx-2", "parking", None, "车位被占")
    clock.advance(hours=6)                                                 # Monday 16:00: first response (15:00) late
    barrier = threading.Barrier(len(desks), timeout=30)
    reports, errors = [], []

    def run(d: Desk) -> None:
        try:
            barrier.wait()
            reports.append(sweep(d, clock(), take_timeout=TIMEOUT))
        except BaseException as exc:  # noqa: BLE001
            barrier.abort()
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(d,)) for d in desks]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert not errors and len(reports) == 3 and not any(r.errors for r in reports)
    assert [e.handoff_id for r in reports for e in r.expired] == [h.id]
    assert [(x.ticket_id, x.kind) for r in reports for x in r.reminders] == [(t.id, "first_response")]
    assert len(desks[0].tickets.list(reporter_id="wx-1")) == 1
    assert sum(len(d.residents.calls) for d in desks) == 1
    assert sum(len(d.notifier.events) for d in desks) == 2


# --- notifiers ------------------------------------------------------------------------------

def test_chat_notifier_messages_without_personal_numbers(make_desk: Callable[..., Desk], clock: FakeClock) -> None:
    sent: list[OutgoingMessage] = []
    chat = ChatNotifier(sent.append, "admins-group", channel="telegram")
    desk = make_desk(notifier=MultiNotifier([LogNotifier(), chat]), residents=FakeResidents(reachable=False))
    h, _ = desk.handoffs.request("conv-1", "wx-1", "request_human", SUMMARY)
    requested = handoff_event("handoff.requested", h, ROSTER.handler(clock(), "noise"))
    requested["summary"] = SUMMARY                                  # unredacted text slipped in by a caller
    chat.notify(requested)
    t = desk.tickets.create("wx-2", "noise", None, "楼上吵")
    clock.advance(hours=3)
    sweep(desk, clock(), take_timeout=TIMEOUT)

    assert [m.conversation_id for m in sent] == ["admins-group"] * 3
    req, expired, overdue = (m.text for m in sent)
    assert all(no_personal_numbers(m.text) for m in sent), [m.text for m in sent]
    assert h.id in req and "居民要求人工" in req and "@li_tg 李主任" in req and "[手机号已隐藏]" in req
    assert "[身份证号已隐藏]" in req and "[银行卡号已隐藏]" in req
    assert h.id in expired and "未能通知居民" in expired and "转人工超时" in expired
    ticket_id = desk.tickets.list(reporter_id="wx-1")[0].id
    assert ticket_id in expired
    assert t.id in overdue and "噪音" in overdue and "首次响应已超时" in overdue and "11-23 12:00" in overdue
    assert "未分配" in overdue
    assert all(m.at == "li_tg" for m in sent)
    assert all(len(m.text) < 250 for m in sent)


def test_chat_handles_and_other_events() -> None:
    with open_handoffs("sqlite://") as q:
        h = q.request("conv-9", "wx-9", "sensitive_category", "x")[0]
    wang = ROSTER.get("wang")
    text, at = format_event(handoff_event("handoff.requested", h, wang))
    assert at == "wang-wx" and "@wang-wx 王管家" in text and MOBILE not in text    # a phone is never a handle
    text, at = format_event(handoff_event("handoff.requested", h, None))
    assert at is None and "未排班" in text
    text, at = format_event(handoff_event("handoff.taken", h, wang))
    assert at is None and h.id in text and "接手" in text
    assert h.id in format_event(handoff_event("handoff.released", h, wang))[0]
    placeholder = Admin("p", "占位", {"phone": "{{property_phone}}", "wecom": "{{wecom_id}}"})
    assert format_event(handoff_event("handoff.requested", h, placeholder))[1] is None


def test_chat_notifier_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    def broken(_: OutgoingMessage) -> None:
        raise ConnectionError(MOBILE)

    caplog.handler.addFilter(RedactFilter())           # what the application's log handler does
    with caplog.at_level(logging.ERROR, logger="assistant.desk.admin_notify"):
        ChatNotifier(broken, "admins").notify({"event": "ticket.overdue", "ticket_id": "T-20261123-0001",
                                               "kind": "resolution", "due": "2026-11-23T10:00:00+00:00"})
    assert "T-20261123-0001" in caplog.text and "ConnectionError: [手机号已隐藏]" in caplog.text
    assert 'test_sweep.py", line' in caplog.text and MOBILE not in caplog.text   # the traceback, redacted


def test_ticket_events_in_log_and_webhook(caplog: pytest.LogCaptureFixture) -> None:
    with open_store("sqlite://", sla=test_sla(), clock=FakeClock()) as store:
        t = store.create("wx-1", "noise", "5-101", f"楼上吵 {MOBILE}")
    event = ticket_event(t, "first_response", ROSTER.get("li"), at=MONDAY_10)
    with caplog.at_level(logging.INFO, logger="assistant.desk.handoff.notify"):
        LogNotifier().notify(event)
    assert f"ticket.overdue {t.id} kind=first_response admin=li" in caplog.text
    posted: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        posted.append(json.loads(request.content))
        return httpx.Response(200)

    WebhookNotifier("http://hooks.invalid/x", client=httpx.Client(transport=httpx.MockTransport(handler))).notify(event)
    assert posted == [event] and "summary" not in posted[0] and MOBILE not in json.dumps(posted)


def test_notifier_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ASSISTANT_NOTIFY_WEBHOOK", "ASSISTANT_ADMIN_CONVERSATION", "ASSISTANT_ADMIN_CHANNEL",
                 "TELEGRAM_BOT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    assert [type(n) for n in notifier_from_settings(load_settings()).notifiers] == [LogNotifier]
    monkeypatch.setenv("ASSISTANT_NOTIFY_WEBHOOK", "http://127.0.0.1:9/hook")
    monkeypatch.setenv("ASSISTANT_ADMIN_CONVERSATION", "admins-group")
    settings = load_settings()
    assert [type(n) for n in notifier_from_settings(settings).notifiers] == [LogNotifier, WebhookNotifier]  # no send
    sent: list[OutgoingMessage] = []
    monkeypatch.setenv("ASSISTANT_ADMIN_CHANNEL", "wecom")
    n = notifier_from_settings(load_settings(), sent.append, background=False)
    assert [type(x) for x in n.notifiers] == [LogNotifier, WebhookNotifier, ChatNotifier]
    hook = n.notifiers[1]
    assert isinstance(hook, WebhookNotifier) and hook.url == "http://127.0.0.1:9/hook" and not hook.background
    chat = n.notifiers[2]
    assert isinstance(chat, ChatNotifier) and chat.conversation_id == "admins-group" and chat.channel == "wecom"


# --- the Sweeper thread ---------------------------------------------------------------------

def _until(cond: Callable[[], bool], timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.01)
    return cond()


def test_sweeper_runs_and_stops_quickly(desk: Desk, clock: FakeClock) -> None:
    h, _ = desk.handoffs.request("conv-1", "wx-1", "request_human", "找人工")
    clock.advance(hours=1)
    reports = []
    sweeper = Sweeper(desk, every=0.05, take_timeout=TIMEOUT, clock=clock, on_report=reports.append).start()
    try:
        assert sweeper.running and _until(lambda: sweeper.runs >= 3)
    finally:
        start = time.monotonic()
        sweeper.stop()
    assert time.monotonic() - start < 1.0 and not sweeper.running and sweeper.failures == 0
    assert [e.handoff_id for r in reports for e in r.expired] == [h.id]
    with Sweeper(desk, every=30, take_timeout=TIMEOUT, clock=clock) as s:        # long interval: stop still quick
        assert _until(lambda: s.runs >= 1)
        start = time.monotonic()
    assert time.monotonic() - start < 1.0 and not s.running
    with pytest.raises(ValueError):
        Sweeper(desk, every=0)


def test_sweeper_logs_failures_and_goes_on(desk: Desk, clock: FakeClock, monkeypatch: pytest.MonkeyPatch,
                                           caplog: pytest.LogCaptureFixture) -> None:
    import assistant.desk.sweep as mod

    real, calls = mod.sweep, []

    def flaky(*a: Any, **kw: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError(f"resident said {MOBILE}")
        return real(*a, **kw)

    monkeypatch.setattr(mod, "sweep", flaky)
    caplog.handler.addFilter(RedactFilter())           # what the application's log handler does
    with caplog.at_level(logging.ERROR, logger="assistant.desk.sweep"):
        with Sweeper(desk, every=0.02, take_timeout=TIMEOUT, clock=clock) as s:
            assert _until(lambda: s.runs >= 3)
    assert s.failures == 1 and "sweeper run 1 failed" in caplog.text and "in flaky" in caplog.text
    assert "RuntimeError: resident said [手机号已隐藏]" in caplog.text and MOBILE not in caplog.text


# --- the CLI --------------------------------------------------------------------------------

@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'desk.db'}"
    monkeypatch.setenv("ASSISTANT_TICKETS_URL", url)
    monkeypatch.setenv("ASSISTANT_RASA_PORT", str(free_port()))      # nobody there: residents unreachable
    monkeypatch.setenv("COLUMNS", "200")
    for name in ("ASSISTANT_HANDOFF_ROSTER", "ASSISTANT_HANDOFF_TIMEOUT", "ASSISTANT_NOTIFY_WEBHOOK"):
        monkeypatch.delenv(name, raising=False)
    return url


def test_cli_desk_sweep(cli_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    from assistant.cli.main import main

    past = FakeClock()                                      # Monday 2026-11-23 10:00
    with open_handoffs(cli_env, clock=past) as q:
        h, _ = q.request("conv-1", "wx-1", "request_human", f"找人工 {MOBILE}")
    with open_store(cli_env, clock=past) as s:             # the packaged SLA: noise first response by 12:00
        t = s.create("wx-2", "noise", "5-101", "楼上吵")

    assert main(["desk", "sweep", "--at", "2026-11-23T18:00:00+08:00"]) == 0
    out = capsys.readouterr().out
    assert "desk sweep at 2026-11-23 18:00" in out and "1 handoff(s) expired" in out
    assert h.id in out and "resident unreachable" in out and t.id in out and "first_response" in out
    assert MOBILE not in out
    with open_store(cli_env) as s:
        made = s.list(reporter_id="wx-1")
    assert len(made) == 1 and made[0].id in out

    assert main(["desk", "sweep", "--at", "2026-11-23T18:05:00+08:00", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["expired"] == [] and t.id not in [r["ticket_id"] for r in report["reminders"]]
    assert main(["desk", "sweep", "--at", "2026-11-23T18:10:00+08:00", "--timeout", "5"]) == 0
    assert "nothing expired, no new overdue tickets" in capsys.readouterr().out


def test_cli_desk_sweep_bad_input(cli_env: str) -> None:
    from assistant.cli.main import main

    for argv in (["desk", "sweep", "--timeout", "0"], ["desk", "sweep", "--at", "tomorrow"],
                 ["desk", "watch", "--every", "-1"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2


def test_cli_desk_watch_until_ctrl_c(cli_env: str) -> None:
    with open_handoffs(cli_env, clock=FakeClock()) as q:
        h, _ = q.request("conv-1", "wx-1", "request_human", "找人工")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "assistant", "desk", "watch", "--every", "0.2"], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines: list[str] = []
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if h.id in line:
                break
        assert any("sweeping every 0.2 s" in x for x in lines) and h.id in lines[-1]
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "stopped after" in out
