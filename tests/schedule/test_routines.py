"""The group routines through the terminal group chat (the real adapter and gateway): admins'
notice commands, discussion-hours reminders once per person and day (kept across a restart),
urgent matters never reminded, scheduled posts delivered before the prompt."""

from __future__ import annotations

import io
from datetime import datetime, timedelta

import pytest

from assistant.channels.base import Reply
from assistant.channels.gateway import Gateway
from assistant.channels.terminal import run_terminal
from assistant.moderation import Moderator, load_config
from assistant.schedule.errors import ScheduleInputError
from assistant.schedule.routines import DiscussionHours, GroupRoutines, is_urgent
from assistant.schedule.store import open_schedule

from ..pg import SHANGHAI, FakeClock

ADMIN = "物业-王经理"


class Answerer:
    def __init__(self) -> None:
        self.asked: list[str] = []

    def __call__(self, text: str, sender: str) -> Reply:
        self.asked.append(text)
        return Reply("answer", [f"答：{text}"])


def chat(url: str, clock: FakeClock, lines: list[str], answerer: Answerer | None = None) -> list[str]:
    store = open_schedule(url, clock=clock)
    routines = GroupRoutines(store, admins={ADMIN}, hours=DiscussionHours.parse("19:00-21:00"), clock=clock)
    gateway = Gateway(Moderator(load_config()), answerer or Answerer(), routines=routines)
    out = io.StringIO()
    run_terminal(gateway, io.StringIO("\n".join(lines) + "\n"), out)
    store.close()
    return [line for line in out.getvalue().splitlines() if not line.startswith(("模拟业主群", "  "))]


def test_admin_publishes_notices_and_rumours_from_the_chat(sqlite_url: str) -> None:
    clock = FakeClock(datetime(2026, 12, 1, 20, 0, tzinfo=SHANGHAI))
    answerer = Answerer()
    out = chat(sqlite_url, clock, [
        f"{ADMIN}: @助手 #停水# 12月5日 9:00-12:00 5栋停水检修 有效至 2026-12-05 12:00",
        f"{ADMIN}: #停暖# 明天停暖",
        f"{ADMIN}: #辟谣# 谣言：小区要拆迁 澄清：没有任何拆迁计划",
        f"{ADMIN}: #辟谣# 谣言：小区要拆迁 澄清：没有任何拆迁计划 来源：街道办 11-30 公告",
        f"{ADMIN}: #停水# 有效至 2026-02-30",
        "5-101-张三: #停水# 我家也停水了吗",
        f"{ADMIN}: 通知列表",
    ], answerer)
    private = [line for line in out if f"→ {ADMIN}（私聊）" in line]
    assert "已发布通知 1（#停水# 12月5日 9:00-12:00 5栋停水检修），有效至 2026-12-05 12:00" in private[0]
    assert "unknown tag #停暖#" in private[1] and "#物业通知#" in private[1]
    assert "缺少 来源" in private[2]
    assert "已发布通知 2" in private[3]
    assert "[valid_until]" in private[4] and "2026-02-30" in private[4]
    listing = out[out.index(private[5]):]
    assert "生效中的通知" in private[5] and listing[1].startswith("2. #辟谣#") and listing[2].startswith("1. #停水#")
    assert answerer.asked == []                 # commands are not questions; residents' #tags# are not commands
    with open_schedule(sqlite_url) as store:
        kinds = sorted((n.kind, n.rumour, n.source) for n in store.notices())
    assert kinds == [("notice", "", ""), ("rumour", "小区要拆迁", "街道办 11-30 公告")]


def test_quiet_hours_remind_once_per_person_and_day_across_a_restart(sqlite_url: str) -> None:
    clock = FakeClock(datetime(2026, 12, 1, 22, 0, tzinfo=SHANGHAI))
    answerer = Answerer()
    out = chat(sqlite_url, clock, [
        "5-101-张三: 今晚月亮真好看",
        "5-101-张三: 大家吃了吗",
        "6-202-李四: 楼道里冒烟了，好像着火了",
        "6-202-李四: @助手 家里漏水了怎么报修",
        f"{ADMIN}: 大家早点休息",
    ], answerer)
    reminders = [line for line in out if "讨论时段为 19:00-21:00" in line]
    assert reminders == [f"助手: @5-101-张三 {reminders[0].split(' ', 2)[2]}"]
    assert answerer.asked == ["家里漏水了怎么报修"]            # nothing held back
    # a restart the same night: no second reminder; the next evening outside hours: one again
    clock.advance(minutes=30)
    assert not any("讨论时段" in line for line in chat(sqlite_url, clock, ["5-101-张三: 还有人吗"]))
    clock.advance(days=1)
    assert sum("讨论时段" in line for line in chat(sqlite_url, clock, ["5-101-张三: 还有人吗"])) == 1
    clock.now = datetime(2026, 12, 3, 19, 30, tzinfo=SHANGHAI)   # within the hours: chat freely
    assert not any("讨论时段" in line for line in chat(sqlite_url, clock, ["7-303-王五: 今晚吃什么"]))


def test_scheduled_posts_are_delivered_in_the_terminal_group_once(sqlite_url: str) -> None:
    clock = FakeClock(datetime(2026, 12, 1, 20, 0, tzinfo=SHANGHAI))
    with open_schedule(sqlite_url, clock=clock) as store:
        store.queue_group("terminal", "terminal-group", "【物业通知】本周电梯年检", "post:1")
        store.queue_group("telegram", "-100", "别的平台", "post:1")
    first = chat(sqlite_url, clock, ["5-101-张三: 你好"])
    assert "助手: 【物业通知】本周电梯年检" in first and not any("别的平台" in line for line in first)
    assert not any("电梯年检" in line for line in chat(sqlite_url, clock, ["5-101-张三: 你好"]))


@pytest.mark.parametrize("text", ["电梯坏了困人", "楼上漏水", "有人高空抛物", "我要投诉保安", "急！孩子找不到了"])
def test_urgent_matters(text: str) -> None:
    assert is_urgent(text)


@pytest.mark.parametrize("text", ["今晚月亮真好看", "大家吃了吗", "哈哈哈"])
def test_chatter_is_not_urgent(text: str) -> None:
    assert not is_urgent(text)


@pytest.mark.parametrize("value", ["19:00", "25:00-21:00", "19:00-19:00", "7pm-9pm", ""])
def test_bad_discussion_hours(value: str) -> None:
    with pytest.raises(ScheduleInputError, match="discussion_hours"):
        DiscussionHours.parse(value)


def test_hours_across_midnight() -> None:
    h = DiscussionHours.parse("22:00-06:30")
    assert h.open_at(datetime(2026, 1, 1, 23).time()) and h.open_at(datetime(2026, 1, 1, 6).time())
    assert not h.open_at((datetime(2026, 1, 1, 6, 30) + timedelta(minutes=1)).time())
