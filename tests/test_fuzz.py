"""Fuzz: no input takes the assistant down. The real ``ask --jsonl`` line loop and the real gateway,
with a fake Rasa / a fake answerer: generated lines and messages (random unicode with surrogates,
control characters, deep nesting, huge texts, random bytes) give 0 crashes and 0 silent drops.

Short by default (300 examples per test); ``--hypothesis-profile=fuzz`` runs 10,000."""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assistant.channels import IncomingMessage
from assistant.channels.client import Assistant, Reply
from assistant.channels.gateway import Gateway
from assistant.cli.ask import MAX_LINE_BYTES, answer_lines
from assistant.dialogue import replies
from assistant.moderation import Moderator, load_config
from assistant.text.normalize import MAX_MESSAGE_CHARS

pytestmark = pytest.mark.fuzz      # make unit leaves these out; make test and make fuzz run them

CONFIG = load_config()
T0 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)

# Any code point, lone surrogates and control characters included.
anything = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=())
texts = st.one_of(
    st.text(anything, max_size=200),
    st.text(st.sampled_from("车位怎么租垃圾几点扔傻逼sb加V微信1380013800<>/'\";-=!！ \t\x00\x1b\u200b\ud800\udfff"),
            max_size=300),
    st.builds(lambda c, n: c * n, st.text(anything, min_size=1, max_size=3), st.integers(1, 40_000)),
)
ids = st.one_of(st.text(anything, max_size=30), st.integers(-2**70, 2**70))


class FakeRasa:
    """Encodes each request as httpx does (strict UTF-8 JSON) and answers with the action's metadata."""

    def __init__(self) -> None:
        self.sent = 0

    def send(self, sender: str, text: str) -> list[dict[str, Any]]:
        json.dumps({"sender": sender, "message": text}, ensure_ascii=False).encode("utf-8")
        self.sent += 1
        return [{"text": f"答：{text[:20]}"}, {"custom": {"route": "answer", "topic": None}}]

    def close(self) -> None:
        pass


def json_line(obj: Any) -> bytes:
    return json.dumps(obj).encode("ascii")      # ASCII escapes carry lone surrogates into the line


nested = st.builds(lambda n, o: (("[" if o else '{"a":') * n + "1" + ("]" if o else "}") * n).encode(),
                   st.integers(1, 30_000), st.booleans())
lines = st.one_of(
    st.builds(lambda t, s: json_line({"text": t, "sender": s}), texts, ids),
    st.builds(lambda t: json_line({"text": t}), texts),
    st.binary(max_size=200),
    nested,
    st.builds(lambda n: json_line({"text": "x" * n}), st.sampled_from([MAX_LINE_BYTES - 20, MAX_LINE_BYTES + 10])),
    st.builds(lambda v: json_line(v), st.recursive(st.none() | st.booleans() | st.floats() | st.text(anything),
                                                   lambda c: st.lists(c) | st.dictionaries(st.text(), c),
                                                   max_leaves=20)),
    st.sampled_from([b"", b" ", b"\r", b"\t\x00", b"\xff\xfe", b'{"text": "\\ud800"}', b'{"text": 1e999}']),
).map(lambda b: b.replace(b"\n", b" "))


@given(st.lists(lines, max_size=6), st.booleans())
def test_jsonl_one_object_per_line_whatever_the_lines(batch: list[bytes], final_newline: bool) -> None:
    rasa = FakeRasa()
    bot = Assistant(rasa, Moderator(CONFIG))  # type: ignore[arg-type]
    data = b"\n".join(batch) + (b"\n" if final_newline and batch else b"")
    out = io.BytesIO()
    answer_lines(bot.ask, io.BytesIO(data), out)
    results = [json.loads(x) for x in out.getvalue().decode("utf-8").splitlines()]
    expected = len(batch) if final_newline or not batch or batch[-1] else len(batch) - 1   # "" at EOF: no line
    assert len(results) == expected
    for n, r in enumerate(results, 1):
        assert isinstance(r, dict)
        if "error" in r:
            assert r["line"] == n and r["error"].startswith(f"line {n}: ")
            assert "could not be answered" not in r["error"]        # no unexpected exception
        else:
            assert r["replies"] and replies.SERVICE_DOWN not in r["replies"]


messages = st.builds(
    lambda text, sender, conv, group, to_me, mid: IncomingMessage(
        "fuzz", conv if group else f"dm-{sender}", group, sender, "5-101-张三", text, to_me or not group, T0, mid),
    texts, st.text(anything, min_size=1, max_size=20), st.text(anything, min_size=1, max_size=20),
    st.booleans(), st.booleans(), st.none() | st.text(anything, max_size=10))


@given(st.lists(messages, min_size=1, max_size=4))
def test_gateway_answers_every_addressed_message(batch: list[IncomingMessage]) -> None:
    seen: list[tuple[str, str]] = []

    def answerer(text: str, sender: str) -> Reply:
        seen.append((text, sender))
        return Reply("answer", [f"答：{text[:10]}"])

    gateway = Gateway(Moderator(CONFIG), answerer)
    for msg in batch:
        result = gateway.handle(msg)
        if msg.to_me:
            assert result.outgoing, "an addressed message got no reply"
            assert result.route in ("answer", "moderation")
        for m in result.outgoing:
            (m.text + m.conversation_id + (m.private_to or "") + (m.at or "")).encode("utf-8")
    for text, sender in seen:
        (text + sender).encode("utf-8")            # what reaches the assistant can be sent and stored
        assert len(text) <= MAX_MESSAGE_CHARS


@given(st.one_of(texts, st.none(), st.integers(), st.lists(st.text(max_size=5), max_size=3)), st.text(anything, max_size=40))
def test_webchat_guard_forwards_or_answers_whatever_comes(text: Any, sender: str) -> None:
    """The web chat's channel in Rasa (assistant/rasa_server/guard.py): never raises; what goes on to Rasa
    is at most MAX_MESSAGE_CHARS of encodable text; what it stops gets a reply (no silent drop)."""
    from assistant.rasa_server.guard import Guard

    screened = Guard(Moderator(CONFIG)).screen(sender, text)
    if screened.forward is None:
        assert screened.replies
    else:
        assert len(screened.forward) <= MAX_MESSAGE_CHARS
        screened.forward.encode("utf-8")
