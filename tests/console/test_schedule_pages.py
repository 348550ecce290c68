"""The console's schedule pages (posts, notices, calendar) in headless Debian chromium: Chinese UI,
bad input refused on the page naming the field with nothing stored, .ics download; screenshots at
1280x900 and 390x844 (in the test's tmp folder)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from assistant.console import create_app
from assistant.desk.desk import Desk
from assistant.schedule.store import ScheduleStore, open_schedule

from ..pg import FakeClock
from .conftest import TOKENS
from .test_browser import CHROMIUM, FLAGS, served  # noqa: F401 - the served fixture

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Debian chromium not found at {CHROMIUM}")


@pytest.fixture
def schedule(tmp_path: Path, clock: FakeClock) -> Iterator[ScheduleStore]:
    s = open_schedule(f"sqlite:///{tmp_path / 'tickets.db'}", clock=clock)
    yield s
    s.close()


@pytest.fixture
def app(desk: Desk, schedule: ScheduleStore) -> FastAPI:
    return create_app(desk, TOKENS, schedule=schedule)


def shots(page, tmp_path: Path, name: str) -> None:
    for w, h in ((1280, 900), (390, 844)):
        page.set_viewport_size({"width": w, "height": h})
        page.screenshot(path=str(tmp_path / f"{name}-{w}x{h}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def test_posts_notices_and_calendar_pages(served: str, schedule: ScheduleStore, tmp_path: Path) -> None:  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS,
                                    env={"HOME": str(tmp_path)})
        try:
            page = browser.new_page(locale="zh-CN", viewport={"width": 1280, "height": 900})
            page.set_default_timeout(15_000)
            page.goto(f"{served}/schedule/posts")
            assert page.url.startswith(f"{served}/login")          # nothing without a token
            page.fill("#token", TOKENS["wang"])
            page.click("#login")
            page.goto(f"{served}/schedule/posts")

            # a bad rule is refused, naming the field, and nothing is stored
            page.fill("#p-name", "周五物业通知")
            page.fill("#p-cron", "*/5 * * * *")
            page.fill("#p-text", "电梯年检")
            page.select_option("#p-template", "property_weekly")
            page.click("#p-add")
            expect(page.locator(".flash-error")).to_contain_text("规则有误")
            assert schedule.posts() == []
            expect(page.locator("#p-name")).to_have_value("周五物业通知")      # the form keeps what was typed
            page.fill("#p-cron", "0 18 * * 5")
            page.select_option("#p-days", "workday")
            page.click("#p-add")
            expect(page.locator(".flash-ok")).to_contain_text("已添加定时发布")
            row = page.locator("#posts tbody tr").first
            expect(row).to_contain_text("仅工作日")
            expect(row).to_contain_text("2026-11-27 18:00")              # the next Friday
            shots(page, tmp_path, "posts")

            page.click("#nav-notices")
            page.fill("#n-tag", "小道消息")
            page.fill("#n-body", "x")
            page.click("#n-add")
            expect(page.locator(".flash-error")).to_contain_text("标签有误")
            expect(page.locator(".flash-error")).to_contain_text("#物业通知#")
            page.fill("#n-tag", "辟谣")
            page.fill("#n-body", "经街道办核实，小区没有任何拆迁计划")
            page.fill("#n-rumour", "小区明年要拆迁")
            page.fill("#n-source", "街道办 11-20 公告")
            page.fill("#n-until", "2026-12-31")
            page.click("#n-add")
            expect(page.locator(".flash-ok")).to_contain_text("已发布通知")
            expect(page.locator("#notices tbody tr").first).to_contain_text("生效中")
            assert [n.kind for n in schedule.notices()] == ["rumour"]
            shots(page, tmp_path, "notices")

            page.click("#nav-calendar")
            page.fill("#e-title", "亲子运动会")
            page.fill("#e-place", "中心广场")
            page.fill("#e-start", "2026-11-28 09:00")
            page.fill("#e-end", "2026-11-28 08:00")
            page.click("#e-add")
            expect(page.locator(".flash-error")).to_contain_text("结束时间有误")
            page.fill("#e-end", "2026-11-28 11:00")
            page.fill("#e-signup", "J1")
            page.click("#e-add")
            expect(page.locator(".flash-ok")).to_contain_text("已添加活动")
            expect(page.locator("#events tbody tr")).to_have_count(1)
            expect(page.locator("#month")).to_have_text("2026年11月")
            shots(page, tmp_path, "calendar")
            ics = page.request.get(f"{served}/schedule/calendar.ics")
            assert ics.ok and "SUMMARY:亲子运动会" in ics.text()
            for bad in ("9999-12", "2026-13", "../x"):
                assert page.request.get(f"{served}/schedule/calendar?month={bad}").status == 400
            assert page.request.post(f"{served}/schedule/posts/abc/remove").status in (400, 403)   # no CSRF token
            page.click("#next")
            expect(page).to_have_url(re.compile(r"month=2026-12$"))
            expect(page.locator(".empty")).to_contain_text("本月没有活动")
        finally:
            browser.close()
