"""Runs in the Rasa environment (Python 3.10): the web chat's socket.io channel (assistant/rasa_server/webchat.py)
screens each message before Rasa sees it, and never leaves the widget in silence."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from rasa.core.channels.channel import UserMessage  # noqa: E402
from rasa.core.channels.socketio import SocketIOOutput  # noqa: E402

from assistant.dialogue.replies import SERVICE_DOWN  # noqa: E402
from assistant.rasa_server import webchat  # noqa: E402

PHONE = "13900001234"


class FakeSio:
    def __init__(self) -> None:
        self.emitted: list[tuple[Any, str]] = []

    async def emit(self, event: str, data: Any = None, room: str = "", **kw: Any) -> None:
        self.emitted.append((data, room))


def run(text: Any, answer: str | None = "好的", fail: bool = False, actions_up: bool = True,
        sender: Any = "sess-1", delay: float = 0.0) -> tuple[list[str], list[UserMessage]]:
    sio = FakeSio()
    channel = webchat.WebChatInput.from_credentials({"session_persistence": True})
    seen: list[UserMessage] = []

    async def on_new_message(m: UserMessage) -> None:
        seen.append(m)
        await asyncio.sleep(delay)
        if fail:
            raise RuntimeError("boom")
        if answer:
            await m.output_channel.send_text_message(m.sender_id, answer)

    async def health(url: str, timeout: float = 2.0) -> bool:
        return actions_up

    message = UserMessage(text, SocketIOOutput(sio, "bot_uttered"), sender, input_channel="webchat",
                          metadata={"secret": PHONE})
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(webchat, "actions_up", health)
        asyncio.run(channel.handle(message, on_new_message))
    return [d["text"] for d, _ in sio.emitted], seen


def test_personal_data_never_reaches_rasa_and_the_widget_is_warned() -> None:
    texts, seen = run(f"有事打我电话{PHONE}")
    assert PHONE not in seen[0].text and "隐藏" in seen[0].text and seen[0].metadata == {}
    assert "隐私" in texts[0] and texts[-1] == "好的"


def test_an_ad_gets_the_moderation_reply_and_nothing_goes_to_rasa() -> None:
    texts, seen = run("加V领福利 abc12345 加微信")
    assert seen == [] and texts and "广告" in texts[0]


def test_no_answer_with_the_action_server_down_gets_the_polite_reply() -> None:
    assert run("车位怎么租", answer=None, actions_up=False)[0] == [SERVICE_DOWN]
    assert run("车位怎么租", answer=None, actions_up=True)[0] == []       # e.g. handed off: quiet on purpose
    assert run("车位怎么租", fail=True)[0] == [SERVICE_DOWN]


def test_a_frozen_action_server_gets_the_polite_reply_before_rasa_gives_up(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setattr(webchat, "PATIENCE", 0.2)
    started = time.monotonic()
    texts, _ = run("车位怎么租", answer="迟到的答复", actions_up=False, delay=1.0)
    assert texts == [SERVICE_DOWN, "迟到的答复"]          # polite at once, the late answer still delivered
    assert run("车位怎么租", answer=None, actions_up=False, delay=0.5)[0] == [SERVICE_DOWN]   # said once
    assert run("车位怎么租", actions_up=True, delay=0.5)[0] == ["好的"]   # slow but healthy: just the answer
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("text", ["", "  ", None, "/get_started", "/request_human"])
def test_the_widgets_empty_opening_and_commands_reach_nobody(text: Any) -> None:
    # the page once opened on the "unavailable" reply: Rasa's NLU failed on the widget's empty message
    assert run(text, answer=None, actions_up=False) == ([], [])


def test_a_huge_message_is_clipped_and_a_bad_session_id_dropped() -> None:
    _, seen = run("车位" * 40000)
    assert len(seen[0].text) <= 2000
    assert run("车位怎么租", sender="x" * 1000) == ([], [])


def test_the_rest_channel_logs_no_text() -> None:
    """The filter that logging.yml puts on Rasa's REST channel logger (built from the file as dictConfig
    would, without reconfiguring this test process's logging) keeps the event and drops the text."""
    import importlib
    import io
    import logging

    import structlog

    from rasa.shared.utils.io import read_yaml_file

    config = read_yaml_file(str(ROOT / "assistant" / "rasa_server" / "logging.yml"))
    names = config["loggers"]["rasa.core.channels.rest"]["filters"]
    module, _, cls = config["filters"][names[0]]["()"].rpartition(".")
    logger = logging.getLogger("rasa.core.channels.rest")
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    flt = getattr(importlib.import_module(module), cls)()
    logger.addFilter(flt)
    logger.addHandler(handler)
    try:
        structlog.configure(processors=[structlog.processors.JSONRenderer()],
                            logger_factory=structlog.stdlib.LoggerFactory())
        structlog.get_logger("rasa.core.channels.rest").error("rest.message.received.timeout", text=f"电话{PHONE}")
    finally:
        logger.removeHandler(handler)
        logger.removeFilter(flt)
        structlog.reset_defaults()
    assert "rest.message.received.timeout" in out.getvalue() and PHONE not in out.getvalue()


def test_the_rasa_entry_reads_its_environment_once() -> None:
    from assistant.rasa_server import rasa_main

    try:
        extra = rasa_main.configure({"ASSISTANT_HOST": "127.0.0.2", "ASSISTANT_ACTION_PORT": "6055",
                                     "RASA_API_TOKEN": "t0ken"})
        assert webchat.action_health_url() == "http://127.0.0.2:6055/health"
        assert extra == ["--auth-token", "t0ken"]
        assert rasa_main.configure({}) == [] and webchat.action_health_url() == "http://127.0.0.1:5055/health"
    finally:
        rasa_main.configure({})
