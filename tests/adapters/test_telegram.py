"""The Telegram adapter end to end: python-telegram-bot's own HTTP code against a fake Bot API."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from telegram import Update

from assistant.channels.telegram import MAX_TEXT, TelegramAdapter, TelegramBot, check_token
from assistant.channels.client import Reply
from assistant.errors import ConfigError, ServiceError
from assistant.channels.gateway import Gateway
from assistant.moderation import ModerationConfig, Moderator, Roster
from assistant.desk.notices import open_outbox

from .conftest import TG_BOT, FakeAnswerer, tg_message, tg_user
from .fake_telegram import TOKEN, FakeBotAPI

GROUP = -100123
ID_NUMBER = "11010519491231002X"      # a valid check digit: the moderator recognises it


class Running:
    """A TelegramBot polling the fake API from its own event loop in a thread."""

    def __init__(self, api: FakeBotAPI, gateway: Gateway, **kw: Any) -> None:
        self.api = api
        self.bot = TelegramBot(gateway, TOKEN, api.base_url, poll_timeout=5, **kw)
        self.loop = asyncio.new_event_loop()
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(self.bot.start())
            started.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert started.wait(10), "the bot did not start"
        self.sent = 0

    def deliver(self, *messages: dict[str, Any], key: str = "message") -> None:
        """Push updates and wait until the bot has handled them all."""
        for m in messages:
            self.api.push({key: m})
        self.sent += len(messages)
        self.api.wait_for(lambda: self.bot.processed >= self.sent)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.bot.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def api() -> Iterator[FakeBotAPI]:
    server = FakeBotAPI().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def tg(api: FakeBotAPI, gateway: Gateway) -> Iterator[Running]:
    running = Running(api, gateway)
    try:
        yield running
    finally:
        running.close()


def sent_texts(api: FakeBotAPI) -> list[tuple[int, str]]:
    return [(int(p["chat_id"]), p["text"]) for p in api.calls_of("sendMessage")]


def test_identity_comes_from_get_me(tg: Running, api: FakeBotAPI) -> None:
    assert tg.bot.adapter.username == "jinshan_bot" and tg.bot.adapter.bot_id == "999"
    assert api.calls_of("getMe")


def test_group_mention_is_answered_in_the_group(tg: Running, api: FakeBotAPI, answerer: FakeAnswerer) -> None:
    tg.deliver(tg_message("@jinshan_bot 垃圾几点扔", mention=True))
    assert answerer.calls == [("垃圾几点扔", f"telegram:{GROUP}:42")]
    [call] = api.calls_of("sendMessage")
    assert int(call["chat_id"]) == GROUP and call["text"] == "@5-101-张三 答：垃圾几点扔"
    # a real mention of the resident: a text_mention entity over "@5-101-张三"
    assert call["entities"] == [{"type": "text_mention", "offset": 0, "length": 9,
                                 "user": {"id": 42, "is_bot": False, "first_name": "5-101-张三"}}]


def test_message_not_addressed_gets_nothing(tg: Running, api: FakeBotAPI, answerer: FakeAnswerer) -> None:
    tg.deliver(tg_message("今天电梯又坏了"), tg_message("@other_bot 垃圾几点扔", mention=False,
                                                    entities=[{"type": "mention", "offset": 0, "length": 10}]),
               tg_message("/start@other_bot", entities=[{"type": "bot_command", "offset": 0, "length": 16}]))
    assert api.actions() == [] and answerer.calls == []


def test_reply_command_and_wake_word_are_addressed(tg: Running, api: FakeBotAPI, answerer: FakeAnswerer) -> None:
    tg.deliver(tg_message("那厨余垃圾呢", reply_to_message={**tg_message("答：…", sender=TG_BOT), "message_id": 3}),
               tg_message("/ask@jinshan_bot 车位怎么租", message_id=11,
                          entities=[{"type": "bot_command", "offset": 0, "length": 16}]),
               tg_message("@助手 物业费在哪交", message_id=12),
               tg_message("小区助手帮我看看", message_id=13,
                          entities=[{"type": "text_mention", "offset": 0, "length": 4, "user": TG_BOT}]))
    assert sorted(answerer.texts) == sorted(["那厨余垃圾呢", "车位怎么租", "物业费在哪交", "帮我看看"])
    assert len(api.calls_of("sendMessage")) == 4


def test_ad_gets_a_warning_and_a_recall(tg: Running, api: FakeBotAPI, answerer: FakeAnswerer) -> None:
    tg.deliver(tg_message("加V：abc12345 领福利", tg_user(43, "6-202-李四"), message_id=21))
    assert api.calls_of("deleteMessage") == [{"chat_id": str(GROUP), "message_id": "21"}]
    [(chat, text)] = sent_texts(api)
    assert chat == 43 and "微信引流广告" in text and "第 1 次" in text    # privately, to the sender
    assert answerer.calls == []
    assert not api.calls_of("restrictChatMember") and not api.calls_of("banChatMember")


def test_repeat_offender_is_muted_then_removed(tg: Running, api: FakeBotAPI) -> None:
    who = tg_user(43, "6-202-李四")
    tg.deliver(tg_message("加V：abc12345 领福利", who, message_id=21))
    tg.deliver(tg_message("低息贷款无抵押，当天放款，私聊我", who, message_id=22))
    [mute] = api.calls_of("restrictChatMember")
    assert int(mute["chat_id"]) == GROUP and int(mute["user_id"]) == 43
    assert mute["permissions"]["can_send_messages"] is False
    assert int(mute["until_date"]) > time.time() + 3600
    tg.deliver(tg_message("宝妈在家兼职日结300，加我", who, message_id=23))
    [ban] = api.calls_of("banChatMember")
    assert int(ban["chat_id"]) == GROUP and int(ban["user_id"]) == 43
    assert sorted(p["message_id"] for p in api.calls_of("deleteMessage")) == ["21", "22", "23"]


def test_private_warning_falls_back_to_the_group(tg: Running, api: FakeBotAPI) -> None:
    api.private_refused.add(43)      # never started the bot: Telegram answers 403
    tg.deliver(tg_message("加V：abc12345 领福利", tg_user(43, "6-202-李四"), message_id=21))
    sends = api.calls_of("sendMessage")
    assert [int(p["chat_id"]) for p in sends] == [43, GROUP]
    assert sends[1]["text"].startswith("@6-202-李四 ") and sends[1]["entities"][0]["user"]["id"] == 43
    assert api.calls_of("deleteMessage")


def test_id_number_is_never_echoed(api: FakeBotAPI, mod_config: ModerationConfig) -> None:
    echoed: list[str] = []

    def echo(text: str, sender: str) -> Reply:       # the worst answerer: repeats everything it sees
        echoed.append(text)
        return Reply("answer", [f"您说：{text}"])

    running = Running(api, Gateway(Moderator(mod_config), echo))
    try:
        running.deliver(tg_message(f"@jinshan_bot {ID_NUMBER} 是我的身份证号，能办门禁卡吗", mention=True, message_id=31),
                        tg_message(f"我的身份证 {ID_NUMBER[:6]} {ID_NUMBER[6:]}", message_id=32),
                        tg_message(f"身份证{ID_NUMBER}", chat={"id": 42, "type": "private"}, message_id=33))
    finally:
        running.close()
    everything = json.dumps(api.calls, ensure_ascii=False)
    assert ID_NUMBER not in everything and ID_NUMBER[6:] not in everything
    assert echoed and all("身份证号已隐藏" in t for t in echoed)
    # the group messages holding the number are recalled
    assert sorted(p["message_id"] for p in api.calls_of("deleteMessage")) == ["31", "32"]


def test_private_message_is_answered(tg: Running, api: FakeBotAPI, answerer: FakeAnswerer) -> None:
    tg.deliver(tg_message("车位怎么租", chat={"id": 42, "type": "private", "first_name": "5-101-张三"}),
               tg_message("/start", chat={"id": 42, "type": "private"}, message_id=11,
                          entities=[{"type": "bot_command", "offset": 0, "length": 6}]))
    assert answerer.calls == [("车位怎么租", "telegram:42"), ("你好", "telegram:42")]
    assert sent_texts(api) == [(42, "答：车位怎么租"), (42, "答：你好")]
    assert "entities" not in api.calls_of("sendMessage")[0]


def test_joined_member_gets_the_rules_and_the_nickname_check(tg: Running, api: FakeBotAPI) -> None:
    tg.deliver(tg_message(None, new_chat_members=[tg_user(77, "小王"), TG_BOT]))
    sends = api.calls_of("sendMessage")
    assert [int(p["chat_id"]) for p in sends] == [GROUP, GROUP]
    assert "欢迎" in sends[0]["text"] and "群规" in sends[0]["text"] and sends[0]["text"].startswith("@小王 ")
    assert sends[0]["entities"][0]["user"]["id"] == 77
    assert "楼号-房号-姓名" in sends[1]["text"]
    tg.deliver(tg_message(None, new_chat_members=[tg_user(78, "5-101-张三")]),
               tg_message(None, left_chat_member=tg_user(78, "5-101-张三")))
    assert len(api.calls_of("sendMessage")) == 3      # the well-named member: the greeting only


def test_joined_member_checked_against_the_roster(api: FakeBotAPI, mod_config: ModerationConfig,
                                                  answerer: FakeAnswerer) -> None:
    roster = Roster.parse("building,unit,room\n5,,101\n")
    running = Running(api, Gateway(Moderator(mod_config, roster=roster), answerer))
    try:
        running.deliver(tg_message(None, new_chat_members=[tg_user(78, "5-101-张三"), tg_user(79, "5-999-李四")]))
    finally:
        running.close()
    sends = [(int(p["chat_id"]), p["text"]) for p in api.calls_of("sendMessage")]
    assert [c for c, _ in sends] == [GROUP, GROUP, 79]       # the unknown unit is told privately
    assert "5-999" in sends[2][1] and "名册" in sends[2][1]


def test_stickers_and_bots_joining_are_ignored(tg: Running, api: FakeBotAPI, answerer: FakeAnswerer) -> None:
    tg.deliver(tg_message(None, sticker={"file_id": "x", "file_unique_id": "y", "type": "regular", "width": 1,
                                         "height": 1, "is_animated": False, "is_video": False}),
               tg_message(None, new_chat_members=[TG_BOT]))
    assert api.actions() == [] and answerer.calls == []


def test_edited_message_is_moderated(tg: Running, api: FakeBotAPI) -> None:
    tg.deliver({**tg_message("加V：abc12345 领福利", tg_user(43), message_id=41), "edit_date": 1764000100},
               key="edited_message")
    assert api.calls_of("deleteMessage") == [{"chat_id": str(GROUP), "message_id": "41"}]


def test_long_message_and_long_reply(api: FakeBotAPI, mod_config: ModerationConfig) -> None:
    seen: list[str] = []

    def verbose(text: str, sender: str) -> Reply:
        seen.append(text)
        return Reply("answer", ["好😀" * 3000])          # 9,000 UTF-16 units: three messages

    running = Running(api, Gateway(Moderator(mod_config), verbose))
    try:
        running.deliver(tg_message("@jinshan_bot " + "小区东门的路灯坏了好几天晚上很黑" * 625, mention=True))
    finally:
        running.close()
    assert len(seen[0]) <= 2000 and seen[0].endswith("晚上很黑")     # cut by the gateway (MAX_MESSAGE_CHARS)
    texts = [p["text"] for p in api.calls_of("sendMessage")]
    assert len(texts) == 3 and all(len(t.encode("utf-16-le")) // 2 <= MAX_TEXT for t in texts)
    assert "".join(texts).replace("@5-101-张三 ", "", 1) == "好😀" * 3000


def test_answerer_failure_still_gets_a_reply(api: FakeBotAPI, mod_config: ModerationConfig) -> None:
    def broken(text: str, sender: str) -> Reply:
        raise ConnectionError("rasa is down")

    running = Running(api, Gateway(Moderator(mod_config), broken))
    try:
        running.deliver(tg_message("@jinshan_bot 垃圾几点扔", mention=True), tg_message("@jinshan_bot 车位", mention=True))
    finally:
        running.close()
    assert len(api.calls_of("sendMessage")) == 2       # and the bot kept going


def test_notices_are_sent_without_an_incoming_message(api: FakeBotAPI, mod_config: ModerationConfig,
                                                      answerer: FakeAnswerer, tmp_path: Path) -> None:
    outbox = open_outbox(f"sqlite:///{tmp_path / 'tickets.db'}")    # the desk, in another process, wrote these
    outbox.add(f"telegram:{GROUP}:42", ["请为本次处理打分 1-5"], "csat", "T-20261123-0001")
    outbox.add("telegram:43", ["您的转人工请求已转为工单"], "handoff_timeout", "T-20261123-0002")
    outbox.add("webhook:g1:u1", ["not for Telegram"])
    running = Running(api, Gateway(Moderator(mod_config), answerer, outbox=outbox), notice_every=0.05)
    try:
        api.wait_for(lambda: len(api.calls_of("sendMessage")) >= 2)
        outbox.add(f"telegram:{GROUP}:44", ["稍后的通知"])              # one more while the bot runs
        api.wait_for(lambda: len(api.calls_of("sendMessage")) >= 3)
        time.sleep(0.2)                                                 # a few more rounds: nothing again
    finally:
        running.close()
    sends = api.calls_of("sendMessage")
    assert [(int(p["chat_id"]), p["text"]) for p in sends] == [
        (GROUP, "@42 请为本次处理打分 1-5"), (43, "您的转人工请求已转为工单"), (GROUP, "@44 稍后的通知")]
    assert sends[0]["entities"][0]["user"]["id"] == 42                # a real mention of the resident
    assert running.bot.processed == 0 and answerer.calls == []
    assert [n.text for n in outbox.pending()] == ["not for Telegram"]
    outbox.dispose()


def test_notice_goes_with_the_reply_too(api: FakeBotAPI, mod_config: ModerationConfig, answerer: FakeAnswerer,
                                        tmp_path: Path) -> None:
    outbox = open_outbox(f"sqlite:///{tmp_path / 'tickets.db'}")
    running = Running(api, Gateway(Moderator(mod_config), answerer, outbox=outbox), notice_every=3600)
    try:
        outbox.add(f"telegram:{GROUP}:42", ["请为本次处理打分 1-5"], "csat")   # after the first round
        running.deliver(tg_message("@jinshan_bot 垃圾几点扔", mention=True))
    finally:
        running.close()
    assert sent_texts(api) == [(GROUP, "@5-101-张三 请为本次处理打分 1-5"), (GROUP, "@5-101-张三 答：垃圾几点扔")]
    outbox.dispose()


def test_parse_accepts_update_objects() -> None:
    adapter = TelegramAdapter(username="jinshan_bot", bot_id=999)
    update = Update.de_json({"update_id": 5, "message": tg_message("@jinshan_bot 垃圾几点扔", mention=True)}, None)
    msg = adapter.parse(update)
    assert msg.is_tome() and msg.text == "垃圾几点扔" and msg.sender_id == "42" and msg.message_id == "10"


def test_mentions_count_utf16_offsets() -> None:
    adapter = TelegramAdapter(username="jinshan_bot", bot_id=999)
    text = "😀😀 @jinshan_bot 垃圾几点扔"          # each emoji is two UTF-16 units
    entities = [{"type": "mention", "offset": 5, "length": 12}]
    msg = adapter.parse({"update_id": 1, "message": tg_message(text, entities=entities)})
    assert msg.is_tome() and msg.text == "😀😀 垃圾几点扔"


def test_check_token(api: FakeBotAPI) -> None:
    assert check_token(TOKEN, api.base_url) == "jinshan_bot"
    with pytest.raises(ConfigError, match="rejected"):
        check_token("654321:WRONG-token_abcdefghijklmnopqrstu", api.base_url)


def test_check_token_unreachable(free_port: int) -> None:
    with pytest.raises(ServiceError, match="cannot reach"):
        check_token(TOKEN, f"http://127.0.0.1:{free_port}/bot", timeout=5)


@pytest.fixture
def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_telegram_bad_input(api: FakeBotAPI, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    from assistant.cli.main import main

    monkeypatch.setenv("ASSISTANT_HOME", str(tmp_path))
    monkeypatch.delenv("ASSISTANT_RESIDENTS_CSV", raising=False)
    monkeypatch.delenv("TG_TEST_TOKEN", raising=False)
    assert main(["telegram", "--token-env", "TG_TEST_TOKEN"]) == 2
    assert "$TG_TEST_TOKEN is not set" in capsys.readouterr().err
    monkeypatch.setenv("TG_TEST_TOKEN", "not a token")
    assert main(["telegram", "--token-env", "TG_TEST_TOKEN"]) == 2
    assert "does not look like a bot token" in capsys.readouterr().err
    monkeypatch.setenv("TG_TEST_TOKEN", TOKEN)
    assert main(["telegram", "--token-env", "TG_TEST_TOKEN", "--base-url", "ftp://x"]) == 2
    assert "--base-url" in capsys.readouterr().err
    bad = tmp_path / "units.csv"
    bad.write_text("building,unit,room\n5,,101\n5,x,102\n", encoding="utf-8")
    assert main(["telegram", "--token-env", "TG_TEST_TOKEN", "--residents", str(bad)]) == 2
    assert f"{bad}:3" in capsys.readouterr().err
    monkeypatch.setenv("TG_TEST_TOKEN", "654321:WRONG-token_abcdefghijklmnopqrstu")
    assert main(["telegram", "--token-env", "TG_TEST_TOKEN", "--base-url", api.base_url]) == 1
    assert "rejected the bot token" in capsys.readouterr().err


class SlowFirst(FakeAnswerer):
    """Takes its time over the first question only."""

    def __call__(self, text: str, sender: str) -> Reply:
        if not self.calls:
            time.sleep(0.4)
        return super().__call__(text, sender)


def test_one_conversations_replies_keep_their_order(api: FakeBotAPI, mod_config: ModerationConfig) -> None:
    slow = SlowFirst()
    running = Running(api, Gateway(Moderator(mod_config), slow))
    try:
        running.deliver(*(tg_message(q, chat={"id": 42, "type": "private"}, message_id=20 + i)
                          for i, q in enumerate(["车位怎么租", "垃圾几点扔", "物业电话"])))
    finally:
        running.close()
    assert sent_texts(api) == [(42, "答：车位怎么租"), (42, "答：垃圾几点扔"), (42, "答：物业电话")]
