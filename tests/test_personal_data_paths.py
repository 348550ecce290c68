"""One adversarial corpus of personal numbers (IDs with valid check characters, Luhn-valid bank cards,
mobiles; spaced, dashed, full-width, lower-case x, split by line breaks, +86 / 0086, inside Chinese
sentences) through every path that stores or forwards text: the group gateway, the REST client, the
web-chat actions (complaint form to ticket and handoff), the form reasoning, the ticket store, the
outbox, the handoff queue and the admins' notifications, and the log records of all of them. No
number comes out raw: compared digits only, after removing separators and folding full width."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import re
import unicodedata
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, MetaData, select

from actions import actions
from assistant.channels import IncomingMessage
from assistant.channels.base import OutgoingMessage
from assistant.channels.client import Assistant
from assistant.channels.gateway import Gateway
from assistant.desk.admin_notify import ChatNotifier, format_event
from assistant.desk.desk import Desk
from assistant.desk.handoff import LogNotifier, handoff_event, load_roster, open_handoffs
from assistant.desk.notices import SQLOutbox
from assistant.desk.tickets import Reporter, open_store
from assistant.dialogue import complaint as c
from assistant.moderation import Moderator, load_config

from .adapters.conftest import FakeAnswerer
from .moderation.numbers import FW, Numbers, spaced
from .test_actions import Told, run, slot_events, tracker, walk
from .test_engine import make_engine

_N = Numbers(20261124)
ID, ID_X, CARD, CARD19, MOBILE = _N.id(), _N.id(check="X"), _N.card(), _N.card(19), _N.mobile()
FW_SPACE = str.maketrans({" ": "\u3000", "-": "－"})


@dataclasses.dataclass(frozen=True)
class Case:
    label: str
    text: str          # a resident's message with the number in it
    digits: str        # what must never come out (digits only)


def _forms() -> list[tuple[str, str, str]]:
    """(label, written form, the number's digits)."""
    i, x, m = ID, ID_X, MOBILE
    return [
        ("id plain", i, i), ("id spaced 6-8-4", spaced(i, (6, 8, 4)), i),
        ("id spaced 6-4-4-4", spaced(i, (6, 4, 4, 4)), i), ("id dashed", spaced(i, (6, 8, 4), "-"), i),
        ("id full width", i.translate(FW), i),
        ("id full width spaced", spaced(i, (6, 8, 4)).translate(FW).translate(FW_SPACE), i),
        ("id lower-case x", x.lower(), x[:17]), ("id lower-case x spaced", spaced(x.lower(), (6, 8, 4)), x[:17]),
        ("id split by line breaks", spaced(i, (6, 8, 4), "\n"), i),
        ("id split by CRLF", spaced(x, (6, 8, 4), "\r\n"), x[:17]),
        ("card plain", CARD, CARD), ("card 19 digits", CARD19, CARD19),
        ("card spaced", spaced(CARD, (4, 4, 4, 4)), CARD), ("card dashed", spaced(CARD, (4, 4, 4, 4), "-"), CARD),
        ("card full width", CARD.translate(FW), CARD), ("card 19 spaced", spaced(CARD19, (4, 4, 4, 4)), CARD19),
        ("card split by line breaks", spaced(CARD, (4, 4, 4, 4), "\n"), CARD),
        ("mobile plain", m, m), ("mobile spaced", spaced(m, (3, 4, 4)), m),
        ("mobile dashed", spaced(m, (3, 4, 4), "-"), m), ("mobile full width", m.translate(FW), m),
        ("mobile +86", "+86" + m, m), ("mobile +86 spaced", "+86 " + spaced(m, (3, 4, 4)), m),
        ("mobile full-width +86", "＋８６ " + m.translate(FW), m), ("mobile 0086", "0086 " + m, m),
        ("mobile split by line breaks", spaced(m, (3, 4, 4), "\n"), m),
        ("mobile one digit at a time", " ".join(m), m),
    ]


SENTENCES = ("我的身份证号是{}，请帮忙登记一下", "物业费多扣了，卡号{}，请核实", "楼上装修太吵了，有事打我电话{}",
             "{} 这是我的号码，楼道堆满了杂物")
CORPUS = [Case(label, SENTENCES[k % len(SENTENCES)].format(form), re.sub(r"\D", "", digits))
          for k, (label, form, digits) in enumerate(_forms())]
# Innocent look-alikes stay as written wherever text is stored.
INNOCENT = ("订单 2026 1123 1380 0001 234", "价格 13800 元", "房号12-2-1802", "座机0571-88886666", "2026-11-23")

_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015+]")


def flat(text: str) -> str:
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", text))


def leaks(outputs: dict[str, str], corpus: list[Case] = CORPUS) -> list[str]:
    """'label in place' for every number found raw in any output."""
    return [f"{case.label} in {place}" for place, text in outputs.items() for case in corpus
            if case.digits in flat(text)]


