"""The community's chat commands through the real gateway (moderation in front): the terminal group
chat as ``chat --group`` builds it, and the signed webhook with 40 residents joining at once."""

from __future__ import annotations

import io
import json
import logging
import re
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from assistant.channels import signed_headers
from assistant.channels.base import Reply
from assistant.channels.terminal import run_terminal
from assistant.cli.webhook import build_webhook_server
from assistant.runtime.app import group_gateway, open_community
from assistant.settings import Settings, load_settings

SECRET = "0123456789abcdef-community"


class Answerer:
    """Stands for the assistant behind the gateway; records what reached it."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, text: str, sender: str) -> Reply:
        with self._lock:
            self.seen.append(text)
        return Reply("answer", [f"答：{text}"])


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("ASSISTANT_HOME", str(tmp_path))
    monkeypatch.delenv("ASSISTANT_TICKETS_URL", raising=False)
    monkeypatch.delenv("ASSISTANT_RESIDENTS_CSV", raising=False)
    return load_settings()


def _group(settings: Settings, lines: str) -> tuple[str, Answerer]:
    answerer = Answerer()
    gateway = group_gateway(settings, answerer=answerer, persistent_strikes=False, notices=False)
    out = io.StringIO()
    run_terminal(gateway, io.StringIO(lines), out)
    return out.getvalue(), answerer


def test_the_terminal_group_runs_a_signup(settings: Settings) -> None:
    out, answerer = _group(settings, """\
5-101-张三: 接龙 周六亲子运动会 限2人 截止周五18:00
6-202-李四: +1
7-303-王五: 接龙 7-303
6-202-李四: +1
8-404-赵六: +1
6-202-李四: 退出接龙
9-1-909-钱七: 结束接龙
9-1-909-钱七: 接龙 篮球赛 限0人
9-1-909-钱七: 接龙 篮球赛 截止13月40日
访客: +1
5-101-张三: @助手 垃圾几点扔
5-101-张三: 结束接龙
6-202-李四: +1
6-202-李四: @助手 +1
""")
    assert "【接龙 #1】周六亲子运动会" in out
    assert "6-202 已在名单第 1 位，不用重复接龙" in out
    assert "@8-404-赵六 8-404 由候补转为正式报名" in out
    last = out.split("【接龙 #1】")[-1]
    assert re.findall(r"^\d+\. (\S+)$", last, re.MULTILINE) == ["7-303", "8-404"]
    assert "@9-1-909-钱七 人数上限“0”不对" in out and "没有“13月40日”这一天" in out
    assert "@访客 请把群昵称改成" in out
    assert "@9-1-909-钱七 只有发起人" in out
    assert answerer.seen == ["垃圾几点扔"]                  # commands never reach the answerer
    # with no sign-up a bare "+1" is agreement, not a command: silence; asked, the bot says why
    assert out.count("群里现在没有进行中的接龙") == 1
    assert out.rstrip().endswith("@6-202-李四 群里现在没有进行中的接龙。发起：接龙 活动名称 限30人 截止周五18:00")
    with open_community(settings) as c:
        assert [e.unit for e in c.signups.entries(1)] == ["7-303", "8-404"]


def test_private_chat_survey_feedback_and_help(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with open_community(settings) as c:
        c.surveys.from_template("quarterly_satisfaction")
    out, answerer = _group(settings, """\
