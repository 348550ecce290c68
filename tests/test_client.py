from __future__ import annotations

import http.server
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from assistant.dialogue import replies
from assistant.channels.client import Assistant, RasaClient, parse

from .conftest import free_port


def test_parse_reads_texts_and_action_metadata() -> None:
    reply = parse([
        {"recipient_id": "u", "text": "答案"},
        {"recipient_id": "u", "custom": {"route": "answer", "topic": "garbage", "intent": "faq_garbage",
                                         "confidence": 0.9, "sources": [{"id": "garbage-kitchen"}],
                                         "ticket_id": None}},
    ])
    assert reply.route == "answer" and reply.replies == ["答案"] and reply.topic == "garbage"
    assert reply.as_dict().keys() == {"route", "intent", "confidence", "topic", "replies", "sources", "ticket_id",
                                      "answer_confidence"}


def test_missing_metadata_means_the_action_server_failed(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        reply = parse([], "resident-7")
    assert reply.route == "fallback" and reply.replies == [replies.SERVICE_DOWN]
    assert "resident-7" in caplog.text and "action server" in caplog.text


def test_rasa_down_gives_a_polite_reply_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    bot = Assistant(RasaClient(f"http://127.0.0.1:{free_port()}", timeout=2))
    with caplog.at_level(logging.ERROR):
        reply = bot.ask("车位怎么租")
    assert reply.route == "fallback" and reply.replies == [replies.SERVICE_DOWN]
    assert "rasa request failed" in caplog.text and "车位" not in caplog.text  # ids, not message text


def test_blank_input_never_reaches_rasa() -> None:
    bot = Assistant(RasaClient(f"http://127.0.0.1:{free_port()}", timeout=2))
    blank, marks, emoji = bot.ask("   \n"), bot.ask("？？？"), bot.ask("👍🙏")
    assert (blank.route, blank.replies) == ("fallback", [replies.BLANK])
    assert (marks.route, marks.replies) == ("fallback", [replies.BLANK])      # what do they want?
    assert (emoji.route, emoji.replies) == ("chitchat", [replies.EMOJI_ONLY])  # a reaction


def test_rule_breaking_messages_are_moderated_before_rasa() -> None:
    from assistant.moderation import Moderator
    from assistant.moderation.pii import id_check_char

    body = "11010519491231002"
    id_number = body + id_check_char(body)
    bot = Assistant(RasaClient(f"http://127.0.0.1:{free_port()}", timeout=2), Moderator())
    pii = bot.ask(f"我的身份证号是{id_number}，帮我查下物业费")
    assert pii.route == "moderation" and pii.replies
    assert not any(id_number in r for r in pii.replies)  # never echoed back
    # As in the group gateway: the warning, then the redacted question is answered (Rasa is down here).
    assert pii.replies[-1] == replies.SERVICE_DOWN and "隐私" in pii.replies[0]
    only = bot.ask(f"{id_number}")
    assert only.route == "moderation" and replies.SERVICE_DOWN not in only.replies   # nothing else to answer
    ad = bot.ask("高价回收黄金，欢迎私聊 微信 gold888")
    assert ad.route == "moderation" and ad.intent and ad.intent.startswith("ad")
    # Innocent messages go on to Rasa (here: down, so the polite failure reply).
    assert bot.ask("物业费怎么交").replies == [replies.SERVICE_DOWN]


class ScriptedRasa:
    """Stands in for RasaClient: answers every message with one text and its metadata."""

    def send(self, sender: str, text: str) -> list[dict]:
        return [{"text": f"答：{text}"}, {"custom": {"route": "answer", "topic": "garbage"}}]

    def close(self) -> None:
        pass


def test_outbox_notices_come_before_the_next_reply_once(tmp_path) -> None:  # noqa: ANN001
    from assistant.desk.notices import open_outbox

    outbox = open_outbox(f"sqlite:///{tmp_path / 'tickets.db'}")
    outbox.add("resident-5", ["您反映的问题（工单 T-1）已处理完毕，请打分 1-5"], "csat", "T-1")
    bot = Assistant(ScriptedRasa(), outbox=outbox)  # type: ignore[arg-type]
    other = bot.ask("垃圾几点扔", "resident-6")
    assert other.replies == ["答：垃圾几点扔"]                       # not someone else's notice
    first = bot.ask("垃圾几点扔", "resident-5")
    assert first.replies[0].startswith("您反映的问题") and first.replies[1] == "答：垃圾几点扔"
    assert bot.ask("垃圾几点扔", "resident-5").replies == ["答：垃圾几点扔"]   # delivered once


def test_abuse_gets_the_warning_and_still_reaches_the_assistant() -> None:
    from assistant.moderation import Moderator

    bot = Assistant(ScriptedRasa(), Moderator())  # type: ignore[arg-type]
    reply = bot.ask("你个傻逼机器人", "resident-8")
    assert reply.route == "moderation" and reply.intent == "abuse"
    assert reply.replies[-1].startswith("答：")     # the engine hands an abusive resident to a human


class SlowRasa(http.server.BaseHTTPRequestHandler):
    """Rasa's REST channel answering after ``delay`` s; /health answers at once."""

    delay = 0.0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        time.sleep(self.delay)
        self._json([{"text": "答"}, {"custom": {"route": "answer", "topic": "parking"}}])

    def do_GET(self) -> None:
        self._json({"status": "ok"})

    def _json(self, data: object) -> None:
        body = json.dumps(data).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def slow_rasa() -> Iterator[tuple[str, type[SlowRasa]]]:
    handler = type("Handler", (SlowRasa,), {})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def test_a_frozen_action_server_gets_the_polite_reply_within_5_s(slow_rasa: tuple[str, type[SlowRasa]],
                                                                caplog: pytest.LogCaptureFixture) -> None:
    url, handler = slow_rasa
    handler.delay = 8.0                              # Rasa waits for the frozen action server
    frozen = socket.create_server(("127.0.0.1", 0))  # accepts connections (backlog), never answers: SIGSTOP
    try:
        bot = Assistant(RasaClient(url, health_url=f"http://127.0.0.1:{frozen.getsockname()[1]}/health"))
        start = time.monotonic()
        with caplog.at_level(logging.ERROR):
            reply = bot.ask("车位怎么租", sender="resident-9")
        took = time.monotonic() - start
        assert reply.route == "fallback" and reply.replies == [replies.SERVICE_DOWN]
        assert took < 5 and "ActionServerDown" in caplog.text and "车位" not in caplog.text
        bot.close()
    finally:
        frozen.close()


def test_a_slow_answer_from_healthy_servers_is_still_awaited(slow_rasa: tuple[str, type[SlowRasa]]) -> None:
    url, handler = slow_rasa
    handler.delay = 3.5                              # longer than the patience, the action server healthy
    bot = Assistant(RasaClient(url, health_url=f"{url}/health", patience=1.0))
    reply = bot.ask("车位怎么租")
    assert reply.route == "answer" and reply.replies == ["答"]
    bot.close()
class RecordingRasa(ScriptedRasa):
    """ScriptedRasa that keeps what it was sent, and fails as the real client does on text it cannot encode."""
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
    def send(self, sender: str, text: str) -> list[dict]:
        (sender + text).encode("utf-8")          # httpx raises UnicodeEncodeError here on a lone surrogate
        self.sent.append((sender, text))
        return super().send(sender, text)
def test_lone_surrogates_in_text_or_sender_still_get_an_answer() -> None:
    rasa = RecordingRasa()
    bot = Assistant(rasa)  # type: ignore[arg-type]
    reply = bot.ask("车位\udc80怎么租\ud800", "resident\udc80")
    assert reply.route == "answer" and replies.SERVICE_DOWN not in reply.replies
    assert rasa.sent == [("resident\\udc80", "车位 怎么租")]
    bot.ask("x", "resident\udc81")
    assert rasa.sent[-1][0] != rasa.sent[0][0]          # distinct ids stay distinct
def test_long_messages_are_cut_to_the_documented_maximum() -> None:
    from assistant.text.normalize import MAX_CHARS, MAX_MESSAGE_CHARS, limit
    rasa = RecordingRasa()
    bot = Assistant(rasa)  # type: ignore[arg-type]
    text = "头" * 100 + "中" * 100_000 + "车位怎么租"
    assert len(limit(text)) == MAX_MESSAGE_CHARS and limit(text).endswith("车位怎么租")
    assert bot.ask(text, "r").route == "answer"
    sent = rasa.sent[0][1]
    assert len(sent) <= MAX_CHARS and sent.startswith("头") and sent.endswith("车位怎么租")
