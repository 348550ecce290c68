"""When a post is due: cron-like rules with Chinese working days, holidays and make-up working days.

    rule = Rule.parse("0 18 * * 5", days="workday")        # every Friday 18:00, working days only
    rule = Rule.parse("0 9 * * 1", days="next_workday")    # Monday 9:00; on a holiday, the next working day
    rule = Rule.once("2026-12-24 20:00")                   # one-off (days applies too)
    rule.due_between(start, end)                           # aware UTC datetimes in (start, end]

Working days come from the ``chinese-calendar`` package (the State Council's yearly schedule: a
holiday on a weekday is not a working day, a make-up Saturday or Sunday is one). For a year the
package has no data for yet, weekdays count as working days; the runner tells the admins 45 days
ahead (``has_data``) to upgrade the package.

``days``: ``any`` (every time the cron fires), ``workday`` (only on working days), ``next_workday``
(a time on a non-working day moves to the same time on the next working day; two times moving to
the same day post once). Rules fire at most once an hour: a group is not a ticker.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from assistant.schedule.errors import ScheduleInputError

DAYS = ("any", "workday", "next_workday")
DAYS_NAMES = {"any": "每天照常", "workday": "仅工作日", "next_workday": "遇节假日顺延到下一个工作日"}
DEFAULT_TZ = "Asia/Shanghai"
MIN_GAP = timedelta(hours=1)
_LOOKBACK = timedelta(days=14)          # the longest run of days off (Spring Festival) is shorter
_FIELD = re.compile(r"^[0-9*/,\-]+$")
_FIELD_NAMES = ("minute", "hour", "day of month", "month", "day of week")



def has_data(year: int) -> bool:
    """Whether chinese-calendar knows the State Council's holidays of ``year``."""
    import chinese_calendar

    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


def is_workday(day: date) -> bool:
    """A working day in mainland China (make-up weekend days included, public holidays excluded);
    in a year chinese-calendar has no data for, Monday to Friday."""
    import chinese_calendar

    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return day.weekday() < 5


def holiday_name(day: date) -> str | None:
    """The Chinese name of the public holiday ``day`` belongs to (春节, 国庆节 …), else None."""
    import chinese_calendar

    try:
        on_holiday, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:
        return None
    return HOLIDAY_NAMES.get(str(name)) if on_holiday and name else None


HOLIDAY_NAMES = {"New Year's Day": "元旦", "Spring Festival": "春节", "Tomb-sweeping Day": "清明节",
                 "Labour Day": "劳动节", "Dragon Boat Festival": "端午节", "National Day": "国庆节",
                 "Mid-autumn Festival": "中秋节", "Anti-Fascist 70th Day": "抗战胜利纪念日"}


def next_workday(day: date) -> date:
    while not is_workday(day):
        day += timedelta(days=1)
    return day


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleInputError("tz", f"unknown time zone {name!r} (e.g. Asia/Shanghai)") from None


def parse_time(value: str, tz: ZoneInfo, field: str = "at") -> datetime:
    """``2026-12-24 20:00`` (local to ``tz``), ``2026-12-24T20:00+08:00``, or a date (midnight) as an aware datetime."""
    text = str(value).strip().replace("：", ":")
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise ScheduleInputError(field, f"{value!r} is not a date and time like 2026-12-24 20:00") from None
    return t if t.tzinfo else t.replace(tzinfo=tz)


def _check_cron(expr: str) -> str:
    from croniter import croniter

    fields = expr.split()
    if len(fields) != 5:
        raise ScheduleInputError("cron", f"{expr!r} has {len(fields)} field(s); a rule has 5: minute hour "
                                         "day-of-month month day-of-week, e.g. '0 18 * * 5' (Fridays 18:00)")
    for name, f in zip(_FIELD_NAMES, fields, strict=True):
        if not _FIELD.match(f):
            raise ScheduleInputError("cron", f"{expr!r}: the {name} field {f!r} may hold only digits, * / , -")
    if not croniter.is_valid(expr):
        raise ScheduleInputError("cron", f"{expr!r} is not a valid rule (out of range?), e.g. '0 18 * * 5'")
    try:
        croniter(expr, datetime(2026, 1, 1)).get_next(datetime)
    except (ValueError, KeyError):                  # CroniterBadDateError: a date that never comes (31 Feb)
        raise ScheduleInputError("cron", f"{expr!r} never posts (no such date)") from None
    if not re.fullmatch(r"\d{1,2}", fields[0]):
        raise ScheduleInputError("cron", f"{expr!r} fires more than once an hour; give one minute, e.g. '0'")
    return " ".join(fields)


@dataclass(frozen=True)
class Rule:
    cron: str | None                     # five-field cron expression, or None for a one-off
    at: datetime | None                  # the one-off time (aware)
    days: str = "any"
    tz: str = DEFAULT_TZ

    @classmethod
    def parse(cls, cron: str, days: str = "any", tz: str = DEFAULT_TZ) -> Rule:
        zone(tz)
        return cls(_check_cron(str(cron).strip()), None, _days(days), tz)

    @classmethod
    def once(cls, at: str | datetime, days: str = "any", tz: str = DEFAULT_TZ) -> Rule:
        when = at if isinstance(at, datetime) else parse_time(at, zone(tz))
        if when.tzinfo is None:
            when = when.replace(tzinfo=zone(tz))
        return cls(None, when, _days(days), tz)

    def describe(self) -> str:
        what = f"cron '{self.cron}'" if self.cron else f"一次 {self.at:%Y-%m-%d %H:%M}"
        return f"{what}，{DAYS_NAMES[self.days]}"

    def _shift(self, local: datetime) -> datetime | None:
        """The time a nominal firing posts at under ``days`` (None: skipped)."""
        if self.days == "any":
            return local
        if self.days == "workday":
            return local if is_workday(local.date()) else None
        day = next_workday(local.date())
        return local if day == local.date() else datetime.combine(day, local.timetz()).replace(tzinfo=local.tzinfo)

    def due_between(self, start: datetime, end: datetime) -> list[datetime]:
        """The UTC times this rule posts at in (start, end], in order, each once."""
        if end <= start:
            return []
        tz = zone(self.tz)
        out: set[datetime] = set()
        if self.at is not None:
            shifted = self._shift(self.at.astimezone(tz))
            if shifted is not None and start < shifted <= end:
                out.add(shifted.astimezone(UTC))
            return sorted(out)
        from croniter import croniter

        begin = start - (_LOOKBACK if self.days == "next_workday" else timedelta(0))
        it = croniter(self.cron, begin.astimezone(tz))
        while True:
            nominal: datetime = it.get_next(datetime)
            if nominal > end:
                break
            shifted = self._shift(nominal)
            if shifted is not None and start < shifted <= end:
                out.add(shifted.astimezone(UTC))
        return sorted(out)

    def next_after(self, start: datetime, horizon: timedelta = timedelta(days=400)) -> datetime | None:
        """The first time after ``start`` (within ``horizon``), for listings."""
        step = timedelta(days=35)
        t = start
        while t < start + horizon:
            due = self.due_between(t, t + step)
            if due:
                return due[0]
            t += step
        return None


def _days(days: str) -> str:
    value = str(days).strip().replace("-", "_")
    if value not in DAYS:
        raise ScheduleInputError("days", f"{days!r} is not one of {', '.join(DAYS)}")
    return value
