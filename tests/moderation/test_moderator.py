from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from pathlib import Path

import pytest

from assistant.moderation import (Message, ModerationConfig, ModerationError, Moderator, SqlStrikeStore,
                                  load_config, store_from_config)
from assistant.moderation.flood import FloodTracker

from .numbers import Numbers, spaced

T0 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.timezone.utc)
AD = "加V：abc12345 领福利"


@pytest.fixture(scope="module")
def cfg():  # noqa: ANN201
    return load_config()


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def test_three_strikes_then_pardon(cfg) -> None:  # noqa: ANN001
    mod = Moderator(cfg)
    texts = [AD, "低息贷款，秒批，私聊我", "你是个傻逼"]
    actions = [mod.check(Message("u1", "g1", t, at(i * 10))).action for i, t in enumerate(texts)]
    assert actions == ["warn", "mute_recommendation", "remove_recommendation"]
    assert mod.strikes("g1", "u1", at(31)) == 3
    assert mod.check(Message("u1", "g2", AD, at(40))).action == "warn"   # strikes are per group
    assert mod.pardon("g1", "u1", by="admin") == 3
    assert mod.check(Message("u1", "g1", AD, at(50))).action == "warn"


def test_strikes_expire(cfg) -> None:  # noqa: ANN001
    mod = Moderator(cfg)
    assert mod.check(Message("u1", "g", AD, T0)).action == "warn"
    assert mod.check(Message("u1", "g", AD, T0 + dt.timedelta(days=31))).action == "warn"
    assert mod.check(Message("u1", "g", "你是个傻逼", T0 + dt.timedelta(days=32))).action == "mute_recommendation"


def test_same_rule_inside_cooldown_counts_once(cfg) -> None:  # noqa: ANN001
    mod = Moderator(cfg)
    d = [mod.check(Message("bot", "g", f"加V：abc1234{i} 领福利", T0 + dt.timedelta(seconds=i)))
         for i in range(3)]
    assert [x.action for x in d] == ["warn", "warn", "warn"] and d[-1].strikes == 1
    assert d[-1].rule_id == "ad.wechat"


def test_pardon_needs_an_admin_when_admins_are_listed(cfg) -> None:  # noqa: ANN001
    mod = Moderator(dataclasses.replace(cfg, admins=frozenset({"boss"})))
    mod.check(Message("u1", "g", AD, T0))
    with pytest.raises(ModerationError):
        mod.pardon("g", "u1", by="u2")
    assert mod.pardon("g", "u1", by="boss") == 1


def test_admin_messages_are_not_struck(cfg) -> None:  # noqa: ANN001
    mod = Moderator(dataclasses.replace(cfg, admins=frozenset({"boss"})))
    d = mod.check(Message("boss", "g", "最新通知 https://example.com/x", T0))
    assert d.action == "allow" and d.rule_id == "ad.link" and d.strikes == 0 and d.reply is None


def test_pii_is_redacted_not_struck_and_never_echoed(cfg) -> None:  # noqa: ANN001
    nums = Numbers(3)
    idn, card, mob = nums.id(), nums.card(), nums.mobile()
    text = f"我的身份证{idn}，卡号{spaced(card, (4, 4, 4, 4))}，电话{mob}"
    mod = Moderator(cfg)
    d = mod.check(Message("u1", "g", text, T0))
    assert d.action == "redact" and d.strikes == 0
    assert set(d.rules) == {"pii.id_card", "pii.bank_card", "pii.mobile"}
    assert "[身份证号已隐藏]" in d.redacted_text and "[手机号已隐藏]" in d.redacted_text
    said = " ".join([d.explanation, d.reply or "", *d.extra_replies, d.redacted_text])
    for secret in (idn, card, mob, idn[:14], card[-8:], mob[-8:]):
        assert secret not in said
    assert "撤回" in (d.reply or "")
    assert mod.strikes("g", "u1", T0) == 0


def test_pii_can_count_as_a_strike(cfg) -> None:  # noqa: ANN001
    mod = Moderator(dataclasses.replace(cfg, pii_strike=True))
    d = mod.check(Message("u1", "g", f"电话 {Numbers(1).mobile()}", T0))
    assert d.action == "warn" and d.rule_id == "pii.mobile" and d.strikes == 1
    assert "[手机号已隐藏]" in d.redacted_text


def test_fee_fraud_warns_the_group_with_official_channels(cfg) -> None:  # noqa: ANN001
    mod = Moderator(cfg)
    d = mod.check(Message("u9", "g", "【物业通知】本月物业费请转账到财务个人账户", T0))
    assert d.action == "fraud_warning" and d.rule_id == "fraud.fee" and d.audience == "group"
    assert "锦山生活" in d.reply and "个人" in d.reply
    assert d.escalation == "warn" and d.strikes == 1 and d.extra_replies
    assert mod.check(Message("u8", "g", "有人冒充物业收费，大家小心", T0)).action == "allow"


def test_ad_plus_pii(cfg) -> None:  # noqa: ANN001
    d = Moderator(cfg).check(Message("u1", "g", f"家电清洗，微信同号{Numbers(2).mobile()}", T0))
    assert d.action == "warn" and d.rule_id == "ad.wechat" and d.rules == ("ad.wechat", "pii.mobile")
    assert "[手机号已隐藏]" in d.redacted_text and "ad.wechat" in d.explanation


def test_explanation_names_rule_and_reason(cfg) -> None:  # noqa: ANN001
    d = Moderator(cfg).check(Message("u1", "g", "稳赚不赔理财群", T0))
    assert "ad.investment" in d.explanation and "投资理财广告" in d.explanation and "第 1 次" in d.explanation


