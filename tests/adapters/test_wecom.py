"""The WeCom channel against the fake WeCom server: crypto and callbacks over HTTP, the token cache,
retries and errcodes, 微信客服 sync/send with the persisted cursor and message ids, handoff and back,
the admins' commands through the Desk, the robot and app notifiers, and no resident text in logs."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from assistant.channels.base import Reply
from assistant.channels.gateway import Gateway
from assistant.channels.wecom import kf as kfmod
from assistant.channels.wecom.admin import AdminCommands, parse_command
from assistant.channels.wecom.api import TokenCache, WeComAPI, chunks
from assistant.channels.wecom.crypto import BadSignature, Callbacks, check_aes_key
from assistant.channels.wecom.errors import WeComConfigError, WeComError
from assistant.channels.wecom.kf import KfService, conversation_key, reply_id
from assistant.channels.wecom.server import WeComChannel, WeComServer
from assistant.channels.wecom.store import CLAIMED, DONE, NEW, WeComStore
from assistant.errors import AssistantError, ServiceError
from assistant.moderation import Moderator

from ..pg import sqlite_or_pg
from .conftest import FakeAnswerer
from .fake_wecom import AES_KEY, AGENT_ID, CORP_ID, ROBOT_KEY, SECRET, TOKEN, CallbackSender, FakeWeCom

KF = "wkJinShan01"
ROSTER = """\
timezone: Asia/Shanghai
admins:
  - id: wang
    name: 王管家
    contacts: {wecom: wang.wecom, phone: "13800138000"}
  - id: li
    name: 李主任
    contacts: {wecom: li.wecom}
rotation:
  order: [wang]