def logged(caplog: pytest.LogCaptureFixture) -> dict[str, str]:
    return {f"log {r.name}:{r.lineno} #{n}": f"{r.getMessage()} {r.exc_text or ''}"
            for n, r in enumerate(caplog.records)}


def dump(engine: Engine) -> dict[str, str]:
    """Every row of every table, and the database file itself."""
    meta = MetaData()
    meta.reflect(engine)
    out: dict[str, str] = {}
    with engine.connect() as conn:
        for table in meta.sorted_tables:
            rows = conn.execute(select(table)).all()
            out[f"table {table.name}"] = json.dumps([list(map(str, r)) for r in rows], ensure_ascii=False)
    engine.dispose()
    path = Path(engine.url.database or "")
    for p in (path, path.with_name(path.name + "-wal")):
        if p.is_file():
            out[f"file {p.name}"] = p.read_bytes().decode("utf-8", errors="replace")
    return out


@pytest.fixture(autouse=True)
def debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)


def test_the_corpus_is_adversarial() -> None:
    assert len(CORPUS) >= 25 and all(len(case.digits) >= 11 for case in CORPUS)
    assert {"\n" in case.text for case in CORPUS} == {True, False}
    # Without redaction, every number would be found: the check itself can fail.
    assert not [case.label for case in CORPUS if case.digits not in flat(case.text)]


def test_group_gateway(caplog: pytest.LogCaptureFixture) -> None:
    answerer = FakeAnswerer()
    gateway = Gateway(Moderator(load_config()), answerer)
    t0 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.timezone.utc)
    out: dict[str, str] = {}
    for n, case in enumerate(CORPUS):
        for group in (True, False):
            sender = f"u{n}-{group}"
            msg = IncomingMessage("test", "g1" if group else f"dm-{sender}", group, sender, "5-101-张三",
                                  f"@助手 {case.text}", True, t0 + dt.timedelta(minutes=10 * n), f"m{n}")
            result = gateway.handle(msg)
            out[f"gateway {case.label} group={group}"] = json.dumps(
                [result.forwarded, [m.text for m in result.outgoing], [dataclasses.astuple(a) for a in result.actions],
                 result.as_reply().as_dict()], ensure_ascii=False, default=str)
    out["what the answerer saw"] = json.dumps(answerer.calls, ensure_ascii=False)
    assert len(answerer.calls) == 2 * len(CORPUS)      # every question was still answered, redacted
    assert not leaks(out | logged(caplog))


