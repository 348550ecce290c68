"""Sign-ups on SQLite and PostgreSQL: the limit and the deadline hold, each unit once, the waiting
list moves up when someone leaves, 40 residents at once against a limit of 30, exports."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import threading
from collections import Counter

import pytest

from assistant.community.errors import BadInput, NotFound, Refused
from assistant.community.service import Community
from assistant.community.signups import IN, WAITING, parse_start

from ..pg import FakeClock
from .conftest import TUESDAY_15


def test_forty_residents_at_once_against_a_limit_of_thirty(community: Community) -> None:
    s = community.signups.start("group-1", "周六亲子运动会 限30人 截止周五18:00", created_by="admin")
    units = [f"{b}-{r}" for b in (1, 2, 3, 4) for r in (101, 102, 201, 202, 301, 302, 401, 402, 501, 502)]
    assert len(units) == 40
    barrier = threading.Barrier(40)
    errors: list[BaseException] = []

    def resident(unit: str) -> None:
        try:
            barrier.wait()
            community.signups.join(s.id, unit, f"wx-{unit}")
            community.signups.join(s.id, unit, f"wx-{unit}")       # a double tap changes nothing
        except BaseException as exc:                                # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=resident, args=(u,)) for u in units]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    entries = community.signups.entries(s.id)
    status = Counter(e.status for e in entries)
    assert status == {IN: 30, WAITING: 10}
    assert sorted(e.unit for e in entries) == sorted(units)            # every unit exactly once
    assert [e.position for e in entries if e.status == IN] == list(range(1, 31))
    assert [e.position for e in entries if e.status == WAITING] == list(range(1, 11))
    # the list shown in the group has each unit once
    shown = re.findall(r"^\d+\. (\S+)$", community.signups.render(s.id), re.MULTILINE)
    assert sorted(shown) == sorted(units)
    assert "已报 30/30" in community.signups.render(s.id) and "候补（10）" in community.signups.render(s.id)


def test_leaving_promotes_the_first_waiting_unit(community: Community, now: FakeClock) -> None:
    s = community.signups.start("group-1", "篮球赛 限2人", created_by="u0")
    for unit in ("5-101", "5-102", "5-201", "5-202"):
        community.signups.join(s.id, unit, f"wx-{unit}")
        now.advance(seconds=1)
    r = community.signups.leave(s.id, "5-101")
    assert r.promoted is not None and r.promoted.unit == "5-201" and r.promoted.sender_id == "wx-5-201"
    got = [(e.unit, e.status) for e in community.signups.entries(s.id)]
    assert got == [("5-102", IN), ("5-201", IN), ("5-202", WAITING)]
    assert community.signups.leave(s.id, "5-202").promoted is None      # a waiting unit leaving moves nobody
    with pytest.raises(NotFound, match="5-909"):
        community.signups.leave(s.id, "5-909")


def test_the_deadline_and_closing_hold(community: Community, now: FakeClock) -> None:
    s = community.signups.start("group-1", "团购大米 截止明天中午12点", created_by="u0")
    assert s.capacity is None
    community.signups.join(s.id, "5-101", "a")
    now.advance(days=1, hours=2)            # Wednesday 13:00, past the deadline
    with pytest.raises(Refused, match="截止"):
        community.signups.join(s.id, "5-102", "b")
    t = community.signups.start("group-1", "读书会", created_by="u0")
    community.signups.close(t.id)
    with pytest.raises(Refused, match="已结束"):
        community.signups.join(t.id, "5-102", "b")
    assert community.signups.current("group-1").id == s.id               # the closed one is not current


@pytest.mark.parametrize("text, field, says", [
    ("", "title", "名称"),
    ("限30人", "title", "名称"),
    ("亲子运动会 限0人", "limit", "1-1000"),
    ("亲子运动会 限-5人", "limit", "-5"),
    ("亲子运动会 限abc人", "limit", "abc"),
    ("亲子运动会 限5000人", "limit", "1-1000"),
    ("亲子运动会 截止13月40日", "date", "13月40日"),
    ("亲子运动会 截止周八", "time", "周八"),
    ("亲子运动会 截止昨天", "time", "昨天"),
    ("亲子运动会 截止11月30日 9:00", "time", "已经过去"),
    ("亲" * 61, "title", "太长"),
])
def test_bad_starts_say_what_is_wrong(text: str, field: str, says: str) -> None:
    with pytest.raises(BadInput) as err:
        parse_start(text, TUESDAY_15)
    assert err.value.field == field and says in str(err.value)


def test_start_reads_title_limit_and_deadline() -> None:
    req = parse_start("周六亲子运动会 限三十人 截止周五18:00", TUESDAY_15)
    assert req.title == "周六亲子运动会" and req.capacity == 30
    assert req.deadline == dt.datetime(2026, 12, 4, 10, 0, tzinfo=dt.UTC)        # 18:00 Beijing
    assert parse_start("业主大会 名额：12", TUESDAY_15).capacity == 12


def test_exports_csv_and_excel(lite: Community) -> None:
    from openpyxl import load_workbook

    s = lite.signups.start("g", "植树活动 限1人", created_by="u")
    lite.signups.join(s.id, "5-101", "a")
    lite.signups.join(s.id, "6-1-202", "b")
    text = lite.signups.export_csv(s.id)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0] == ["序号", "房号", "状态", "报名时间"]
    assert [r[1:3] for r in rows[1:]] == [["5-101", "已报名"], ["6-1-202", "候补"]]
    assert rows[1][3] == "2026-12-01 15:00:00"                       # Beijing time
    wb = load_workbook(io.BytesIO(lite.signups.export_xlsx(s.id)))
    cells = [[c.value for c in row] for row in wb.active.iter_rows()]
    assert "植树活动" in cells[0][0] and cells[1] == ["序号", "房号", "状态", "报名时间"]
    assert cells[2][1:3] == ["5-101", "已报名"] and cells[3][1:3] == ["6-1-202", "候补"]
