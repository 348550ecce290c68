"""The production path, for real: Rasa server + action server on loopback, through the REST channel."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest

from assistant.dialogue import replies
from assistant.channels.client import Assistant, RasaClient
from assistant.settings import Settings
from assistant.dialogue.engine import ROUTES
from assistant.devtools.evaluate import load_cases, run
from assistant.runtime.services import Services

from .conftest import DATA, ROOT

pytestmark = pytest.mark.services


@pytest.fixture
def bot(served: tuple[Settings, Services]):  # noqa: ANN201
    b = Assistant(RasaClient(served[0].rasa_url))
    yield b
    b.close()


def cli(settings: Settings, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "assistant", "--rasa-port", str(settings.rasa_port), "--action-port",
           str(settings.action_port), *args]
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, cwd=ROOT, timeout=300, check=False)


def test_ask_json_answers_with_a_cited_source(served: tuple[Settings, Services]) -> None:
    proc = cli(served[0], "ask", "--json", "车位怎么租？")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert set(out) == {"route", "intent", "confidence", "topic", "replies", "sources", "ticket_id", "answer_confidence"}
    assert out["answer_confidence"] is None or 0 <= out["answer_confidence"] <= 1
    assert out["route"] == "answer" and out["topic"] == "parking" and out["intent"] == "faq_parking"
    assert 0 < out["confidence"] <= 1 and out["ticket_id"] is None
    src = out["sources"][0]
    assert src["topic"] == "parking" and src["id"] and src["title"] and isinstance(src["score"], float)
    assert src["title"] in out["replies"][0] and "来源" in out["replies"][0]


def test_ask_plain_prints_the_reply(served: tuple[Settings, Services]) -> None:
    proc = cli(served[0], "ask", "电池是什么垃圾")
    assert proc.returncode == 0, proc.stderr
    assert "有害垃圾" in proc.stdout and "来源" in proc.stdout


def ask_json(settings: Settings, sender: str, text: str) -> dict:
    proc = cli(settings, "ask", "--json", "--sender", sender, text)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_a_complaint_goes_through_the_form_into_a_ticket_admins_can_see(served: tuple[Settings, Services]) -> None:
    settings, sender = served[0], "resident-complaint-1"
    start = ask_json(settings, sender, "我是5栋101的，楼上装修太吵了，天天电钻响")
    assert start["route"] == "ticket" and start["ticket_id"] is None     # the form started
    assert "对方" in start["replies"][-1]                                 # category and unit were understood
    assert "紧急" in ask_json(settings, sender, "不清楚")["replies"][-1]
    confirm = ask_json(settings, sender, "一般")
    assert "请确认工单信息" in confirm["replies"][-1] and "5-101" in confirm["replies"][-1]
    done = ask_json(settings, sender, "是")
    assert done["route"] == "ticket" and done["ticket_id"] and done["ticket_id"] in done["replies"][0]
    show = cli(settings, "tickets", "show", "--json", done["ticket_id"])
    assert show.returncode == 0, show.stderr
    text = json.dumps(json.loads(show.stdout), ensure_ascii=False)
    assert "5-101" in text and "noise" in text and "电钻" in text
    # The same resident again about the same matter: appended to the open ticket at once, not duplicated.
    again = ask_json(settings, sender, "楼上还是很吵，晚上十点了还在装修")
    assert again["ticket_id"] == done["ticket_id"] and any("补充" in r for r in again["replies"])


def test_a_complaint_can_be_cancelled(served: tuple[Settings, Services]) -> None:
    settings, sender = served[0], "resident-complaint-2"
    assert ask_json(settings, sender, "我要投诉")["route"] == "ticket"
    out = ask_json(settings, sender, "算了")
    assert out["route"] == "ticket" and out["ticket_id"] is None and "已取消" in out["replies"][0]
    listed = json.loads(cli(settings, "tickets", "list", "--json").stdout)
    assert not [t for t in listed if t["reporter_id"] == sender]
    assert ask_json(settings, sender, "垃圾几点扔")["route"] == "answer"     # back to normal


def test_handoff_keeps_the_bot_quiet_until_released(served: tuple[Settings, Services]) -> None:
    sender = "resident-handoff-1"
    first = json.loads(cli(served[0], "ask", "--json", "--sender", sender, "我要找人工客服").stdout)
    assert first["route"] == "handoff" and "管理员" in first["replies"][0]
    quiet = json.loads(cli(served[0], "ask", "--json", "--sender", sender, "垃圾几点扔").stdout)
    assert quiet["route"] == "handoff" and quiet["replies"] == []
    listed = json.loads(cli(served[0], "handoff", "list", "--json").stdout)["handoffs"]
    mine = [h for h in listed if h["conversation_id"] == sender]
    assert len(mine) == 1 and mine[0]["state"] == "waiting"
    released = cli(served[0], "handoff", "release", mine[0]["id"], "--admin", "wang")
    assert released.returncode == 0, released.stderr
    back = json.loads(cli(served[0], "ask", "--json", "--sender", sender, "垃圾几点扔").stdout)
    assert back["route"] == "answer" and back["topic"] == "garbage"


def test_chat_command_talks_in_one_conversation(served: tuple[Settings, Services]) -> None:
    proc = cli(served[0], "chat", stdin="垃圾几点扔\n今天天气怎么样\n股票会涨吗\n好的\n/quit\n")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "来源" in out and replies.MISSED_TWICE in out and "值班管理员" in out   # two misses: a person takes over


def test_group_chat_moderates_and_answers_mentions(served: tuple[Settings, Services]) -> None:
    lines = ["5-101-张三: 大家好", "5-101-张三: @助手 垃圾几点扔", "6-202-李四: 加我微信 vx123456 低息贷款秒批",
             "/join 小王", "/quit"]
    proc = cli(served[0], "chat", "--group", stdin="\n".join(lines) + "\n")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "来源" in out                      # the mention was answered from the knowledge base
    assert "[管理]" in out                    # the ad got an admin action
    assert "楼号-房号-姓名" in out or "5-101" in out  # the newcomer was asked for the nickname format


def test_jsonl_answers_each_line_and_reports_bad_lines(served: tuple[Settings, Services]) -> None:
    lines = [
        json.dumps({"text": "厨余垃圾几点扔"}, ensure_ascii=False),
        "{not json",
        json.dumps({"sender": "x"}),
        "",
        json.dumps({"text": "今天天气怎么样", "sender": "same"}, ensure_ascii=False),
        json.dumps({"text": "讲个笑话吧", "sender": "same"}, ensure_ascii=False),
        json.dumps({"text": "是的", "sender": "same"}, ensure_ascii=False),
        json.dumps([1, 2]),
    ]
    proc = cli(served[0], "ask", "--jsonl", stdin="\n".join(lines) + "\n")
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(out) == 8                       # one object per line, the blank one included
    assert out[0]["route"] == "answer" and out[0]["topic"] == "garbage"
    assert "error" in out[1] and out[1]["line"] == 2
    assert "error" in out[2] and "text" in out[2]["error"]
    assert out[3] == {"error": "line 4: empty line", "line": 4}
    assert out[4]["route"] == "fallback"
    assert out[5]["route"] == "handoff" and replies.MISSED_TWICE in out[5]["replies"]  # the second miss
    assert out[6]["route"] == "handoff" and out[6]["replies"] == []  # the bot stays quiet
    assert "error" in out[7]


@pytest.mark.parametrize("text", [
    "", "   \t ", "x" * 5000, "车位" * 2500, "👍😊🎉", "\x00\x07车位\x1b怎么租\x7f", "请问 EV charging pile 在哪里？",
    "停車場幾點關門", "ＥＶ充电桩在哪儿？", "😡😡楼上装修太吵了😡",
])
def test_bad_input_always_gets_a_sensible_reply(bot: Assistant, text: str) -> None:
    reply = bot.ask(text)
    assert reply.route in ROUTES
    assert reply.replies and all(r.strip() for r in reply.replies)
    assert replies.SERVICE_DOWN not in reply.replies


def test_traditional_and_full_width_are_understood(bot: Assistant) -> None:
    assert bot.ask("停車位怎麼租").topic == "parking"
    assert bot.ask("ＥＶ充電樁在哪裡").route == "answer"


def test_own_eval_set_meets_the_bars(bot: Assistant) -> None:
    metrics = run(load_cases(DATA / "eval_cases.yml"), bot.ask).metrics()
    print(json.dumps({k: metrics[k] for k in ("cases", "route_accuracy", "topic_accuracy",
                                              "out_of_scope_answered", "latency_ms")}))
    assert metrics["route_accuracy"] >= 0.95, metrics["errors"]
    assert metrics["topic_accuracy"] >= 0.95, metrics["errors"]
    assert metrics["out_of_scope_answered"] <= 0.05


def test_eval_command_prints_machine_readable_metrics(served: tuple[Settings, Services], tmp_path) -> None:  # noqa: ANN001
    cases = tmp_path / "cases.yml"
    cases.write_text("cases:\n- {text: 物业费怎么交, route: answer, topic: property}\n"
                     "- {text: 找人工, route: handoff}\n- {text: 您好, route: chitchat}\n", encoding="utf-8")
    proc = cli(served[0], "eval", "--json", str(cases))
    assert proc.returncode == 0, proc.stderr
    m = json.loads(proc.stdout)
    assert m["cases"] == 3 and set(m["latency_ms"]) == {"p50", "p95"}
    assert {"route_accuracy", "topic_accuracy", "per_route", "confusions"} <= set(m)
    bad = cli(served[0], "eval", str(tmp_path / "missing.yml"))
    assert bad.returncode == 2 and "missing.yml" in bad.stderr


def test_action_server_down_gives_a_polite_reply(served: tuple[Settings, Services], bot: Assistant,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    settings, svc = served
    svc.stop(only="actions")
    try:
        with caplog.at_level(logging.ERROR):
            reply = bot.ask("车位怎么租")
        assert reply.route == "fallback" and reply.replies == [replies.SERVICE_DOWN]
        assert "action server" in caplog.text
    finally:
        svc.start()
    assert bot.ask("车位怎么租").route == "answer"


def test_resolving_a_ticket_asks_a_rest_resident_for_a_score_with_the_next_reply(
        served: tuple[Settings, Services]) -> None:
    """REST conversations cannot be pushed to: the CSAT question waits in the outbox and comes with
    the resident's next reply; the score is stored on the ticket."""
    from assistant.runtime.app import open_desk

    settings, sender = served[0], "resident-csat-rest"
    ask_json(settings, sender, "我住7栋702，小区垃圾站好几天没人清理，臭死了")
    out = ask_json(settings, sender, "一般")
    while out["ticket_id"] is None and "请确认工单信息" not in out["replies"][-1]:
        out = ask_json(settings, sender, "不清楚")
    ticket_id = ask_json(settings, sender, "是")["ticket_id"]
    assert ticket_id
    desk = open_desk(settings)
    try:
        desk.tickets.assign(ticket_id, "wang", actor="wang")
        _, texts = desk.resolve(ticket_id, actor="wang", comment="已清运")
        assert texts == []                                   # kept in the outbox, not handed back
        nxt = ask_json(settings, sender, "垃圾几点扔")
        assert ticket_id in nxt["replies"][0] and "1-5" in nxt["replies"][0]
        assert any("来源" in r for r in nxt["replies"][1:])     # and the question is still answered
        thanks = ask_json(settings, sender, "4分")                # the score, after the question came
        assert "4 分" in thanks["replies"][0]
        assert desk.tickets.get(ticket_id).satisfaction == 4
    finally:
        desk.tickets.dispose()
        desk.handoffs.dispose()
