from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from assistant.channels import Adapter, TerminalAdapter, WebhookAdapter, make_webhook_server, verify
from assistant.channels.client import Reply
from assistant.channels.gateway import Gateway
from assistant.channels.telegram import TelegramAdapter
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


def signed_response(resp: httpx.Response, secret: str = SECRET) -> bool:
    """The webhook's response carries a valid signature over its body, timestamp and nonce."""
    h = resp.headers
    return verify(secret, resp.content, h.get("X-Signature"), h.get("X-Timestamp"), h.get("X-Nonce"))


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


# Telegram: Bot API Update JSON; the bot is @jinshan_bot (id 999), the group a supergroup.
TG_BOT = {"id": 999, "is_bot": True, "first_name": "小区助手", "username": "jinshan_bot"}
TG_GROUP = {"id": -100123, "type": "supergroup", "title": "锦山壹号业主群"}


def tg_user(uid: int | str = 42, name: str = "5-101-张三", **extra: Any) -> dict[str, Any]:
    return {"id": uid, "is_bot": False, "first_name": name, **extra}


def tg_message(text: str | None, sender: dict[str, Any] | None = None, chat: dict[str, Any] | None = None,
               message_id: int = 10, mention: bool = False, **extra: Any) -> dict[str, Any]:
    """A message; ``mention`` marks a leading @jinshan_bot as a mention entity, as Telegram does."""
    msg: dict[str, Any] = {"message_id": message_id, "date": 1764000000, "chat": chat or TG_GROUP,
                           "from": sender or tg_user(), **extra}
    if text is not None:
        msg["text"] = text
    if mention:
        msg["entities"] = [{"type": "mention", "offset": 0, "length": len("@jinshan_bot")}]
    return msg


def tg_update(message: dict[str, Any], update_id: int = 1, key: str = "message") -> bytes:
    return body({"update_id": update_id, key: message})


def tg_adapter() -> TelegramAdapter:
    return TelegramAdapter(username="jinshan_bot", bot_id=999)


SAMPLES.append(Samples(
    name="telegram",
    make=tg_adapter,
    group_mention=tg_update(tg_message("@jinshan_bot 垃圾几点扔", mention=True)),
    group_plain=tg_update(tg_message("今天电梯又坏了")),
    private=tg_update(tg_message("车位怎么租", chat={"id": 42, "type": "private", "first_name": "5-101-张三"})),
    joined=tg_update(tg_message(None, new_chat_members=[tg_user(43, "6-202-李四")])),
    left=tg_update(tg_message(None, left_chat_member=tg_user(43, "6-202-李四"))),
    extra_fields=body({"update_id": 1, "x_platform": [1, 2], "message": {
        **tg_message("@jinshan_bot 垃圾几点扔", sender=tg_user("u1", is_premium=True, avatar="x"), mention=True),
        "link_preview_options": {"is_disabled": True}, "has_protected_content": True}}),
    malformed=[(None, "update"), (b"{not json", "update"), (b"\xff\xfe", "update"), (b"[1, 2]", "update"),
               (body({"update_id": 1}), "message"),
               (body({"update_id": 1, "callback_query": {"id": "1"}}), "message"),
               (body({"update_id": 1, "message": "hi"}), "message"),
               (body({"update_id": 1, "message": {"message_id": 1, "from": tg_user(), "text": "x"}}), "message.chat"),
               (tg_update(tg_message("x", chat={"type": "group"})), "message.chat.id"),
               (tg_update(tg_message("x", chat={"id": 5, "type": "channel"})), "message.chat.type"),
               (body({"update_id": 1, "message": {"message_id": 1, "chat": TG_GROUP, "text": "x"}}), "message.from"),
               (tg_update(tg_message("x", sender={"first_name": "a"})), "message.from.id"),
               (tg_update(tg_message(None, sticker={"file_id": "s"})), "message.text"),
               (tg_update(tg_message(None, caption=5)), "message.caption"),
               (tg_update({**tg_message("x"), "text": ["x"]}), "message.text"),
               (tg_update(tg_message("x", entities=[{"type": "mention", "offset": 0, "length": 99}])),
                "message.entities[0]"),
               (tg_update(tg_message("x", entities="bold")), "message.entities"),
               (tg_update({**tg_message("x"), "date": "yesterday"}), "message.date"),
               (tg_update(tg_message("x"), key="edited_message")[:-1], "update"),
               (tg_update(tg_message(None, new_chat_members=[TG_BOT])), "message.new_chat_members"),
               (tg_update(tg_message(None, new_chat_members={"id": 1})), "message.new_chat_members")],
))