"""


@pytest.fixture
def wc() -> Iterator[FakeWeCom]:
    server = FakeWeCom().start()
    yield server
    server.stop()


@pytest.fixture
def api(wc: FakeWeCom, tmp_path: Path) -> Iterator[WeComAPI]:
    a = WeComAPI(CORP_ID, SECRET, cache=TokenCache(tmp_path / "token.json"), base_url=wc.base_url, backoff=0.01,
                 max_backoff=0.05)
    yield a
    a.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from sqlite_or_pg(request, tmp_path, "wecom")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[WeComStore]:
    s = WeComStore(f"sqlite:///{tmp_path / 'desk.db'}")
    yield s
    s.dispose()


@pytest.fixture
def roster_file(tmp_path: Path) -> Path:
    p = tmp_path / "roster.yml"
    p.write_text(ROSTER, encoding="utf-8")
    return p


def make_kf(api: WeComAPI, store: WeComStore, answerer: Any, handoffs: Any = None, **kw: Any) -> KfService:
    gateway = Gateway(Moderator(), answerer)
    return KfService(api, store, gateway, handoffs=handoffs, servicer=lambda: ("wang", "wang.wecom"), **kw)


# -- crypto and settings ---------------------------------------------------------------------------------


def test_aes_key_is_checked() -> None:
    check_aes_key(AES_KEY)
    for bad in ("", "short", AES_KEY[:-1], AES_KEY + "A", "!" * 43):
        with pytest.raises(WeComConfigError, match="ASSISTANT_WECOM_AES_KEY"):
            check_aes_key(bad)


def test_callback_round_trip_and_bad_signature() -> None:
    sender = CallbackSender()
    cb = Callbacks(TOKEN, AES_KEY, CORP_ID)
    query, body = sender.sign(sender.kf_event(KF))
    msg = cb.decrypt(body, query["msg_signature"], query["timestamp"], query["nonce"])
    assert msg["Event"] == "kf_msg_or_event" and msg["OpenKfId"] == KF
    bad_query, bad_body = sender.sign(sender.kf_event(KF), bad=True)
    with pytest.raises(BadSignature) as info:
        cb.decrypt(bad_body, bad_query["msg_signature"], bad_query["timestamp"], bad_query["nonce"])
    assert isinstance(info.value, AssistantError) and info.value.field == "msg_signature"
    # another corp's key cannot read it
    other = Callbacks(TOKEN, CallbackSender().crypto._crypto.key and AES_KEY[::-1][:42] + "A", CORP_ID)
    with pytest.raises(AssistantError):
        other.decrypt(body, query["msg_signature"], query["timestamp"], query["nonce"])
    sender.close()


# -- the API client: token cache, renewal, backoff, errcodes ------------------------------------------------


def test_token_is_cached_and_shared_by_clients(wc: FakeWeCom, tmp_path: Path) -> None:
    wc.push_text(KF, "wm-u1", "hi")
    cache = tmp_path / "shared.json"
    clients = [WeComAPI(CORP_ID, SECRET, cache=TokenCache(cache), base_url=wc.base_url) for _ in range(3)]
    threads = [threading.Thread(target=c.kf_sync_msg, kwargs={"cursor": "", "open_kfid": KF}) for c in clients * 3]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wc.gettoken_calls == 1
    assert oct(cache.stat().st_mode & 0o777) == "0o600"
    assert SECRET not in cache.read_text()


def test_expired_and_invalid_tokens_are_renewed(wc: FakeWeCom, api: WeComAPI) -> None:
    wc.push_text(KF, "wm-u1", "hi")
    api.kf_sync_msg(cursor="", open_kfid=KF)
    wc.expire_tokens()                                  # 42001 on the next call
    assert api.kf_sync_msg(cursor="", open_kfid=KF)["msg_list"]
    wc.tokens.clear()                                   # 40014: revoked
    assert api.kf_sync_msg(cursor="", open_kfid=KF)["msg_list"]
    assert wc.gettoken_calls == 3
    assert [code for _, code in wc.refused] == [42001, 40014]


def test_rate_limits_are_backed_off_and_retried(wc: FakeWeCom, api: WeComAPI) -> None:
    wc.push_text(KF, "wm-u1", "hi")
    wc.fail("kf/sync_msg", 45009, times=3)
    assert api.kf_sync_msg(cursor="", open_kfid=KF)["msg_list"]
    assert [code for _, code in wc.refused] == [45009] * 3


def test_errors_carry_errcode_and_errmsg(wc: FakeWeCom, api: WeComAPI, tmp_path: Path) -> None:
    with pytest.raises(WeComError) as info:
        api.kf_sync_msg(cursor="", open_kfid="wk-nobody")
    assert info.value.errcode == 95000 and "invalid open_kfid" in info.value.errmsg
    assert isinstance(info.value, ServiceError) and "95000" in str(info.value)
    wc.fail("kf/sync_msg", 45009, times=10)
    with pytest.raises(WeComError) as info:            # gives up after its attempts, with the code
        api.kf_sync_msg(cursor="", open_kfid=KF)
    assert info.value.errcode == 45009
    wrong = WeComAPI(CORP_ID, "wrong-secret", cache=TokenCache(tmp_path / "w.json"), base_url=wc.base_url)
    with pytest.raises(WeComError) as info:
        wrong.token()
    assert info.value.errcode == 40001 and info.value.api == "gettoken"
    dead = WeComAPI(CORP_ID, SECRET, cache=TokenCache(tmp_path / "d.json"), base_url="http://127.0.0.1:9/cgi-bin",
                    attempts=2, backoff=0.01)
    with pytest.raises(WeComError) as info:
        dead.token()
    assert info.value.errcode is None


def test_long_texts_are_split_under_the_byte_limit() -> None:
    parts = chunks("车位" * 1500)
    assert "".join(parts) == "车位" * 1500 and all(len(p.encode()) <= 2000 for p in parts) and len(parts) == 5


# -- the store ----------------------------------------------------------------------------------------------


def test_store_keeps_cursor_and_ids_across_reopen(db_url: str) -> None:
    s = WeComStore(db_url)
    assert s.cursor(KF) == "" and s.claim("kf:m1") == NEW
    s.set_cursor(KF, "c5")
    s.set_cursor(KF, "c7")
    assert s.claim("kf:m1") == CLAIMED
    s.done("kf:m1")
    assert not s.seen("cb:1") and s.seen("cb:1")
    s.dispose()
    again = WeComStore(db_url)                          # a restarted process; migrations are idempotent
    assert again.cursor(KF) == "c7" and again.accounts() == [KF]
    assert again.claim("kf:m1") == DONE and again.seen("cb:1")
    again.dispose()


# -- 微信客服: sync, answer, dedupe, restart ----------------------------------------------------------------


def test_messages_are_answered_once_in_order(wc: FakeWeCom, api: WeComAPI, store: WeComStore) -> None:
    answerer = FakeAnswerer()
    kf = make_kf(api, store, answerer)
    for i in range(5):
        wc.push_text(KF, "wm-u1", f"问题{i}")
    wc.push_text(KF, "wm-u2", "垃圾几点扔")
    assert kf.sync(KF) == 6
    assert wc.sent_to("wm-u1") == [f"答：问题{i}" for i in range(5)]
    assert wc.sent_to("wm-u2") == ["答：垃圾几点扔"]
    assert ("垃圾几点扔", "wecom:wm-u2") in answerer.calls
    assert kf.sync(KF) == 0                             # nothing new
    store.set_cursor(KF, "")                            # even re-reading the whole log answers nothing twice
    assert make_kf(api, store, answerer).sync(KF) == 0
    assert len(wc.kf_sent) == 6 and len(answerer.calls) == 6


def test_pages_follow_has_more_and_the_cursor_is_saved(wc: FakeWeCom, api: WeComAPI, store: WeComStore,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    sync = api.kf_sync_msg
    monkeypatch.setattr(api, "kf_sync_msg", lambda **kw: sync(**{**kw, "limit": 3}))
    for i in range(8):
        wc.push_text(KF, f"wm-u{i}", f"q{i}")
    kf = make_kf(api, store, FakeAnswerer())
    assert kf.sync(KF, token="ENCtoken") == 8
    assert store.cursor(KF) == "c8"
    pages = [b for a, b in wc.calls if a == "kf/sync_msg"]
    assert [b["cursor"] for b in pages] == ["", "c3", "c6"] and pages[0]["token"] == "ENCtoken"


def test_a_crash_while_answering_never_gives_two_replies(wc: FakeWeCom, api: WeComAPI, store: WeComStore) -> None:
    """The process dies after sending the reply but before marking the message done: the restarted
    one answers it again with the same msgid, which WeCom refuses; the resident has one reply."""
    m = wc.push_text(KF, "wm-u1", "车位怎么租")
    store.claim(f"kf:{m['msgid']}")
    api.kf_send_text("wm-u1", KF, "答：车位怎么租", msgid=reply_id(m["msgid"], 0))   # sent, then kill -9
    kf = make_kf(api, store, FakeAnswerer())
    assert kf.sync(KF) == 1
    assert wc.sent_to("wm-u1") == ["答：车位怎么租"]
    assert store.state(f"kf:{m['msgid']}") == DONE


def test_welcome_and_non_text(wc: FakeWeCom, api: WeComAPI, store: WeComStore) -> None:
    answerer = FakeAnswerer()
    wc.push_event(KF, "wm-u1", "enter_session", welcome_code=True)
    wc.push_image(KF, "wm-u1")
    make_kf(api, store, answerer).sync(KF)
    welcome = [b for b in wc.kf_sent if b.get("on_event")]
    assert len(welcome) == 1 and welcome[0]["text"]["content"] == kfmod.WELCOME
    assert wc.sent_to("wm-u1") == [kfmod.NON_TEXT]
    assert answerer.calls == []


def test_personal_data_is_redacted_before_the_answerer_and_kept_out_of_logs(
        wc: FakeWeCom, api: WeComAPI, store: WeComStore, caplog: pytest.LogCaptureFixture) -> None:
    answerer = FakeAnswerer()
    wc.push_text(KF, "wm-u1", "我的手机13912345678，身份证110101199003071234，车位怎么租")
    with caplog.at_level(logging.DEBUG):
        make_kf(api, store, answerer).sync(KF)
    seen = answerer.texts[0]
    assert "13912345678" not in seen and "110101199003071234" not in seen and "车位怎么租" in seen
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "wm-u1" in logged                            # ids are logged …
    for secret in ("13912345678", "110101199003071234", "车位怎么租", "答："):
        assert secret not in logged                     # … never the text


# -- handoff: trans to the servicer on duty, and back -----------------------------------------------------


class HandoffAnswerer(FakeAnswerer):
    """Asks for a person like the engine does: a handoff in the desk's queue, and its reply."""

    def __init__(self, handoffs: Any) -> None:
        super().__init__("handoff")
        self.handoffs = handoffs

    def __call__(self, text: str, sender: str) -> Reply:
        if self.handoffs.is_paused(sender):
            return Reply("handoff", [])
        self.calls.append((text, sender))
        self.handoffs.request(sender, sender, "request_human", text)
        return Reply("handoff", ["好的，正在为您转接值班管理员。"])


