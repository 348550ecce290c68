"""The WeCom channel end to end against the real Rasa and action servers (``served``) and the fake
WeCom server: an encrypted callback in, the answer out through kf/send_msg; a complaint becoming a
ticket; a handoff transferring the session to the servicer and coming back; and a short flood with
a kill -9 of the adapter process (``make bench-wecom`` runs the 500-callback one)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from assistant.channels.gateway import Gateway
from assistant.channels.wecom import kf as kfmod
from assistant.channels.wecom.api import TokenCache, WeComAPI
from assistant.channels.wecom.crypto import Callbacks
from assistant.channels.wecom.kf import KfService, conversation_key
from assistant.channels.wecom.server import WeComChannel
from assistant.channels.wecom.store import WeComStore
from assistant.moderation import Moderator

from .fake_wecom import AES_KEY, CORP_ID, SECRET, TOKEN, CallbackSender, FakeWeCom
from .test_wecom import Served
from .wecom_flood import flood

pytestmark = pytest.mark.services
KF = "wkJinShanE2E"


def _wait(cond: Any, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    return False


def test_callback_to_answer_ticket_and_handoff(served: Any, tmp_path: Path) -> None:
    from assistant.desk.handoff import open_handoffs
    from assistant.desk.tickets.store import open_store
    from assistant.runtime.app import live_answerer

    settings, _ = served
    wc = FakeWeCom().start()
    wc.account(KF)
    api = WeComAPI(CORP_ID, SECRET, cache=TokenCache(tmp_path / "token.json"), base_url=wc.base_url)
    store = WeComStore(settings.desk_url)
    handoffs = open_handoffs(settings.desk_url)
    sender = CallbackSender()
    with live_answerer(settings) as ask:
        kf = KfService(api, store, Gateway(Moderator(), ask), handoffs=handoffs,
                       servicer=lambda: ("wang", "wang.wecom"))
        channel = WeComChannel(Callbacks(TOKEN, AES_KEY, CORP_ID), store, kf)
        with Served(channel) as s:
            def say(user: str, text: str) -> list[str]:
                before = len(wc.sent_to(user))
                wc.push_text(KF, user, text)
                assert sender.post(s.server.url, sender.sign(sender.kf_event(KF))) == 200
                s.wait_idle(60)
                return wc.sent_to(user)[before:]

            # a question: answered from the knowledge base through kf/send_msg
            answer = say("wm-e2e-q", "垃圾几点扔")
            assert answer and any("垃圾" in t for t in answer)

            # a complaint: the form, then a ticket for this resident
            for text in ("我要投诉楼上的噪音", "七号楼二单元三零二", "不知道是哪家", "蛮急的，晚上根本睡不着"):
                assert say("wm-e2e-c", text)
            done = say("wm-e2e-c", "没问题")
            tickets = open_store(settings.desk_url)
            mine = [t for t in tickets.list() if t.reporter_id == conversation_key("wm-e2e-c")]
            assert len(mine) == 1 and any(mine[0].id in t for t in done)
            tickets.dispose()

            # a handoff: transferred to the servicer on duty, quiet meanwhile, back when the session ends
            assert say("wm-e2e-h", "转人工")
            assert wc.state(KF, "wm-e2e-h") == (3, "wang.wecom")
            h = handoffs.open_for(conversation_key("wm-e2e-h"))
            assert h is not None and h.state == "taken"
            assert say("wm-e2e-h", "你好，在吗") == []
            wc.end_session(KF, "wm-e2e-h")
            assert sender.post(s.server.url, sender.sign(sender.kf_event(KF))) == 200
            s.wait_idle(60)
            assert handoffs.open_for(conversation_key("wm-e2e-h")) is None
            assert [b["text"]["content"] for b in wc.kf_sent if b.get("on_event")] == [kfmod.BACK]
            assert say("wm-e2e-h", "车位怎么租")                 # the assistant answers again
    handoffs.dispose()
    store.dispose()
    api.close()
    sender.close()
    wc.stop()


def test_short_flood_with_kill_9(served: Any) -> None:
    settings, _ = served
    r = flood(settings.rasa_port, settings.action_port, settings.desk_url, n=60, kill_at=0.4, drain_timeout=120)
    assert r["distinct_messages"] > 40
    assert r["lost"] == 0 and r["doubled"] == 0
    assert r["answered_exactly_once"] == r["distinct_messages"]
    assert all(k.split()[1] in ("403", "no") for k in r["statuses"] if k.startswith("bad"))
    assert r["message_texts_in_log"] == 0 and r["log_lines"] > 10