# WeCom: a 微信客服 message from kf/sync_msg (private), a message to the estate's 智能机器人 in an internal
# group, and the customer-group change callback (ids only; names looked up, here from a dict).
def wecom_adapter() -> Adapter:
    from assistant.channels.wecom.adapter import WeComAdapter

    return WeComAdapter(names={"wm-u2": "6-202-李四"}.get, open_kfid="wk1")


def wecom_robot(text: str, **extra: Any) -> bytes:
    return body({"msgid": "m1", "aibotid": "bot1", "chatid": "g1", "chattype": "group", "from": {"userid": "u1"},
                 "msgtype": "text", "text": {"content": text}, **extra})


def wecom_kf(**fields: Any) -> bytes:
    msg = {"msgid": "k1", "open_kfid": "wk1", "external_userid": "wm-u1", "send_time": 1764000000, "origin": 3,
           "msgtype": "text", "text": {"content": "车位怎么租"}}
    msg.update(fields)
    return body({k: v for k, v in msg.items() if v is not None})


def wecom_change(detail: str, members: str = "<MemChangeList><Item><![CDATA[wm-u2]]></Item></MemChangeList>",
                 event: str = "change_external_chat") -> str:
    return (f"<xml><ToUserName><![CDATA[ww01]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
            f"<CreateTime>1764000000</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{event}]]></Event>"
            f"<ChatId><![CDATA[g1]]></ChatId><ChangeType><![CDATA[update]]></ChangeType>"
            f"<UpdateDetail><![CDATA[{detail}]]></UpdateDetail><JoinScene>1</JoinScene><MemChangeCnt>1</MemChangeCnt>"
            f"{members}</xml>")


SAMPLES.append(Samples(
    name="wecom",
    make=wecom_adapter,
    group_mention=wecom_robot("@助手 垃圾几点扔"),
    group_plain=wecom_robot("今天电梯又坏了"),
    private=wecom_kf(),
    joined=wecom_change("add_member"),
    left=wecom_change("del_member"),
    extra_fields=wecom_robot("@助手 垃圾几点扔", quote={"msgtype": "text"}, response_url="https://x"),
    malformed=[(b"{not json", "body"), (b"\xff\xfe", "body"), (b"[1, 2]", "body"), ("<xml><bad", "body"),
               (wecom_kf(msgid=None), "msgid"), (wecom_kf(external_userid=None), "external_userid"),
               (wecom_kf(msgtype="image", text=None), "msgtype"), (wecom_kf(text={"x": 1}), "text.content"),
               (body({"chatid": "g1", "text": {"content": "x"}}), "from"),
               (body({"chatid": "g1", "from": {"name": "a"}, "text": {"content": "x"}}), "from.userid"),
               (body({"chatid": "g1", "from": {"userid": "u1"}, "text": "x"}), "text.content"),
               (wecom_change("add_member", event="change_contact"), "Event"),
               (wecom_change("add_member", members=""), "MemChangeList"),
               (wecom_change("dismiss"), "UpdateDetail")],
))


@pytest.fixture(params=SAMPLES, ids=[s.name for s in SAMPLES])
def samples(request: pytest.FixtureRequest) -> Samples:
    return request.param
