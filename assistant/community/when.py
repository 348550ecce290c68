"""Chinese dates and times as residents write them, read against "now" in the estate's time zone.

    parse_when("周五18:00", now)      -> the coming Friday 18:00 (today if it is Friday before 18:00)
    parse_when("下周三晚上7点半", now)  -> Wednesday of next week 19:30
    parse_when("12月5日", now)          -> 5 December 23:59 (a date alone: the end of that day)
    parse_when("明天中午", now)         -> tomorrow 12:00

Numerals may be Chinese (六点半, 十二月五日; read by cn2an). Anything else raises ``BadInput``
with a message that says what was not understood and how to write it.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from zoneinfo import ZoneInfo

from assistant.community.errors import BadInput
from assistant.text.units import cn_number

TZ = ZoneInfo("Asia/Shanghai")
WEEKDAYS = "一二三四五六日"
_N = r"(\d{1,4}|[零〇一二两三四五六七八九十]{1,3})"
_DAY_WORDS = {"今天": 0, "今日": 0, "今晚": 0, "明天": 1, "明日": 1, "明晚": 1, "后天": 2}
_PERIODS = ("凌晨", "早上", "上午", "早", "中午", "下午", "傍晚", "晚上", "晚", "夜里")
_FULL_DATE = re.compile(r"(\d{4})\s*[-/年.]\s*(\d{1,2})\s*[-/月.]\s*(\d{1,2})\s*[日号]?")
_MONTH_DAY = re.compile(rf"{_N}\s*月\s*{_N}\s*[日号]?|(\d{{1,2}})/(\d{{1,2}})(?!\d)")
_WEEKDAY = re.compile(r"(本|这|下个?|下下)?\s*(?:周|星期|礼拜)\s*([一二三四五六日天1-7])")
_DAY_WORD = re.compile("|".join(_DAY_WORDS))
_PERIOD = "|".join(_PERIODS)
_CLOCK = re.compile(rf"({_PERIOD})?\s*{_N}\s*[:：]\s*(\d{{2}})")
_HOUR = re.compile(rf"({_PERIOD})?\s*{_N}\s*[点时]\s*(半|{_N}\s*分?)?")
_PERIOD_ALONE = {"中午": 12, "下午": 15, "傍晚": 18, "晚上": 20, "今晚": 20, "明晚": 20}
EXAMPLE = "例如：周五18:00、12月5日 20:00、明天中午12点"


def _num(text: str, what: str) -> int:
    n = cn_number(text)
    if n is None:
        raise BadInput("time", f"看不懂{what}“{text}”，{EXAMPLE}")
    return n


def _date(y: int, m: int, d: int, written: str) -> dt.date:
    try:
        return dt.date(y, m, d)
    except ValueError:
        raise BadInput("date", f"没有“{written}”这一天，请检查月份和日期（{EXAMPLE}）") from None


def parse_when(text: str, now: dt.datetime) -> dt.datetime:
    """The moment ``text`` names (aware, Asia/Shanghai), after ``now``; ``BadInput`` otherwise."""
    s = unicodedata.normalize("NFKC", text or "").strip()
    if not s:
        raise BadInput("time", f"没有写时间，{EXAMPLE}")
    if len(s) > 40:
        raise BadInput("time", f"时间写得太长了，{EXAMPLE}")
    local = now.astimezone(TZ)
    today = local.date()
    rest = s
    day: dt.date | None = None
    evening = False
    rolling = False          # a bare weekday (周五): next week's when this week's has passed

    if m := _FULL_DATE.search(rest):
        day = _date(int(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(0))
        rest = rest.replace(m.group(0), " ", 1)
    elif m := _MONTH_DAY.search(rest):
        if m.group(1):
            month, mday = _num(m.group(1), "月份"), _num(m.group(2), "日期")
        else:
            month, mday = int(m.group(3)), int(m.group(4))
        day = _date(today.year, month, mday, m.group(0))
        if day < today - dt.timedelta(days=30):       # "1月5日" written in December: next year
            day = _date(today.year + 1, month, mday, m.group(0))
        rest = rest.replace(m.group(0), " ", 1)
    elif m := _WEEKDAY.search(rest):
        which = (m.group(1) or "").replace("个", "")
        named = m.group(2)
        wd = 6 if named in "日天7" else (int(named) - 1 if named.isdigit() else WEEKDAYS.index(named))
        monday = today - dt.timedelta(days=today.weekday())
        if which in ("本", "这"):
            day = monday + dt.timedelta(days=wd)
        elif which == "下":
            day = monday + dt.timedelta(days=7 + wd)
        elif which == "下下":
            day = monday + dt.timedelta(days=14 + wd)
        else:
            day = today + dt.timedelta(days=(wd - today.weekday()) % 7)
            rolling = True
        rest = rest.replace(m.group(0), " ", 1)
    elif m := _DAY_WORD.search(rest):
        day = today + dt.timedelta(days=_DAY_WORDS[m.group(0)])
        evening = m.group(0).endswith("晚")
        rest = rest.replace(m.group(0), " ", 1)

    hour: int | None = None
    minute = 0
    period = None
    if m := _CLOCK.search(rest):
        period, hour, minute = m.group(1), _num(m.group(2), "小时"), int(m.group(3))
        rest = rest.replace(m.group(0), " ", 1)
    elif m := _HOUR.search(rest):
        period, hour = m.group(1), _num(m.group(2), "小时")
        if m.group(3) == "半":
            minute = 30
        elif m.group(3):
            minute = _num(m.group(4), "分钟")
        rest = rest.replace(m.group(0), " ", 1)
    else:
        for p in _PERIODS:
            if p in rest and p in _PERIOD_ALONE:
                period, hour = p, _PERIOD_ALONE[p]
                rest = rest.replace(p, " ", 1)
                break
        if hour is None and evening:
            hour = 20
    leftover = re.sub(r"以前|之前|为止|截止|当天|[\s前,，.。(（)）的到至]", "", rest)
    if leftover:
        raise BadInput("time", f"看不懂时间里的“{leftover}”，{EXAMPLE}")
    if day is None and hour is None:
        raise BadInput("time", f"没有写日期或时间，{EXAMPLE}")

    if hour is not None:
        if evening and period is None:
            period = "晚上"
        afternoon = period in ("下午", "傍晚", "晚上", "晚", "夜里") and 1 <= hour < 12
        if afternoon or (period == "中午" and 1 <= hour <= 3):
            hour += 12
        if hour == 24 and minute == 0:
            hour, minute = 23, 59
        if not (0 <= hour <= 23 and 0 <= minute <= 59):
            raise BadInput("time", f"没有 {hour}:{minute:02d} 这个时间（小时 0-23，分钟 0-59），{EXAMPLE}")
    if day is None:
        day = today if (hour, minute) > (local.hour, local.minute) else today + dt.timedelta(days=1)
    at = dt.datetime.combine(day, dt.time(hour, minute) if hour is not None else dt.time(23, 59), TZ)
    if at <= local and rolling:
        at += dt.timedelta(days=7)
    if at <= local:
        raise BadInput("time", f"{format_when(at)} 已经过去了，请写一个将来的时间")
    if at > local + dt.timedelta(days=366):
        raise BadInput("time", f"{format_when(at)} 太远了（最多一年内）")
    return at


def format_when(at: dt.datetime) -> str:
    """12月5日（周五）18:00, in the estate's time zone."""
    t = at.astimezone(TZ)
    return f"{t.month}月{t.day}日（周{WEEKDAYS[t.weekday()]}）{t:%H:%M}"
