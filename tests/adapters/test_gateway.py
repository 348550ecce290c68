from __future__ import annotations

import datetime as dt
import logging
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from assistant.dialogue import replies
from assistant.channels import IncomingMessage, MemberJoined, MemberLeft, Wake
from assistant.channels.client import Reply
from assistant.channels.gateway import MODERATION, Gateway
from assistant.moderation import ModerationConfig, Moderator, Roster
from assistant.text.normalize import MAX_MESSAGE_CHARS

from .conftest import FakeAnswerer

AD = "加V：abc12345 领福利"
PHONE = "13812345678"
T0 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.timezone.utc)


def msg(text: str, sender: str = "u1", *, to_me: bool = False, group: bool = True, conv: str = "g1",
        minutes: float = 0, mid: str | None = None) -> IncomingMessage:
    return IncomingMessage("test", conv if group else f"dm-{sender}", group, sender, "5-101-张三", text,
                           to_me or not group, T0 + dt.timedelta(minutes=minutes), mid)


def test_addressed_message_is_answered_without_the_mention(gateway: Gateway, answerer: FakeAnswerer) -> None:
    result = gateway.handle(msg("@助手 垃圾几点扔？"))
    assert answerer.calls == [("垃圾几点扔?", "test:g1:u1")]        # normalised, mention stripped
    assert result.route == "answer" and result.decision.action == "allow"
    assert [(m.text, m.at, m.private_to) for m in result.outgoing] == [("答：垃圾几点扔?", "u1", None)]
    assert result.actions == [] and result.as_reply() is result.reply


def test_unaddressed_message_is_moderated_but_not_answered(gateway: Gateway, answerer: FakeAnswerer) -> None:
    quiet = gateway.handle(msg("今天电梯又坏了"))
    assert quiet.route is None and quiet.outgoing == [] and quiet.decision.action == "allow"
    ad = gateway.handle(msg(AD, "u2", mid="m9"))
    assert ad.route == MODERATION and ad.decision.rule_id == "ad.wechat"
    assert [a.action for a in ad.actions] == ["recall", "warn"]
    assert all(a.target == "u2" and a.reason == "ad.wechat" and a.message_id == "m9" for a in ad.actions)
    assert answerer.calls == []


def test_violation_addressed_to_the_bot_never_reaches_it(gateway: Gateway, answerer: FakeAnswerer) -> None:
    steps = []
    for i, text in enumerate([f"@助手 {AD}", "@助手 低息贷款，秒批，私聊我", "@助手 你是个傻逼"]):
        result = gateway.handle(msg(text, minutes=i * 10))
        assert result.route == MODERATION and result.reply is None and result.forwarded is None
        assert all(m.private_to == "u1" for m in result.outgoing)          # audience: the sender
        steps.append(result.actions[-1].action)
    assert steps == ["warn", "mute", "remove"]
    assert answerer.calls == []
    as_reply = result.as_reply()
    assert as_reply.route == "moderation" and "移出群聊" in as_reply.replies[0]


def test_fraud_warning_goes_to_the_whole_group(gateway: Gateway) -> None:
    result = gateway.handle(msg("物业通知：物业费请转到个人账户 6222020000000000000，谢谢"))
    assert result.decision.action == "fraud_warning" and result.route == MODERATION
    assert result.outgoing[0].private_to is None and "防骗" in result.outgoing[0].text
    assert "recall" in [a.action for a in result.actions]


