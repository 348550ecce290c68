"""Rules: cron fields, Chinese working days (holidays, make-up days), next-working-day moves, bad input."""

from __future__ import annotations

from datetime import datetime

import pytest

from assistant.schedule import rules
from assistant.schedule.errors import ScheduleInputError
from assistant.schedule.rules import Rule, is_workday, next_workday

from ..pg import SHANGHAI


def t(m: int, d: int, h: int = 0, mi: int = 0, y: int = 2026) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=SHANGHAI)


def local(xs: list[datetime]) -> list[str]:
    return [x.astimezone(SHANGHAI).strftime("%m-%d %H:%M") for x in xs]


def test_calendar_knows_holidays_and_make_up_days() -> None:
    assert not is_workday(t(10, 2).date()) and not is_workday(t(2, 16).date())     # 国庆, 春节 on weekdays
    assert is_workday(t(9, 20).date()) and is_workday(t(10, 10).date())            # make-up Sun and Sat
    assert next_workday(t(2, 15).date()) == t(2, 24).date()


def test_workday_only_skips_holidays_and_keeps_make_up_days() -> None:
    daily = Rule.parse("0 9 * * *", "workday")
    got = local(daily.due_between(t(9, 19), t(9, 28)))
    assert got == ["09-20 09:00", "09-21 09:00", "09-22 09:00", "09-23 09:00", "09-24 09:00"]


def test_next_workday_moves_and_merges_collisions() -> None:
    monday = Rule.parse("0 9 * * 1", "next_workday")
    # Spring Festival 2026: Mondays 02-16 and 02-23 are both holidays; both move to Tuesday 02-24, posted once
    assert local(monday.due_between(t(2, 10), t(3, 3))) == ["02-24 09:00", "03-02 09:00"]
    # a window that starts after the nominal Monday still gets the moved post
    assert local(monday.due_between(t(2, 24, 8), t(2, 24, 10))) == ["02-24 09:00"]


def test_one_off_follows_the_days_policy() -> None:
    once = Rule.once("2026-10-03 10:00", "next_workday")
    assert local(once.due_between(t(9, 1), t(12, 1))) == ["10-08 10:00"]
    assert Rule.once("2026-10-03 10:00", "workday").due_between(t(9, 1), t(12, 1)) == []


@pytest.mark.parametrize(("cron", "words"), [
    ("0 18 * *", "a rule has 5"), ("0 18 * * 5 2026", "a rule has 5"), ("* 18 * * 5", "more than once an hour"),
    ("*/10 * * * *", "more than once an hour"), ("0 24 * * *", "not a valid rule"), ("0 9 * * MON", "only digits"),
    ("0 9 31 2 *", "never posts"),
])
def test_bad_rules_are_rejected_with_the_reason(cron: str, words: str, tmp_path: object) -> None:
    from assistant.schedule.store import open_schedule

    with pytest.raises(ScheduleInputError) as err, open_schedule(f"sqlite:///{tmp_path}/s.db") as store:
        store.add_post("x", Rule.parse(cron), "text", "hi")
    assert words in str(err.value) and "[cron]" in str(err.value)


def test_bad_days_time_zone_and_time() -> None:
    with pytest.raises(ScheduleInputError, match=r"\[days\].*workday"):
        Rule.parse("0 9 * * 1", "weekdays")
    with pytest.raises(ScheduleInputError, match=r"\[tz\].*Mars/Olympus"):
        Rule.parse("0 9 * * 1", tz="Mars/Olympus")
    with pytest.raises(ScheduleInputError, match=r"\[at\].*2026-02-30"):
        Rule.once("2026-02-30 10:00")


def test_a_year_without_calendar_data_falls_back_to_weekdays_and_the_admins_hear_of_it(tmp_path: object) -> None:
    from assistant.schedule.runner import run_due
    from assistant.schedule.store import open_schedule

    assert is_workday(datetime(2099, 1, 2).date()) is True       # a Friday
    assert is_workday(datetime(2099, 1, 3).date()) is False      # a Saturday
    assert rules.has_data(2026) and not rules.has_data(2099)
    events: list[dict] = []

    class Admins:
        def notify(self, event: dict) -> None:
            events.append(event)

    gap = next(y for y in range(2026, 2100) if not rules.has_data(y))      # the first year without data
    with open_schedule(f"sqlite:///{tmp_path}/s.db") as store:
        run_due(store, {}, Admins(), datetime(gap - 1, 10, 1, tzinfo=SHANGHAI))   # too early to say
        for day in (1, 2):                                                     # 45 days ahead, once
            run_due(store, {}, Admins(), datetime(gap - 1, 11, 20 + day, tzinfo=SHANGHAI))
    assert [(e["event"], e["year"]) for e in events] == [("schedule.calendar_gap", gap)]
