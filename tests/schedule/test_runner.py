"""The runner: claims, late runs, failures, two processes at once, one-offs, event reminders, the thread."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest

from assistant.schedule.rules import Rule
from assistant.schedule.runner import GroupOutboxPoster, ScheduleRunner, run_due
from assistant.schedule.store import open_schedule

from ..pg import SHANGHAI, FakeClock


class Events:
    """The admins' notifier as the runner sees it: collects the events."""

    def __init__(self) -> None:
        self.events: list[dict] = []

    def notify(self, event: dict) -> None:
        if event["event"] != "schedule.calendar_gap":     # December 2026: chinese-calendar has no 2027 yet
            self.events.append(event)


class Broken:
    def post(self, text: str, job: str) -> None:
        raise ConnectionError("adapter down")


def t(m: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(2026, m, d, h, mi, tzinfo=SHANGHAI)


def test_two_processes_racing_post_each_due_time_once(schedule_url: str) -> None:
    clock = FakeClock(t(12, 1, 8))
    stores = [open_schedule(schedule_url, clock=clock) for _ in range(4)]
    stores[0].add_post("早安", Rule.parse("0 9 * * *"), "text", "早上好")
    clock.now = t(12, 1, 9, 5)
    barrier = threading.Barrier(4)

    def go(s) -> None:
        barrier.wait()
        run_due(s, {"group": GroupOutboxPoster(s, [("terminal", "g")])}, None, clock.now)

    threads = [threading.Thread(target=go, args=(s,)) for s in stores]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    got = stores[0].claim_group("terminal") + stores[1].claim_group("terminal")
    assert got == [("g", "早上好")]
    for s in stores:
        s.close()


def test_failed_post_is_reported_and_not_retried(sqlite_url: str) -> None:
    clock = FakeClock(t(12, 1, 8))
    events = Events()
    with open_schedule(sqlite_url, clock=clock) as store:
        post = store.add_post("早安", Rule.parse("0 9 * * *"), "text", "早上好")
        clock.now = t(12, 1, 9, 1)
        report = run_due(store, {"group": Broken()}, events, clock.now)
        assert report.failed and report.errors == [f"post {post.job}: ConnectionError"]
        assert [e["event"] for e in events.events] == ["schedule.failed"]
        assert run_due(store, {"group": Broken()}, events, clock.now).empty
        assert [r.status for r in store.runs(post.job)] == ["failed"]


def test_one_off_posts_once_then_stops(sqlite_url: str) -> None:
    clock = FakeClock(t(12, 1, 8))
    with open_schedule(sqlite_url, clock=clock) as store:
        post = store.add_post("平安夜", Rule.once("2026-12-24 20:00"), "text", "平安夜快乐")
        poster = GroupOutboxPoster(store, [("terminal", "g")])
        clock.now = t(12, 24, 20, 10)
        assert len(run_due(store, {"group": poster}, None, clock.now).posted) == 1
        assert not store.post(post.id).active
        clock.now = t(12, 25, 20, 10)
        assert run_due(store, {"group": poster}, None, clock.now).empty
        with pytest.raises(Exception, match="past"):
            store.add_post("迟到", Rule.once("2026-12-01 07:00"), "text", "x")


def test_festival_template_names_the_holiday(sqlite_url: str) -> None:
    clock = FakeClock(t(9, 20, 8))
    with open_schedule(sqlite_url, clock=clock) as store:
        store.add_post("国庆祝福", Rule.once("2026-10-01 09:00"), "festival", "")
        clock.now = t(10, 1, 9, 1)
        run_due(store, {"group": GroupOutboxPoster(store, [("terminal", "g")])}, None, clock.now)
        (_, text), = store.claim_group("terminal")
        assert "国庆节快乐" in text


def test_event_reminders_before_the_start_once_and_missed_ones_reported(sqlite_url: str) -> None:
    clock = FakeClock(t(12, 1, 8))
    events = Events()
    with open_schedule(sqlite_url, clock=clock) as store:
        poster = {"group": GroupOutboxPoster(store, [("terminal", "g")])}
        e = store.add_event("亲子运动会", "中心广场", t(12, 12, 9), t(12, 12, 11), signup_id="J7", remind=(1440, 60))
        for now in (t(12, 11, 9, 5), t(12, 11, 9, 10)):           # the day before: one reminder
            run_due(store, poster, events, now)
        posts = store.claim_group("terminal")
        assert len(posts) == 1 and "亲子运动会 1 天后开始" in posts[0][1] and "接龙 J7" in posts[0][1]
        run_due(store, poster, events, t(12, 12, 9, 30))         # down over the hour-before: reported, not posted
        assert store.claim_group("terminal") == []
        assert [x["event"] for x in events.events] == ["schedule.missed"]
        assert [r.status for r in store.runs(f"event:{e.id}:60")] == ["missed"]


def test_runner_thread_posts_and_stops(sqlite_url: str) -> None:
    start = datetime.now(SHANGHAI)
    clock = FakeClock(start - timedelta(hours=2))
    with open_schedule(sqlite_url, clock=clock) as store:
        store.add_post("每小时", Rule.parse(f"{(start - timedelta(minutes=1)).minute} * * * *"), "text", "整点")
        clock.now = start
        done = threading.Event()
        runner = ScheduleRunner(store, {"group": GroupOutboxPoster(store, [("terminal", "g")])}, every=0.05,
                                on_report=lambda r: done.set() if r.posted else None)
        with runner:
            assert done.wait(5)
        assert runner.runs >= 1 and [x for _, x in store.claim_group("terminal")] == ["整点"]