class RecordingRasa:
    """Stands in for RasaClient: echoes each message back and remembers what it was sent."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, sender: str, text: str) -> list[dict[str, Any]]:
        self.sent.append(text)
        return [{"text": f"答：{text}"}, {"custom": {"route": "answer", "topic": "property"}}]

    def close(self) -> None:
        pass


def test_rest_client(caplog: pytest.LogCaptureFixture) -> None:
    rasa = RecordingRasa()
    bot = Assistant(rasa, Moderator())  # type: ignore[arg-type]
    out = {f"ask {case.label}": json.dumps(bot.ask(case.text, f"web-{n}").as_dict(), ensure_ascii=False)
           for n, case in enumerate(CORPUS)}
    out["what rasa was sent"] = json.dumps(rasa.sent, ensure_ascii=False)
    assert len(rasa.sent) == len(CORPUS)
    assert not leaks(out | logged(caplog))


def test_complaint_form_reasoning() -> None:
    out: dict[str, str] = {}
    filled = {c.CATEGORY: "noise", c.UNIT: "5-101", c.DESCRIPTION: "楼上吵", c.OTHER_PARTY: None,
              c.URGENCY: "normal", c.CONFIRMED: None}
    for case in CORPUS:
        steps: dict[str, Any] = {"opening": c.opening(case.text)}
        for asked in c.ASKED:
            step = c.step(case.text, dict(filled, **{asked: None}), asked)
            steps[asked] = [step.updates, step.said]
            slots = dict(filled, **{k: v for k, v in step.updates.items() if k in c.SLOTS})
            steps[f"{asked} summary"] = [c.summary(slots), c.question(c.CONFIRMED, slots), c.ticket_fields(slots)]
        out[case.label] = json.dumps(steps, ensure_ascii=False, default=str)
    assert not leaks(out)
    kept = c.opening("楼上装修太吵了，" + "，".join(INNOCENT))[c.DESCRIPTION]
    assert all(text in kept for text in INNOCENT)


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'tickets.db'}"


@pytest.fixture
def web_desk(url: str, mini_kb_dir: Path) -> Iterator[Desk]:
    tickets, handoffs = open_store(url), open_handoffs(url)
    desk = Desk(tickets, handoffs, load_roster(), LogNotifier(), Told())  # type: ignore[arg-type]
    engine = make_engine(mini_kb_dir, answer_at=0.0)
    engine.desk = desk
    actions.set_engine(engine)
    yield desk
    actions.set_engine(None)
    tickets.dispose()
    handoffs.dispose()


def test_web_chat_complaint_form_to_ticket_and_handoff(web_desk: Desk, url: str,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    out: dict[str, str] = {}
    for n, case in enumerate(CORPUS):
        sender = f"web-{n}"
        if n % 2:       # the number in the opening message; fees go to a person as well
            slots, said = walk(["5-101", "一般", "是"], f"这个月物业费多收了两百，{case.text}", sender=sender)
        else:           # the number in the answer to "what happened", and in the place
            slots, said = walk(["1", f"地下车库 {case.text}", case.text, "不清楚", "一般", "是"], "我要投诉",
                               sender=sender)
        messages, events = run(actions.ActionSubmitComplaint(), tracker("是", "affirm", slots, sender=sender,
                                                                         channel="rest"))
        out[f"form {case.label}"] = json.dumps([slots, said, messages, slot_events(events)], ensure_ascii=False,
                                               default=str)
    tickets = web_desk.tickets.list()
    assert tickets and web_desk.handoffs.list()
    out["tickets"] = json.dumps([t.as_dict() for t in tickets], ensure_ascii=False, default=str)
    out["handoffs"] = json.dumps([dataclasses.asdict(h) for h in web_desk.handoffs.list()], ensure_ascii=False,
                                 default=str)
    assert not leaks(out | dump(open_store(url).engine) | logged(caplog))


def test_ticket_store(url: str, caplog: pytest.LogCaptureFixture) -> None:
    store = open_store(url)
    for n, case in enumerate(CORPUS):
        reporter = Reporter(f"r-{n}", f"王姐{case.text}")
        ticket, _ = store.open_or_append(reporter, "noise", "5-101", case.text, timedelta(0), other_party="6-302")
        store.open_or_append(reporter, "noise", None, case.text, timedelta(hours=1))   # appended
        store.assign(ticket.id, "wang", actor="wang", comment=case.text)
        store.comment(ticket.id, case.text, actor="wang")
        store.resolve(ticket.id, actor="wang", comment=case.text)
        store.rate(ticket.id, 4, case.text)
    innocent, _ = store.open_or_append(Reporter("r-innocent"), "noise", None, "，".join(INNOCENT), timedelta(0))
    assert all(text in store.get(innocent.id).description for text in INNOCENT)
    out = {"tickets": json.dumps([t.as_dict() for t in store.list()], ensure_ascii=False, default=str),
           "events": json.dumps([[dataclasses.asdict(e) for e in store.events(t.id)] for t in store.list()],
                                ensure_ascii=False, default=str)}
    assert not leaks(out | dump(store.engine) | logged(caplog))


def test_outbox(url: str, caplog: pytest.LogCaptureFixture) -> None:
    outbox = SQLOutbox(open_store(url).engine)
    for n, case in enumerate(CORPUS):
        outbox.add(f"web-{n}", [case.text, f"工单已处理：{case.text}"], "csat", f"T-{n}")
    out = {"pending": json.dumps([dataclasses.asdict(x) for x in outbox.pending()], ensure_ascii=False, default=str)}
    assert len(outbox.pending()) == 2 * len(CORPUS)
    assert not leaks(out | dump(outbox.engine) | logged(caplog))


def test_handoff_queue_and_admin_notifications(url: str, caplog: pytest.LogCaptureFixture) -> None:
    queue = open_handoffs(url)
    roster = load_roster()
    admin = roster.get("wang")
    posted: list[OutgoingMessage] = []
    chat = ChatNotifier(posted.append, "admins", channel="telegram")
    out: dict[str, str] = {}
    for n, case in enumerate(CORPUS):
        handoff, created = queue.request(f"web-{n}", f"web-{n}", "request_human", case.text)
        assert created
        for kind in ("handoff.requested", "handoff.expired"):
            event = handoff_event(kind, handoff, admin)
            chat.notify(event)
            LogNotifier().notify(event)
            out[f"event {kind} {case.label}"] = json.dumps(event, ensure_ascii=False)
        raw = dataclasses.replace(handoff, summary=case.text)        # unredacted text slipped in by a caller
        slipped = handoff_event("handoff.requested", raw, admin) | {"summary": case.text}
        out[f"format {case.label}"] = format_event(slipped, channel="telegram")[0]
        chat.notify(slipped)
    out["chat"] = json.dumps([m.text for m in posted], ensure_ascii=False)
    out["queue"] = json.dumps([dataclasses.asdict(h) for h in queue.list()], ensure_ascii=False, default=str)
    assert len(posted) == 3 * len(CORPUS)
    assert not leaks(out | dump(queue.engine) | logged(caplog))

