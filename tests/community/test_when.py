"""Chinese dates and times read against a fixed "now" (Tuesday 2026-12-01 15:00, Beijing time)."""

from __future__ import annotations

import datetime as dt

import pytest

from assistant.community.errors import BadInput
from assistant.community.when import TZ, parse_when

NOW = dt.datetime(2026, 12, 1, 15, 0, tzinfo=TZ)


@pytest.mark.parametrize("text, expected", [
    ("周五18:00", (12, 4, 18, 0)),
    ("周五 18点", (12, 4, 18, 0)),
    ("星期五下午六点", (12, 4, 18, 0)),
    ("下周三晚上7点半", (12, 9, 19, 30)),
    ("12月5日", (12, 5, 23, 59)),
    ("十二月五日 20:00", (12, 5, 20, 0)),
    ("12/5 9:30", (12, 5, 9, 30)),
    ("2026-12-24 19:00", (12, 24, 19, 0)),
    ("明天中午", (12, 2, 12, 0)),
    ("今晚8点", (12, 1, 20, 0)),
    ("周二10点", (12, 8, 10, 0)),          # this Tuesday 10:00 has passed: next week's
    ("周二16点", (12, 1, 16, 0)),
    ("1月3日", (1, 3, 23, 59)),            # next year
    ("星期天上午十点", (12, 6, 10, 0)),
    ("周五18:00前", (12, 4, 18, 0)),
])
def test_reads_dates_and_times(text: str, expected: tuple[int, int, int, int]) -> None:
    at = parse_when(text, NOW)
    assert (at.month, at.day, at.hour, at.minute) == expected
    assert at > NOW and at.utcoffset() == dt.timedelta(hours=8)


@pytest.mark.parametrize("text, says", [
    ("13月40日", "13月40日"),
    ("2月30日", "2月30日"),
    ("周八", "周八"),
    ("明天25点", "25:00"),
    ("明天8:75", "8:75"),
    ("本周一", "已经过去"),
    ("11月30日 10:00", "已经过去"),
    ("下班以后", "下班以后"),
    ("", "没有写时间"),
    ("2028-01-01", "太远"),
])
def test_bad_times_are_refused_with_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(BadInput) as err:
        parse_when(text, NOW)
    assert says in str(err.value)
    assert err.value.field in ("time", "date")