def test_flood(cfg) -> None:  # noqa: ANN001
    mod = Moderator(cfg)
    got = [mod.check(Message("u1", "g", "本店新到大闸蟹，欢迎选购", T0 + dt.timedelta(seconds=i))).rules
           for i in range(3)]
    assert got == [(), (), ("flood",)]
    # another sender, or the same text a while later, is no flood
    assert mod.check(Message("u2", "g", "本店新到大闸蟹，欢迎选购", T0 + dt.timedelta(seconds=4))).allowed
    assert mod.check(Message("u3", "g", "水管爆了", T0)).allowed
    assert mod.check(Message("u3", "g", "水管爆了", T0 + dt.timedelta(seconds=70))).allowed
    assert mod.check(Message("u3", "g", "水管爆了", T0 + dt.timedelta(seconds=140))).allowed


def test_flood_memory_is_bounded() -> None:
    tracker = FloodTracker(count=3, window_seconds=60, max_history=5, max_senders=100)
    for i in range(20000):
        tracker.seen(f"s{i % 1000}", f"message number {i} with text", i * 0.01)
    assert len(tracker) <= 100 and tracker.entries() <= 500
    tracker.seen("late", "something else entirely", 10_000)
    assert len(tracker) <= 100


def test_burst_of_500_in_one_second(cfg) -> None:  # noqa: ANN001
    mod = Moderator(cfg)
    nums = Numbers(5)
    kinds = ["收到", AD, "明天停水吗？", f"电话{nums.mobile()}", "你是个傻逼", "本店新到大闸蟹，欢迎选购",
             "https://evil.xyz/a", "物业费请转账到个人账户"]
    start = time.perf_counter()
    decisions = [mod.check(Message(f"u{i % 37}", "g", kinds[i % len(kinds)], T0 + dt.timedelta(milliseconds=2 * i)))
                 for i in range(500)]
    elapsed = time.perf_counter() - start
    assert len(decisions) == 500 and all(d.action for d in decisions)
    assert {d.action for d in decisions} >= {"allow", "redact", "fraud_warning", "remove_recommendation"}
    assert elapsed < 5, f"500 messages took {elapsed:.1f}s"


def test_long_messages_are_quick(cfg) -> None:  # noqa: ANN001
    mod = Moderator(cfg)
    nums = Numbers(9)
    texts = ["邻居们好" * 2500, "1 2 3 4 5 6 7 8 9 " * 560, "a." * 5000,
             "今天天气不错" * 1600 + f" 电话{nums.mobile()} 加V：abc12345 领福利", "傻" * 10000,
             "0" * 10000, "http://" + "x" * 9990]
    for t in texts:
        start = time.perf_counter()
        d = mod.check(Message("long", "g", t, T0))
        assert time.perf_counter() - start < 1.0
        assert len(d.redacted_text) <= len(t) + 20
    assert mod.check(Message("long2", "g", texts[3], T0)).rules == ("ad.wechat", "pii.mobile")


def test_logs_carry_ids_never_text(cfg, caplog) -> None:  # noqa: ANN001
    mod = Moderator(cfg)
    mobile = Numbers(4).mobile()
    with caplog.at_level(logging.DEBUG, logger="assistant.moderation"):
        mod.check(Message("u-77", "g-5", f"你是个傻逼 {mobile}", T0))
        mod.pardon("g-5", "u-77", by="admin-1")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "u-77" in logged and "abuse" in logged
    assert "傻逼" not in logged and mobile not in logged
    assert not logging.getLogger("assistant.moderation").handlers


def test_epoch_times_and_default_now(cfg) -> None:  # noqa: ANN001
    mod = Moderator(cfg)
    assert mod.check(Message("u1", "g", AD, T0.timestamp())).action == "warn"
    assert mod.check(Message("u1", "g", "你是个傻逼")).action == "mute_recommendation"


def test_sql_store_keeps_strikes_across_restarts(cfg, tmp_path: Path) -> None:  # noqa: ANN001
    store_cfg = dataclasses.replace(cfg, strikes=dataclasses.replace(cfg.strikes,
                                                                      database="sqlite:///db/strikes.sqlite3"))
    first = Moderator(store_cfg, store=store_from_config(store_cfg, root=tmp_path))
    assert first.check(Message("u1", "g", AD, T0)).action == "warn"
    second = Moderator(store_cfg, store=SqlStrikeStore("sqlite:///db/strikes.sqlite3", root=tmp_path))
    assert second.check(Message("u1", "g", "你是个傻逼", at(5))).action == "mute_recommendation"


@pytest.mark.parametrize("text", [
    "<iframe src=\"data:text/html;base64,nZ3sb6bn5qbpFsBgPSMOtiVVgxFx4aF1Ia8XtYD2\"></iframe>",
    "<div class='ovw9p6sB7PIa'>khH01BiV</div>",
    "' OR id=825 -- sB0+DvvU",
    "' OR id=1 -- qb/SH1SB",
    "1' UNION SELECT username, password FROM users--",
    "<script>alert(1)</script><!-- x9tmd2 -->",
])
def test_markup_and_sql_are_not_abuse(cfg: ModerationConfig, text: str) -> None:
    # Letters inside codes (base64, ids) are not the abbreviations sb, tmd ...: abuse needs abusive words.
    assert "abuse" not in Moderator(cfg).check(Message("u1", "g1", text, T0)).rules


@pytest.mark.parametrize("text", ["sb", "你是sb吧", "s b", "tmd，又停电", "nmsl!!!", "SB 一个"])
def test_abbreviations_are_still_abuse(cfg: ModerationConfig, text: str) -> None:
    assert Moderator(cfg).check(Message("u1", "g1", text, T0)).rule_id == "abuse"
