from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Callable

import pytest

from assistant.adapters import Adapter, TerminalAdapter, WebhookAdapter, make_webhook_server
from assistant.client import Reply
from assistant.gateway import Gateway
from assistant.moderation import ModerationConfig, Moderator, load_config

SECRET = "test-secret"


class FakeAnswerer:
    """Answers every question at once with a fixed route; remembers what it saw (thread-safe)."""

    def __init__(self, route: str = "answer") -> None:
        self.route = route
        self.calls: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def __call__(self, text: str, sender: str) -> Reply:
        with self._lock:
            self.calls.append((text, sender))
        return Reply(self.route, [f"答：{text[:20]}"], intent="faq", confidence=0.9, topic="garbage")

    @property
    def texts(self) -> list[str]:
        return [t for t, _ in self.calls]


@pytest.fixture(scope="session")
def mod_config() -> ModerationConfig:
    return load_config()


@pytest.fixture
def answerer() -> FakeAnswerer:
    return FakeAnswerer()


@pytest.fixture
def gateway(mod_config: ModerationConfig, answerer: FakeAnswerer) -> Gateway:
    return Gateway(Moderator(mod_config), answerer)


@pytest.fixture
def webhook(gateway: Gateway) -> Iterator[Any]:
    """A real webhook server on a free loopback port, serving in a thread."""
    server = make_webhook_server(gateway, "127.0.0.1", 0, secret=SECRET)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def body(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def message(text: str, sender: str = "u1", conversation: str = "g1", **extra: Any) -> dict[str, Any]:
    return {"type": "message", "conversation_id": conversation, "is_group": True,
            "sender": {"id": sender, "nickname": "5-101-张三"}, "text": text, **extra}


# -- conformance samples, one set per adapter ------------------------------------------------------


@dataclass
class Samples:
    """Raw inputs an adapter must understand; ``malformed`` pairs a raw input with the field named."""

    name: str
    make: Callable[[], Adapter]
    group_mention: Any
    group_plain: Any
    private: Any
    joined: Any
    left: Any
    extra_fields: Any
    malformed: list[tuple[Any, str]] = field(default_factory=list)


def flatten(rendered: Any) -> str:
    """Any rendered payload as one string, to look for texts and ids in."""
    if isinstance(rendered, (bytes, str)):
        return rendered.decode() if isinstance(rendered, bytes) else rendered
    if isinstance(rendered, (list, tuple)) and all(isinstance(x, str) for x in rendered):
        return "\n".join(rendered)
    return json.dumps(rendered, ensure_ascii=False)


SAMPLES = [
    Samples(
        name="terminal",
        make=TerminalAdapter,
        group_mention="5-101-张三: @助手 垃圾几点扔",
        group_plain="5-101-张三: 今天电梯又坏了",
        private="/dm 5-101-张三: 车位怎么租",
        joined="/join 6-202-李四",
        left="/leave 6-202-李四",
        extra_fields='{"conversation_id": "g1", "sender": {"id": "u1", "nickname": "5-101-张三", "avatar": "x"}, '
                     '"text": "@助手 垃圾几点扔", "platform_flags": [1, 2]}',
        malformed=[(None, "line"), ("   ", "line"), ("/join", "name"), ("/dm 没有冒号", "name"),
                   ("/teleport 5", "command"), ('{"conversation_id": ', "line"),
                   ('{"conversation_id": "g1", "text": "x"}', "sender")],
    ),
    Samples(
        name="webhook",
        make=WebhookAdapter,
        group_mention=body(message("@助手 垃圾几点扔", message_id="m1")),
        group_plain=body(message("今天电梯又坏了")),
        private=body({"conversation_id": "dm-u1", "is_group": False, "sender": {"id": "u1"}, "text": "车位怎么租"}),
        joined=body({"type": "member_joined", "conversation_id": "g1",
                     "sender": {"id": "u2", "nickname": "6-202-李四"}}),
        left=body({"type": "member_left", "conversation_id": "g1", "sender": {"id": "u2", "nickname": "6-202-李四"}}),
        extra_fields=body({**message("@助手 垃圾几点扔"), "platform_flags": [1, 2],
                           "sender": {"id": "u1", "nickname": "5-101-张三", "avatar": "x"}}),
        malformed=[(b"{not json", "body"), (b"\xff\xfe", "body"), (b"[1, 2]", "body"),
                   (body({"sender": {"id": "u1"}, "text": "x"}), "conversation_id"),
                   (body({"conversation_id": "g1", "text": "x"}), "sender"),
                   (body({"conversation_id": "g1", "sender": {"nickname": "a"}, "text": "x"}), "sender.id"),
                   (body({"conversation_id": "g1", "sender": {"id": "u1"}}), "text"),
                   (body({"conversation_id": "g1", "sender": {"id": "u1"}, "text": 5}), "text"),
                   (body({**message("x"), "is_group": "yes"}), "is_group"),
                   (body({**message("x"), "time": "yesterday"}), "time"),
                   (body({**message("x"), "type": "poke"}), "type")],
    ),
]


@pytest.fixture(params=SAMPLES, ids=[s.name for s in SAMPLES])
def samples(request: pytest.FixtureRequest) -> Samples:
    return request.param