def test_handoff_transfers_to_the_servicer_and_comes_back(wc: FakeWeCom, api: WeComAPI, store: WeComStore,
                                                          tmp_path: Path) -> None:
    from assistant.desk.handoff import open_handoffs

    handoffs = open_handoffs(f"sqlite:///{tmp_path / 'desk.db'}")
    kf = make_kf(api, store, HandoffAnswerer(handoffs), handoffs=handoffs)
    wc.push_text(KF, "wm-u1", "转人工")
    kf.sync(KF)
    assert wc.state(KF, "wm-u1") == (3, "wang.wecom")
    h = handoffs.open_for(conversation_key("wm-u1"))
    assert h is not None and h.state == "taken" and h.admin == "wang"
    wc.push_text(KF, "wm-u1", "还在吗")                # the admin has it: the bot stays quiet
    wc.push_image(KF, "wm-u1")
    kf.sync(KF)
    assert wc.sent_to("wm-u1") == ["好的，正在为您转接值班管理员。"]
    wc.end_session(KF, "wm-u1")                          # the servicer ends the session in WeCom
    kf.sync(KF)
    assert handoffs.open_for(conversation_key("wm-u1")) is None
    assert handoffs.get(h.id).state == "released"
    back = [b for b in wc.kf_sent if b.get("on_event")]
    assert [b["text"]["content"] for b in back] == [kfmod.BACK]
    handoffs.dispose()


