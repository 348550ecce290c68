from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from assistant.errors import DataError
from assistant.desk.tickets.errors import SLAConfigError, TicketError
from assistant.desk.tickets.sla import EXAMPLES, load_calendar, load_sla

from .conftest import MONDAY_10, SHANGHAI, test_sla

H = timedelta(hours=1)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI)


def test_business_time_skips_lunch_nights_and_weekends() -> None:
    cal = test_sla().calendar            # Mon-Fri 09-12, 13-18
    assert cal.add(at(23, 10), 1 * H) == at(23, 11)
    assert cal.add(at(23, 11), 2 * H) == at(23, 14)           # lunch 12-13 skipped
    assert cal.add(at(23, 17), 2 * H) == at(24, 10)           # overnight
    assert cal.add(at(27, 17), 2 * H) == at(30, 10)           # Friday -> Monday
    assert cal.add(at(28, 20), 1 * H) == at(30, 10)           # opened on Saturday night
    assert cal.add(at(23, 7), 1 * H) == at(23, 10)            # before opening
    assert cal.between(at(23, 10), at(23, 14)) == 3 * H
    assert cal.between(at(27, 17), at(30, 10)) == 2 * H
    assert cal.between(at(23, 14), at(23, 10)) == timedelta(0)


def test_holidays_and_makeup_workdays(tmp_path: Path) -> None:
    (tmp_path / "cal.yml").write_text(
        "timezone: Asia/Shanghai\nweekdays: [mon, tue, wed, thu, fri]\nhours: ['09:00-18:00']\n"
        "holidays: [2026-11-24..2026-11-25]\nworkdays: [2026-11-29]\n", encoding="utf-8")
    cal = load_calendar(tmp_path / "cal.yml")
    assert not cal.is_workday(date(2026, 11, 24)) and cal.is_workday(date(2026, 11, 29))
    assert cal.add(at(23, 17), 2 * H) == at(26, 10)           # Tue/Wed holidays
    assert cal.add(at(28, 12), 1 * H) == at(29, 10)           # Sunday make-up day


def test_all_day_calendar(tmp_path: Path) -> None:
    (tmp_path / "cal.yml").write_text("weekdays: [1,2,3,4,5,6,7]\nhours: '00:00-24:00'\n", encoding="utf-8")
    cal = load_calendar(tmp_path / "cal.yml")
    assert cal.add(at(28, 23), 2 * H) == at(29, 1)


def test_pause_resume_pushes_due_back() -> None:
    sla = test_sla()
    due = at(23, 17)
    # paused at 10:00 with 6 business hours left; resumed next day 10:00 -> due 6 business hours later
    assert sla.resume(due, at(23, 10), at(24, 10)) == at(24, 17)
    assert sla.resume(due, at(23, 18), at(24, 10)) == due     # paused after it was already due


def test_priority_factor_and_categories() -> None:
    sla = test_sla()
    assert sla.target("noise").first_response == 2 * H
    assert sla.target("noise", "urgent").resolution == 2 * H
    assert sla.target("pets").resolution == 16 * H
    fr, res = sla.due("noise", "normal", MONDAY_10)
    assert fr == at(23, 12) and res == at(24, 10)


def test_packaged_examples_load() -> None:
    sla = load_sla()
    assert sla.calendar.is_workday(date(2026, 10, 10))            # 调休 Saturday
    assert not sla.calendar.is_workday(date(2026, 10, 1))
    assert set(sla.categories) <= {"noise", "pets", "parking", "service", "fees", "neighbour", "cleaning",
                                   "safety", "renovation", "other"}
    assert load_sla(EXAMPLES / "sla.yml").target("safety").first_response == timedelta(minutes=30)


GOOD_SLA = "calendar: cal.yml\ndefault: {first_response: 4h, resolution: 24h}\n"
GOOD_CAL = "timezone: Asia/Shanghai\nweekdays: [mon]\nhours: ['09:00-18:00']\n"


@pytest.mark.parametrize("sla, cal, line, words", [
    (GOOD_SLA + "categories:\n  noize: {first_response: 1h}\n", GOOD_CAL, 4, "unknown key 'noize'"),
    (GOOD_SLA + "categories:\n  noise: {first_response: soon}\n", GOOD_CAL, 4, "'soon' is not a duration"),
    (GOOD_SLA + "categories:\n  noise: {first_response: 30h}\n", GOOD_CAL, 4, "longer than resolution"),
    (GOOD_SLA + "priority_factor: {urgent: -1}\n", GOOD_CAL, 3, "above 0"),
    (GOOD_SLA + "default: {first_response: 1h, resolution: 2h}\n", GOOD_CAL, 3, "duplicate key"),
    ("calendar: cal.yml\ndefault: {first_response: 4h\n", GOOD_CAL, 3, "invalid YAML"),
    ("calendar: cal.yml\n", GOOD_CAL, 1, "needs a default"),
    ("calendar: cal.yml\ndefault: {first_response: 4h}\n", GOOD_CAL, 2, "needs resolution"),
    (GOOD_SLA, "timezone: Mars/Olympus\n", 1, "unknown time zone"),
    (GOOD_SLA, "weekdays: [mon, funday]\n", 1, "'funday' is not a day"),
    (GOOD_SLA, "hours:\n  - '09:00-12:00'\n  - '18:00-13:00'\n", 3, "is not a range"),
    (GOOD_SLA, "hours: ['09:00-13:00', '12:00-18:00']\n", 1, "overlap"),
    (GOOD_SLA, "holidays:\n  - 2026-02-30\n", 2, "bad value"),
    (GOOD_SLA, "holidays:\n  - tomorrow\n", 2, "is not a date"),
    (GOOD_SLA, "weekdays: []\n", 1, "non-empty"),
])
def test_config_errors_name_file_and_line(tmp_path: Path, sla: str, cal: str, line: int, words: str) -> None:
    (tmp_path / "sla.yml").write_text(sla, encoding="utf-8")
    (tmp_path / "cal.yml").write_text(cal, encoding="utf-8")
    with pytest.raises(SLAConfigError) as info:
        load_sla(tmp_path / "sla.yml")
    err = info.value
    assert isinstance(err, TicketError) and isinstance(err, DataError)
    assert err.line == line, str(err)
    assert words in str(err)
    assert str(err).startswith(str(err.path)) and Path(str(err.path)).name in ("sla.yml", "cal.yml")
    assert f":{line}" in str(err)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SLAConfigError, match="file not found"):
        load_sla(tmp_path / "nope.yml")
