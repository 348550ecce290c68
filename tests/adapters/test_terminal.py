from __future__ import annotations

import io
from pathlib import Path

from assistant.channels import IncomingMessage, MemberJoined, TerminalAdapter, run_terminal
from assistant.channels.gateway import Gateway
from assistant.desk.notices import open_outbox

from .conftest import FakeAnswerer


def test_speakers_carry_over_and_times_are_not_speakers() -> None:
    t = TerminalAdapter()
    first = t.parse("5-101-张三：@bot 车位怎么租")
    assert isinstance(first, IncomingMessage) and first.sender_id == "5-101-张三" and first.is_tome()
    again = t.parse("垃圾8:30扔吗")
    assert again.sender_id == "5-101-张三" and again.text == "垃圾8:30扔吗"
    anon = TerminalAdapter().parse("@助手 你好")
    assert anon.sender_id == "访客" and anon.is_tome()
    assert t.parse("6-202-李四: 收到").message_id != first.message_id


def test_json_lines_replay_webhook_payloads() -> None:
    event = TerminalAdapter().parse('{"type": "member_joined", "conversation_id": "g9", "sender": {"id": "u9"}}')
    assert isinstance(event, MemberJoined) and event.conversation_id == "g9" and event.platform == "terminal"


def test_run_terminal_session(gateway: Gateway, answerer: FakeAnswerer) -> None:
    lines = "\n".join([
        "5-101-张三: @助手 垃圾几点扔",
        "今天电梯又坏了",
        "6-202-李四: 加V：abc12345 领福利",
        "/join 王五",
        "/dm 5-101-张三: 车位怎么租",
        "/nonsense",
        "",
        "/help",
        "/quit",
        "5-101-张三: @助手 不会被读到",
    ])
    out = io.StringIO()
    handled = run_terminal(gateway, io.StringIO(lines), out)
    text = out.getvalue()
    assert handled == 5
    assert answerer.texts == ["垃圾几点扔", "车位怎么租"]
    assert "助手: @5-101-张三 答：垃圾几点扔" in text
    assert "助手 → 6-202-李四（私聊）" in text and "[管理] 撤回消息 6-202-李四（ad.wechat）" in text
    assert "欢迎加入" in text and "楼号-房号-姓名" in text
    assert "助手 → 5-101-张三（私聊）: 答：车位怎么租" in text
    assert "格式错误 [command]" in text
    assert "不会被读到" not in text


def test_run_terminal_stops_at_eof(gateway: Gateway) -> None:
    assert run_terminal(gateway, io.StringIO(""), io.StringIO()) == 0


def test_notices_are_printed_before_the_next_prompt(gateway: Gateway, tmp_path: Path) -> None:
    gateway.outbox = outbox = open_outbox(f"sqlite:///{tmp_path / 'tickets.db'}")
    outbox.add("terminal:terminal-group:5-101-张三", ["请为本次处理打分 1-5"], "csat", "T-20261123-0001")
    outbox.add("terminal:6-202-李四", ["您的转人工请求已转为工单"], "handoff_timeout")
    outbox.add("telegram:42", ["not for the terminal"])
    out = io.StringIO()
    run_terminal(gateway, io.StringIO("5-101-张三: 今天电梯又坏了\n/quit\n"), out, prompt="> ")
    text = out.getvalue()
    first = text.index("> ")
    assert text.index("助手: @5-101-张三 请为本次处理打分 1-5") < first
    assert text.index("助手 → 6-202-李四（私聊）: 您的转人工请求已转为工单") < first
    assert text.count("请为本次处理打分") == 1
    assert [n.text for n in outbox.pending()] == ["not for the terminal"]
    outbox.dispose()
