"""The bar: weekly posts over a simulated month with holidays (中秋 9-25, 国庆 10-1..7) and make-up
working days (Sun 9-20, Sat 10-10), the scheduler process restarted in the middle after a long
downtime: every post exactly once, the runs missed during the downtime reported to the admins
once and never posted late."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from assistant.channels.base import OutgoingMessage
from assistant.desk.admin_notify import ChatNotifier
from assistant.schedule.rules import Rule
from assistant.schedule.runner import GroupOutboxPoster, NotifierPoster, run_due
from assistant.schedule.store import open_schedule

from ..pg import SHANGHAI, FakeClock

GROUP = ("terminal", "terminal-group")


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


def _delivered(store, sent: list[tuple[str, str]]) -> None:
    sent.extend(store.claim_group("terminal"))


def test_a_month_with_holidays_makeup_days_and_a_restart(schedule_url: str) -> None:
    clock = FakeClock(at(9, 14, 8))
    admin_chat: list[OutgoingMessage] = []
    notifier = ChatNotifier(admin_chat.append, "admins")
    store = open_schedule(schedule_url, clock=clock)
    weekly = store.add_post("周五物业通知", Rule.parse("0 18 * * 5", "workday"), "property_weekly", "电梯年检")
    topic = store.add_post("周一话题", Rule.parse("0 9 * * 1", "next_workday"), "weekly_topic", "垃圾分类小妙招")
    daily = store.add_post("工作日早安", Rule.parse("30 8 * * *", "workday"), "text", "今天是{date}，物业工作日")
    sent: list[tuple[str, str]] = []

    def posters(s):
        return {"group": GroupOutboxPoster(s, [GROUP]), "admins": NotifierPoster(notifier)}

    def run_until(s, end: datetime, **kw: object) -> None:
        while clock.now < end:
            clock.advance(minutes=60)
            run_due(s, posters(s), notifier, clock.now, grace=timedelta(minutes=61))
            _delivered(s, sent)

    run_until(store, at(9, 30, 12))
    store.close()                                      # the process stops; down until Friday 10-09 20:00
    clock.now = at(10, 9, 20)
    store = open_schedule(schedule_url, clock=clock)   # a new process on the same database
    run_until(store, at(10, 17, 0))
    # a second process sweeping the same minutes changes nothing
    other = open_schedule(schedule_url, clock=clock)
    run_due(other, posters(other), notifier, clock.now)
    other.close()

    posted = {p.job: sorted(r.due_at.astimezone(SHANGHAI) for r in store.runs(p.job) if r.status == "posted")
              for p in (weekly, topic, daily)}
    missed = {p.job: sorted(r.due_at.astimezone(SHANGHAI) for r in store.runs(p.job) if r.status == "missed")
              for p in (weekly, topic, daily)}
    # Fridays: 9-25 (中秋) and 10-02 (国庆) are holidays; 10-09 fell in the downtime
    assert posted[weekly.job] == [at(9, 18, 18), at(10, 16, 18)]
    assert missed[weekly.job] == [at(10, 9, 18)]
    # Mondays: 10-05 (国庆) moves to the next working day, Thursday 10-08, which fell in the downtime
    assert posted[topic.job] == [at(9, 14, 9), at(9, 21, 9), at(9, 28, 9), at(10, 12, 9)]
    assert missed[topic.job] == [at(10, 8, 9)]
    # working days: make-up Sunday 9-20 and Saturday 10-10 included, 9-25 and 10-01..07 not
    days = [d.date().isoformat() for d in posted[daily.job]]
    assert "2026-09-20" in days and "2026-10-10" in days
    assert "2026-09-25" not in days and not any(d.startswith("2026-10-0") and d < "2026-10-08" for d in days)
    assert len(days) == 19 and all(d.hour == 8 and d.minute == 30 for d in posted[daily.job])
    assert [d.date().isoformat() for d in missed[daily.job]] == ["2026-10-08", "2026-10-09"]

    # each post reached the group exactly once, with its rendered text
    texts = Counter(text for _, text in sent)
    assert all(n == 1 for n in texts.values()), texts.most_common(3)
    assert len(sent) == 2 + 4 + 19
    assert sum("【物业通知】" in t and "电梯年检" in t for t in texts) == 2
    assert "今天是10月10日 周六，物业工作日" in texts
    # the missed runs were reported to the admins once each, and nothing else was
    reports = [m.text for m in admin_chat]
    assert len(reports) == 4 and all("未按时发布" in t for t in reports), reports
    assert sum("周一话题" in t and "10-08 09:00" in t for t in reports) == 1
    store.close()
