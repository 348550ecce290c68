"""The activity calendar as an iCalendar (.ics) file (RFC 5545, the ``icalendar`` package)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from assistant.schedule.models import Event

PRODID = "-//jinshan1//community assistant//ZH"


def export_ics(events: Iterable[Event], *, now: datetime | None = None, domain: str = "jinshan1.local") -> bytes:
    from icalendar import Alarm, Calendar
    from icalendar import Event as IcsEvent

    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("x-wr-calname", "锦山壹号社区活动")
    cal.add("x-wr-timezone", "Asia/Shanghai")
    stamp = (now or datetime.now(UTC)).astimezone(UTC)
    for e in events:
        item = IcsEvent()
        item.add("uid", f"event-{e.id}@{domain}")
        item.add("dtstamp", stamp)
        item.add("dtstart", e.start.astimezone(UTC))
        item.add("dtend", e.end.astimezone(UTC))
        item.add("summary", e.title)
        item.add("location", e.place)
        if e.signup_id:
            item.add("description", f"报名：接龙 {e.signup_id}")
        for minutes in e.remind:
            alarm = Alarm()
            alarm.add("action", "DISPLAY")
            alarm.add("description", e.title)
            alarm.add("trigger", -timedelta(minutes=minutes))
            item.add_component(alarm)
        cal.add_component(item)
    return bytes(cal.to_ical())