/dm 5-101-张三: 问卷
/dm 5-101-张三: 6
/dm 5-101-张三: 1
/dm 5-101-张三: 满意
/dm 5-101-张三: 2
/dm 5-101-张三: 2
/dm 5-101-张三: 3
/dm 5-101-张三: 1，7
/dm 5-101-张三: 希望地库照明再亮一些
/dm 5-101-张三: 问卷 1
5-101-张三: 匿名建议 群里说的
/dm 5-101-张三: 匿名建议 希望周末增加一次垃圾清运，电话13812345678
/dm 6-202-李四: 互助 提供 宠物 周末可以帮忙喂猫
/dm 7-303-王五: 互助 需要 宠物 下周出差想找人喂猫
""")
    assert "第 1/7 题（单选）" in out and "没有选项 6：请回复 1-5 之间的序号" in out
    assert "感谢填写《锦山壹号物业服务季度满意度调查》" in out
    assert "5-101 已经填过问卷" in out
    assert "@5-101-张三 匿名建议请私聊我发送" in out and "已匿名记录您的建议" in out
    assert "助手 → 7-303-王五（私聊）" in out and "· 6-202：周末可以帮忙喂猫" in out
    assert "助手 → 6-202-李四（私聊）: 互助匹配：7-303 需要帮助" in out
    assert answerer.seen == []
    with open_community(settings) as c:
        res = c.surveys.results(1)
        assert res.responses == 1 and res.questions[0].counts["非常满意"] == 1
        assert res.questions[-1].texts == ["希望地库照明再亮一些"]
        [fb] = c.feedback.list()
        assert "13812345678" not in fb.text and "群里说的" not in fb.text
    logged = "\n".join(r.getMessage() for r in caplog.records)      # ids and routes, never what was said
    assert "route=command" in logged                                  # the gateway's lines were captured
    assert "垃圾清运" not in logged and "13812345678" not in logged and "喂猫" not in logged


@pytest.mark.services          # serves the real webhook on a free port
def test_forty_residents_join_through_the_webhook_at_once(settings: Settings) -> None:
    answerer = Answerer()
    gateway = group_gateway(settings, answerer=answerer, persistent_strikes=False, notices=False)
    server = build_webhook_server(gateway, "127.0.0.1", 0, SECRET)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"

    def send(client: httpx.Client, sender: str, nickname: str, text: str) -> dict:
        data = json.dumps({"type": "message", "conversation_id": "g1", "is_group": True,
                           "sender": {"id": sender, "nickname": nickname}, "text": text},
                          ensure_ascii=False).encode()
        resp = client.post(url, content=data, headers={"Content-Type": "application/json",
                                                         **signed_headers(SECRET, data)})
        assert resp.status_code == 200, resp.text
        return resp.json()

    try:
        with httpx.Client(timeout=60) as client:
            started = send(client, "admin", "1-101-管理员", "接龙 周六亲子运动会 限30人 截止周五18:00")
            assert "【接龙 #1】" in json.dumps(started, ensure_ascii=False)
            units = [f"{b}-{r}" for b in range(1, 5) for r in (101, 102, 201, 202, 301, 302, 401, 402, 501, 502)]
            with ThreadPoolExecutor(40) as pool:
                list(pool.map(lambda u: send(client, f"wx-{u}", f"{u}-居民", "+1"), units))
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    with open_community(settings) as c:
        entries = c.signups.entries(1)
    assert Counter(e.status for e in entries) == {"in": 30, "waiting": 10}
    assert sorted(e.unit for e in entries) == sorted(units)
    assert answerer.seen == []


_COMMANDS = ["接龙 ", "+1 ", "退出接龙 ", "问卷 ", "匿名建议 ", "互助 提供 ", "互助 需要 ", "取消互助 ", "接龙 周六 限", "截止"]


def test_random_text_after_a_command_word_gets_a_reply_or_nothing(tmp_path: Path) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from assistant.channels.base import IncomingMessage
    from assistant.community.chat import CommunityCommands
    from assistant.community.service import open_community as open_at

    c = open_at(f"sqlite:///{tmp_path}/c.db", key_file=tmp_path / "k")
    commands = CommunityCommands(c)
    c.signups.start("g", "读书会 限2人", created_by="x")

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.sampled_from(_COMMANDS), st.text(max_size=60), st.booleans())
    def check(word: str, tail: str, group: bool) -> None:
        msg = IncomingMessage("fuzz", "g" if group else "dm:x", group, "5-101-张三", "5-101-张三", word + tail, True)
        out = commands(msg, word + tail)
        assert out is None or (isinstance(out, list) and all(m.text for m in out))

    try:
        check()
    finally:
        c.close()


@pytest.mark.parametrize("text", ["取消互助 99999999999999999999999", "问卷 99999999999999999999999"])
def test_huge_numbers_are_not_found_not_a_crash(tmp_path: Path, text: str) -> None:
    from assistant.channels.base import IncomingMessage
    from assistant.community.chat import CommunityCommands
    from assistant.community.service import open_community as open_at

    with open_at(f"sqlite:///{tmp_path}/c.db", key_file=tmp_path / "k") as c:
        msg = IncomingMessage("t", "dm:x", False, "5-101-张三", "5-101-张三", text, True)
        [reply] = CommunityCommands(c)(msg, text) or []
        assert "99999999999999999999999" in reply.text and reply.text.startswith("没有")