def test_personal_data_is_redacted_before_forwarding_and_logging(gateway: Gateway, answerer: FakeAnswerer,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    result = gateway.handle(msg(f"@助手 我的电话{PHONE}，车位怎么租", mid="m1"))
    assert result.decision.action == "redact" and result.route == "answer"
    assert answerer.texts == ["我的电话[手机号已隐藏],车位怎么租"]
    assert [a.action for a in result.actions] == ["recall"] and result.actions[0].reason == "pii.mobile"
    private = [m for m in result.outgoing if m.private_to == "u1"]
    assert private and "手机号已隐藏" in private[0].text                # ask to recall, privately
    assert any(m.at == "u1" and m.text.startswith("答") for m in result.outgoing)
    # unaddressed messages with personal data: redaction notice, nothing forwarded
    quiet = gateway.handle(msg(f"我手机{PHONE}有事找我"))
    assert quiet.decision.action == "redact" and quiet.forwarded is None and len(answerer.calls) == 1
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert PHONE not in logged and "车位怎么租" not in logged and "u1" in logged


def test_private_chat_is_always_addressed_and_redacted(gateway: Gateway, answerer: FakeAnswerer) -> None:
    result = gateway.handle(msg(f"车位怎么租 {PHONE}", group=False))
    assert answerer.calls == [("车位怎么租 [手机号已隐藏]", "test:u1")]
    assert result.decision is None and result.outgoing[0].private_to == "u1"
    # the group rules are about the group: an ad sent privately to the bot is answered, not struck
    gateway.handle(msg(AD, group=False))
    assert gateway.moderator.strikes("g1", "u1", T0) == 0


def test_wake_word_and_names(mod_config: ModerationConfig, answerer: FakeAnswerer) -> None:
    gw = Gateway(Moderator(mod_config), answerer, wake=Wake(names=("小锦",), words=("小锦同学",)))
    gw.handle(msg("小锦同学，垃圾几点扔"))
    gw.handle(msg("垃圾几点扔 @小锦"))
    gw.handle(msg("@助手 垃圾几点扔"))                # not this gateway's name
    gw.handle(msg("我家小锦同学今天生日"))             # the wake word only counts at the start
    assert answerer.texts == ["垃圾几点扔", "垃圾几点扔"]


@pytest.mark.parametrize("text,hit,rest", [
    ("@助手 垃圾几点扔", True, "垃圾几点扔"),
    ("@助手垃圾几点扔", True, "垃圾几点扔"),
    ("垃圾几点扔 @bot", True, "垃圾几点扔"),
    ("@BOT: 车位", True, "车位"),
    ("@小区助手，车位怎么租", True, "车位怎么租"),
    ("@bots 车位", False, "@bots 车位"),
    ("mail me a@bot.com", False, "mail me a@bot.com"),
    ("@张三 车位", False, "@张三 车位"),
])
def test_wake_strip(text: str, hit: bool, rest: str) -> None:
    assert Wake().strip(text) == (hit, rest)


def test_reply_to_the_bot_counts_as_addressed(gateway: Gateway, answerer: FakeAnswerer) -> None:
    gateway.handle(msg("那周末呢", to_me=True))
    assert answerer.texts == ["那周末呢"]


def test_member_joined(mod_config: ModerationConfig, answerer: FakeAnswerer) -> None:
    gw = Gateway(Moderator(mod_config, roster=Roster.parse("building,unit,room\n5,,101\n")), answerer)
    bad = gw.handle(MemberJoined("test", "g1", "u5", "张三"))
    assert bad.route == "greeting" and len(bad.outgoing) == 2
    assert "群规" in bad.outgoing[0].text and "楼号-房号-姓名" in bad.outgoing[1].text
    assert all(m.at == "u5" and m.private_to is None for m in bad.outgoing)
    ok = gw.handle(MemberJoined("test", "g1", "u6", "5-101-张三"))
    assert len(ok.outgoing) == 1
    unknown = gw.handle(MemberJoined("test", "g1", "u7", "9-909-李四"))
    assert unknown.outgoing[1].private_to == "u7"               # the roster is nobody else's business
    assert gw.handle(MemberLeft("test", "g1", "u7")).outgoing == []
    assert answerer.calls == []


def test_answerer_failure_still_replies(mod_config: ModerationConfig, caplog: pytest.LogCaptureFixture) -> None:
    def broken(text: str, sender: str) -> Reply:
        raise RuntimeError("boom")

    result = Gateway(Moderator(mod_config), broken).handle(msg("@助手 车位"))
    assert result.route == "fallback" and result.outgoing[0].text == replies.SERVICE_DOWN
    # a bug is logged with its traceback: where it happened, not only its type
    assert 'test_gateway.py", line' in caplog.text and "in broken" in caplog.text
    assert "RuntimeError: boom" in caplog.text


def test_ask_reports_the_moderation_route(gateway: Gateway, answerer: FakeAnswerer) -> None:
    assert gateway.ask(AD, "cli-1").route == "moderation"
    assert gateway.ask("车位怎么租", "cli-1").route == "answer"
    assert answerer.calls == [("车位怎么租", "cli:cli:cli-1")]


def test_long_message(gateway: Gateway, answerer: FakeAnswerer) -> None:
    text = "@助手 " + "小区东门的路灯坏了好几天晚上很黑" * 625     # 10,000+ characters
    assert len(text) > 10_000
    start = time.perf_counter()
    result = gateway.handle(msg(text))
    assert time.perf_counter() - start < 2
    # Cut to the documented maximum (head and end kept) before moderation and answering.
    assert result.route == "answer" and len(answerer.texts[0]) <= MAX_MESSAGE_CHARS
    assert answerer.texts[0].startswith("小区东门") and answerer.texts[0].endswith("晚上很黑")


def test_burst_of_500_messages_in_one_second(gateway: Gateway, answerer: FakeAnswerer) -> None:
    # 100 residents in 5 groups, each asking 5 different things (no flooding), from 16 threads.
    asks = ["车位怎么租", "厨余垃圾几点扔", "家里水管漏了找谁修", "物业费在哪里交", "快递放哪个驿站"]
    batch = [msg(f"@助手 {asks[i // 100]}（{i}）", f"u{i % 100}", conv=f"g{i % 5}", mid=f"m{i}")
             for i in range(500)]
    start = time.perf_counter()
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(gateway.handle, batch))
    elapsed = time.perf_counter() - start
    print(f"\nburst: 500 messages through the gateway in {elapsed * 1000:.0f} ms")
    assert elapsed < 1.0
    assert [r.route for r in results] == ["answer"] * 500
    assert sorted(s for _, s in answerer.calls) == sorted(f"test:g{i % 5}:u{i % 100}" for i in range(500))
    assert len({t for t in answerer.texts}) == 500


def test_concurrent_repeats_count_one_strike(gateway: Gateway, answerer: FakeAnswerer) -> None:
    # The same ad 200 times at once: every message handled, one strike (the cooldown), no lost update.
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(gateway.handle, [msg(f"@助手 {AD}", "u3") for _ in range(200)]))
    assert len(results) == 200 and all(r.route == MODERATION for r in results)
    assert gateway.moderator.strikes("g1", "u3", T0) == 1
    assert answerer.calls == []
