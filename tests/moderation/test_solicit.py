"""Disguised ads (rule ad.solicit), the official-link allowlist, and the moderation bench."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.errors import DataError
from assistant.moderation import Message, ModerationConfigError, Moderator, load_config
from assistant.moderation.config import DEFAULT_RULES
from assistant.moderation.detect import strip_official
from assistant.moderation.solicit import Solicitation, find_handle, spaced
from assistant.text.normalize import normalize

HERE = Path(__file__).resolve().parent
ADS = HERE / "disguised_ads.yml"
ROOT = HERE.parent.parent


@pytest.fixture(scope="module")
def solicit() -> Solicitation:
    rule = load_config().rule("ad.solicit")
    assert rule is not None
    return Solicitation(rule)


def _handle(s: Solicitation, text: str) -> str | None:
    return s.handle(normalize(text).lower())


def _flagged(text: str, mod: Moderator | None = None) -> tuple[str, ...]:
    d = (mod or Moderator()).check(Message("u1", "g1", text))
    return () if d.allowed else d.rules


# -- contact handles ------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "handle"), [
    ("薇：tangguo_0912", "tangguo_0912"),
    ("V❤️ s t r a w 8 8 8", "straw888"),             # emoji and spaces between the characters
    ("威💗xiao💗mo💗2024", "xiaomo2024"),
    ("ν×：chef_lin01", "chef_lin01"),                  # Greek nu and the multiplication sign
    ("ⓥ：happyhome2025", "happyhome2025"),             # circled letter (NFKC)
    ("ＶＸ：ＡＢＣ１２３４", "abc1234"),                    # full width
    ("微 信 搜 meishi2024", "meishi2024"),
    ("q q：2287654321", "2287654321"),
    ("加我VX吧：nail-studio_a1", "nail-studio_a1"),
])
def test_contact_ids_are_read_through_disguises(solicit: Solicitation, text: str, handle: str) -> None:
    assert _handle(solicit, text) == handle


@pytest.mark.parametrize("text", ["vx同号", "微信同手机", "电话同微信"])
def test_same_as_phone_is_a_contact(solicit: Solicitation, text: str) -> None:
    assert _handle(solicit, text) is not None


@pytest.mark.parametrize("text", [
    "版本号v1.2.3更新了门禁", "vip888会员日", "微波炉坏了 5楼", "卫生间漏水 3-202", "我微信转你了",
    "微信步数今天20000了", "5w块的车位贵吗", "我微信就是手机号，有事找我", "https://mp.weixin.qq.com/s?__biz=X1234",
])
def test_no_contact_id_in_ordinary_words(solicit: Solicitation, text: str) -> None:
    assert _handle(solicit, text) is None


def test_spaced_view_keeps_id_boundaries() -> None:
    assert spaced("加 v：abc 123！") == "加v abc 123"
    assert find_handle(spaced("vx abc"), re.compile("vx")) is None   # too short, no digit


# -- the scored rule: structure, not sentences ------------------------------------------------

def test_one_signal_alone_is_not_an_ad(solicit: Solicitation) -> None:
    from assistant.moderation.detect import views
    for text in ("车位出租", "有事私我", "价格实惠", "上门维修"):
        score = solicit.score(views(text))
        assert not score.fired, (text, score)


def test_private_channel_plus_trade_is_an_ad_and_innocent_cues_lower_it(solicit: Solicitation) -> None:
    from assistant.moderation.detect import views
    ad = solicit.score(views("婴儿推车出售，私我"))
    assert ad.fired and {"private", "trade"} <= set(ad.signals)
    for innocent in ("求推荐婴儿推车出售的店，私我", "婴儿推车送人，私我", "捡到婴儿推车，失主私我"):
        s = solicit.score(views(innocent))
        assert not s.fired and s.score < ad.score, (innocent, s)


def test_admins_see_the_basis_residents_do_not() -> None:
    d = Moderator().check(Message("u1", "g1", "婴儿推车出售，私我"))
    assert d.rule_id == "ad.solicit" and "private" in d.explanation and "得分" in d.explanation
    assert d.reply is not None and "得分" not in d.reply and "private" not in d.reply


def test_threshold_and_weights_come_from_the_rules_file(tmp_path: Path) -> None:
    text = "婴儿推车出售，私我"
    assert "ad.solicit" in _flagged(text)
    raw = DEFAULT_RULES.read_text(encoding="utf-8").replace("    threshold: 1.0\n", "    threshold: 5\n")
    (tmp_path / "rules.yml").write_text(raw, encoding="utf-8")
    assert _flagged(text, Moderator(load_config(tmp_path / "rules.yml"))) == ()


def test_scam_warnings_and_victims_are_not_ads() -> None:
    assert _flagged("有人在群里发车位出售私聊的，小心是骗子") == ()
    assert _flagged("昨天被人骗着做了刷单返利，钱要不回来了") == ()


def test_disguised_ads_and_look_alikes_file() -> None:
    """Precision and recall of the flag on the look-alike file (every official link passes)."""
    from assistant.devtools.moderation_bench import bench

    report = bench(ADS)
    s = report.summary()
    assert s["n"] >= 90 and s["flag_true"] >= 45 and s["n"] - s["flag_true"] >= 40
    assert s["precision"] >= 0.95 and s["recall"] >= 0.9, s["misses"]
    assert s["kinds"]["official_link"]["fp"] == 0
    assert s["kinds"]["fake_official"]["tp"] == s["kinds"]["fake_official"]["flag_true"]


# -- official links ---------------------------------------------------------------------------

PREFIXES = ("https://wy.jinshan1.cn/", "https://mp.weixin.qq.com/s?__biz=MzJSYH")


@pytest.mark.parametrize("text", [
    "停水通知 https://wy.jinshan1.cn/notice/water", "HTTPS://WY.JINSHAN1.CN/fee 开票说明",
    "http://wy.jinshan1.cn/a", "公众号文章 https://mp.weixin.qq.com/s?__biz=MzJSYH&mid=2247&idx=1",
    "车位租赁通知 https://mp.weixin.qq.com/s?__biz=MzJSYH&mid=9 有需要的看一下",
])
def test_official_links_are_never_moderated(text: str) -> None:
    assert _flagged(text) == ()
    assert strip_official(text, PREFIXES)[1] == 1


@pytest.mark.parametrize("text", [
    "缴费 https://wy.jinshan1.cn.pay-now.top/fee", "https://mp.weixin.qq.com/s?__biz=mzjsyh&mid=1",
    "https://mp.weixin.qq.com/s?__biz=OTHER&mid=1", "https://evil.example.top/https://wy.jinshan1.cn/",
])
def test_look_alike_links_are_not_official(text: str) -> None:
    assert strip_official(text, PREFIXES)[1] == 0
    assert "ad.link" in _flagged(text)


def test_an_official_link_does_not_cover_an_ad_beside_it() -> None:
    assert _flagged("https://wy.jinshan1.cn/notice 加V abc12345 领福利")


def test_the_allowlist_is_configurable(tmp_path: Path) -> None:
    cfg = load_config()
    assert cfg.official_links == PREFIXES
    mod = Moderator(dataclasses.replace(cfg, official_links=()))
    assert "ad.link" in _flagged("https://wy.jinshan1.cn/notice", mod)


def test_a_bad_allowlist_entry_names_file_line_and_field(tmp_path: Path) -> None:
    raw = DEFAULT_RULES.read_text(encoding="utf-8").replace("  - https://wy.jinshan1.cn/\n", "  - wy.jinshan1.cn\n")
    path = tmp_path / "rules.yml"
    path.write_text(raw, encoding="utf-8")
    with pytest.raises(ModerationConfigError) as err:
        load_config(path)
    line = raw.splitlines().index("  - wy.jinshan1.cn") + 1
    assert f"rules.yml:{line}" in str(err.value) and "official_links[0]" in str(err.value)


def test_a_signal_without_weight_is_reported(tmp_path: Path) -> None:
    raw = DEFAULT_RULES.read_text(encoding="utf-8").replace(
        "      private:     # 要求私下联系\n        weight: 0.6\n", "      private:     # 要求私下联系\n")
    path = tmp_path / "rules.yml"
    path.write_text(raw, encoding="utf-8")
    with pytest.raises(ModerationConfigError, match=r"rules\.ad\.solicit\.signals\.private\.weight"):
        load_config(path)


# -- every path uses the one rule set ---------------------------------------------------------

AD = "二手钢琴转让，九成新，有意私聊"
OFFICIAL = "业委会公告 https://mp.weixin.qq.com/s?__biz=MzJSYH&mid=77"


def test_gateway_client_and_web_chat_guard_moderate_alike() -> None:
    from assistant.channels.gateway import Gateway
    from assistant.rasa_server.guard import Guard

    guard = Guard()
    assert guard.screen("s1", AD).forward is None
    assert guard.screen("s2", OFFICIAL).action == "allow"
    assert guard.moderator.config.path == Moderator().config.path == str(DEFAULT_RULES)
    gw = Gateway(Moderator(), lambda text, sender: None)   # type: ignore[arg-type,return-value]
    assert gw.moderator.config.rule("ad.solicit") is not None


def test_the_rasa_environment_runs_the_same_rules() -> None:
    """The web chat's guard runs in Rasa's Python 3.10 without torch: the rule set loads and decides there."""
    python = ROOT / ".venv" / "rasa" / "bin" / "python"
    if not python.exists():
        pytest.skip("no Rasa environment (.venv/rasa)")
    code = ("import sys; from assistant.rasa_server.guard import Guard; g = Guard(); "
            f"print(sys.version_info[:2], g.screen('a', {AD!r}).action, g.screen('b', {OFFICIAL!r}).action, "
            "'torch' in sys.modules)")
    out = subprocess.run([str(python), "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["(3,", "10)", "warn", "allow", "False"]


# -- the bench --------------------------------------------------------------------------------

def test_bench_figures_kinds_and_misses(tmp_path: Path) -> None:
    from assistant.devtools.moderation_bench import bench, format_report

    path = tmp_path / "b.yml"
    path.write_text("messages:\n"
                    "- {text: \"旧沙发出售，私我\", flag: true, kind: sale}\n"
                    "- {text: \"今天天气不错\", flag: true, kind: sale}\n"
                    "- {text: \"捡到钥匙，失主私我\", flag: false, kind: lost}\n"
                    "- {text: \"加V abc12345 领福利\", flag: false, kind: lost}\n", encoding="utf-8")
    s = bench(path).summary()
    assert (s["tp"], s["fn"], s["fp"], s["tn"]) == (1, 1, 1, 1)
    assert s["precision"] == s["recall"] == s["f1"] == 0.5
    assert s["kinds"]["sale"]["recall"] == 0.5 and s["kinds"]["lost"]["accuracy"] == 0.5
    assert [(m["line"], m["expected"]) for m in s["misses"]] == [(3, True), (5, False)]
    text = format_report(s)
    assert "line 3: [sale] missed" in text and "line 5: [lost] false alarm (ad.wechat)" in text


def test_bench_file_errors_name_the_line(tmp_path: Path) -> None:
    from assistant.devtools.moderation_bench import load_items

    path = tmp_path / "bad.yml"
    path.write_text("messages:\n- {text: \"好\", flag: true}\n- {text: \"不好\", flag: maybe}\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.yml:3 \[messages\[1\]\.flag\]"):
        load_items(path)


def test_bench_command(tmp_path: Path) -> None:
    path = tmp_path / "b.yml"
    path.write_text("messages:\n- {text: \"旧沙发出售，私我\", flag: true, kind: sale}\n", encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "assistant", "bench", "moderation", str(path), "--sweep"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "precision=1.000 recall=1.000 f1=1.000" in out.stdout and "threshold sweep" in out.stdout