def test_no_servicer_on_duty_leaves_the_handoff_waiting(wc: FakeWeCom, api: WeComAPI, store: WeComStore,
                                                        tmp_path: Path) -> None:
    from assistant.desk.handoff import open_handoffs

    handoffs = open_handoffs(f"sqlite:///{tmp_path / 'desk.db'}")
    kf = KfService(api, store, Gateway(Moderator(), HandoffAnswerer(handoffs)), handoffs=handoffs,
                   servicer=lambda: None)
    wc.push_text(KF, "wm-u1", "找管理员")
    kf.sync(KF)
    assert wc.state(KF, "wm-u1") == (0, None)
    assert handoffs.open_for(conversation_key("wm-u1")).state == "waiting"
    handoffs.dispose()


# -- the callback URL over HTTP -----------------------------------------------------------------------------


class Served:
    def __init__(self, channel: WeComChannel) -> None:
        self.channel = channel
        self.server = WeComServer(channel, "127.0.0.1", 0)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Served:
        self.channel.start()
        self.thread.start()
        for _ in range(200):
            try:
                if httpx.get(self.server.url.replace("/wecom/callback", "/health"), trust_env=False).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.channel.stop()

    def wait_idle(self, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while not self.channel.idle() and time.monotonic() < deadline:
            time.sleep(0.02)


def test_callbacks_over_http(wc: FakeWeCom, api: WeComAPI, store: WeComStore) -> None:
    answerer = FakeAnswerer()
    channel = WeComChannel(Callbacks(TOKEN, AES_KEY, CORP_ID), store, make_kf(api, store, answerer))
    sender = CallbackSender()
    with Served(channel) as s:
        url = s.server.url
        echo = httpx.get(url, params=sender.url_check("1616140317555161061"), trust_env=False)
        assert echo.status_code == 200 and echo.text == "1616140317555161061"
        forged = {**sender.url_check(), "msg_signature": "0" * 40}
        assert httpx.get(url, params=forged, trust_env=False).status_code == 403
        wc.push_text(KF, "wm-u1", "垃圾几点扔")
        signed = sender.sign(sender.kf_event(KF))
        t0 = time.monotonic()
        assert sender.post(url, signed) == 200
        assert time.monotonic() - t0 < 1.0                     # answered at once
        assert sender.post(url, signed) == 200                 # WeCom's retry of the same callback
        assert sender.post(url, sender.sign(sender.kf_event(KF), bad=True)) == 403
        r = httpx.post(url, params=signed[0], content=b"<xml><Encrypt>", trust_env=False)
        assert r.status_code == 400
        assert httpx.post(url, content=signed[1], trust_env=False).status_code == 400      # no signature
        s.wait_idle()
    assert wc.sent_to("wm-u1") == ["答：垃圾几点扔"]
    assert channel.duplicates == 1 and channel.refused == 2
    syncs = [b for a, b in wc.calls if a == "kf/sync_msg"]
    assert len(syncs) == 1 and syncs[0]["token"].startswith("ENC")
    sender.close()


def test_messages_sent_while_down_are_answered_at_start(wc: FakeWeCom, api: WeComAPI, store: WeComStore) -> None:
    wc.push_text(KF, "wm-u1", "q1")
    channel = WeComChannel(Callbacks(TOKEN, AES_KEY, CORP_ID), store, make_kf(api, store, FakeAnswerer()),
                           accounts=(KF,))
    with Served(channel) as s:
        s.wait_idle()
    assert wc.sent_to("wm-u1") == ["答：q1"]


# -- admins in the app: commands through the Desk -----------------------------------------------------------


def test_commands_are_parsed() -> None:
    assert parse_command("接单 T-20261123-0007") == ("接单", "T-20261123-0007", "")
    assert parse_command("结单　ｔ－20261123－0007　已处理，已协调") == ("结单", "T-20261123-0007", "已处理，已协调")
    assert parse_command("交还 H-20261123-0003") == ("交还", "H-20261123-0003", "")
    assert parse_command("帮助")[0] == "帮助" and parse_command("你好") is None


def test_admin_replies_act_through_the_desk(wc: FakeWeCom, api: WeComAPI, store: WeComStore, tmp_path: Path,
                                            roster_file: Path) -> None:
    from assistant.desk.desk import Desk
    from assistant.desk.handoff import LogNotifier, load_roster, open_handoffs
    from assistant.desk.tickets.store import open_store

    url = f"sqlite:///{tmp_path / 'desk.db'}"

    class Told:
        def tell(self, *a: Any) -> list[str]:
            return []

    def desk() -> Desk:
        return Desk(open_store(url), open_handoffs(url), load_roster(roster_file), LogNotifier(), Told())

    with desk() as d:
        ticket, _ = d.complain("wecom:wm-u1", "楼上装修太吵", category="noise", unit="5-101")
    admin = AdminCommands(desk, lambda uid, text: api.send_app_text(AGENT_ID, [uid], text))
    channel = WeComChannel(Callbacks(TOKEN, AES_KEY, CORP_ID), store, admin=admin)
    sender = CallbackSender()
    with Served(channel) as s:
        for text, who in ((f"接单 {ticket.id}", "wang.wecom"), (f"结单 {ticket.id} 已修好", "wang.wecom"),
                          (f"接单 {ticket.id}", "stranger")):
            assert sender.post(s.server.url, sender.sign(sender.app_text(who, text))) == 200
            s.wait_idle()
    with desk() as d:
        t = d.tickets.get(ticket.id)
        assert t.status == "resolved" and t.assignee == "wang"
        assert any(e.actor == "wang" for e in d.tickets.events(ticket.id))
    answers = [(b["touser"], b["text"]["content"]) for b in wc.app_sent]
    assert answers[0][0] == "wang.wecom" and "已认领" in answers[0][1]
    assert "已办结" in answers[1][1]
    assert answers[2][0] == "stranger" and "不在值班名单" in answers[2][1]
    sender.close()


# -- notifiers: the group robot and app messages ------------------------------------------------------------


def test_robot_and_app_notifiers(wc: FakeWeCom, api: WeComAPI, roster_file: Path) -> None:
    from assistant.desk.admin_notify import AppNotifier, RobotNotifier
    from assistant.desk.handoff import load_roster

    roster = load_roster(roster_file)
    event = {"event": "handoff.requested", "event_id": "e1", "handoff_id": "H-20261201-0001",
             "conversation_id": "wecom:wm-u1", "resident_id": "wecom:wm-u1", "reason": "request_human",
             "state": "waiting", "summary": "电话13912345678 想找人工", "admin": roster.by_id["wang"].as_dict(),
             "at": "2026-12-01T10:00:00+08:00"}
    wc.fail("webhook/send", 45009, times=2)
    RobotNotifier(ROBOT_KEY, url=wc.robot_url, console_url="https://desk.example/console", backoff=0.01).notify(event)
    md, text = wc.robot_sent
    assert md["msgtype"] == "markdown" and "H-20261201-0001" in md["markdown"]["content"]
    assert "<@wang.wecom>" in md["markdown"]["content"] and "13912345678" not in md["markdown"]["content"]
    assert text["text"]["mentioned_mobile_list"] == ["13800138000"]
    RobotNotifier("wrong-key", url=wc.robot_url).notify(event)       # refused (93000): logged, not raised
    AppNotifier(api, AGENT_ID, ["wang.wecom", "li.wecom"], console_url="https://desk.example/console").notify(event)
    sent = wc.app_sent[-1]
    assert sent["touser"] == "wang.wecom" and "接单 H-20261201-0001" in sent["text"]["content"]
    assert "13912345678" not in sent["text"]["content"] and "https://desk.example/console" in sent["text"]["content"]


def test_outbox_notices_are_sent_without_waiting_for_a_message(wc: FakeWeCom, api: WeComAPI, store: WeComStore,
                                                               tmp_path: Path) -> None:
    from assistant.desk.notices import open_outbox

    outbox = open_outbox(f"sqlite:///{tmp_path / 'desk.db'}")
    outbox.add(conversation_key("wm-u1"), ["请为本次服务打分（1-5 分）"])
    wc.account(KF)
    kf = KfService(api, store, Gateway(Moderator(), FakeAnswerer(), outbox=outbox))
    assert kf.deliver_notices(KF) == 1 and kf.deliver_notices(KF) == 0
    assert wc.sent_to("wm-u1") == ["请为本次服务打分（1-5 分）"]


def test_wecom_down_while_answering_keeps_the_page(wc: FakeWeCom, api: WeComAPI, store: WeComStore) -> None:
    """kf/send_msg failing past the retries: the page is read again later and nothing is lost."""
    for i in range(3):
        wc.push_text(KF, f"wm-u{i}", f"q{i}")
    kf = make_kf(api, store, FakeAnswerer(), workers=1)
    wc.fail("kf/send_msg", -1, times=api.attempts + 1)       # the first reply fails every attempt
    kf.sync(KF)
    assert KF in kf.behind and store.cursor(KF) == ""
    assert kf.sync(KF) >= 1 and KF not in kf.behind and store.cursor(KF) == "c3"
    assert sorted(b["touser"] for b in wc.kf_sent) == ["wm-u0", "wm-u1", "wm-u2"]


def test_handoff_released_in_the_desk_takes_the_session_back(wc: FakeWeCom, api: WeComAPI, store: WeComStore,
                                                             tmp_path: Path) -> None:
    """An admin gives the conversation back in the console while WeCom still has the session with them:
    WeCom has no way back but ending it, so the next message ends it and the one after is answered."""
    from assistant.desk.handoff import open_handoffs

    handoffs = open_handoffs(f"sqlite:///{tmp_path / 'desk.db'}")
    answerer = HandoffAnswerer(handoffs)
    kf = make_kf(api, store, answerer, handoffs=handoffs)
    wc.push_text(KF, "wm-u1", "转人工")
    kf.sync(KF)
    h = handoffs.open_for(conversation_key("wm-u1"))
    handoffs.release(h.id, "wang")                       # in the console
    answerer.route = "answer"
    kf.gateway.answerer = FakeAnswerer()
    wc.push_text(KF, "wm-u1", "在吗")
    kf.sync(KF)
    assert wc.state(KF, "wm-u1") == (4, None)
    wc.push_text(KF, "wm-u1", "垃圾几点扔")
    kf.sync(KF)
    assert wc.sent_to("wm-u1")[-1] == "答：垃圾几点扔" and len(wc.sent_to("wm-u1")) == 2
    handoffs.dispose()


def test_given_back_in_the_app_ends_the_wecom_session(wc: FakeWeCom, api: WeComAPI, store: WeComStore,
                                                      tmp_path: Path, roster_file: Path) -> None:
    from assistant.desk.desk import Desk
    from assistant.desk.handoff import LogNotifier, load_roster, open_handoffs
    from assistant.desk.tickets.store import open_store

    url = f"sqlite:///{tmp_path / 'desk.db'}"
    handoffs = open_handoffs(url)
    kf = make_kf(api, store, HandoffAnswerer(handoffs), handoffs=handoffs)
    wc.push_text(KF, "wm-u1", "转人工")
    kf.sync(KF)
    h = handoffs.open_for(conversation_key("wm-u1"))
    assert wc.state(KF, "wm-u1")[0] == 3

    def desk() -> Desk:
        return Desk(open_store(url), open_handoffs(url), load_roster(roster_file), LogNotifier())

    answers: list[str] = []
    admin = AdminCommands(desk, lambda uid, text: answers.append(text),
                          lambda conv: kf.end_conversation(conv, KF))
    admin.handle("wang.wecom", f"交还 {h.id}")
    assert "已交还" in answers[0] and handoffs.get(h.id).state == "released"
    assert wc.state(KF, "wm-u1")[0] == 4
    handoffs.dispose()
