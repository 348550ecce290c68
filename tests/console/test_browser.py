"""The console end to end in a real browser: headless Debian chromium (Playwright for Python, no browser
download) against the app served by uvicorn on a free loopback port."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI

from assistant.desk.desk import Desk
from assistant.desk.push import CSAT
from assistant.desk.tickets import Reporter

from ..pg import FakeClock
from .conftest import TOKENS, FakeResidents

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
PAYLOAD = "<img src=x onerror=alert(1)>'; DROP TABLE tickets; --\n第二行"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Debian chromium not found at {CHROMIUM} "
                                "(scripts/bootstrap.sh installs it with apt)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(app: FastAPI) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_admin_works_a_ticket_and_the_queue_in_chromium(served: str, desk: Desk, clock: FakeClock,
                                                        residents: FakeResidents, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    noise = desk.tickets.create(Reporter("conv-7", "李雷"), "noise", "5-101", PAYLOAD)
    clock.advance(minutes=30)
    pets = desk.tickets.create(Reporter("conv-8", "韩梅梅"), "pets", "6-202", "狗不拴绳")
    clock.advance(hours=3)                      # 13:30: the noise ticket's 2-hour first response is late
    handoff, _ = desk.handoffs.request("conv-9", "conv-9", "request_human", "想找物业人工客服")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS,
                                    env={"HOME": str(tmp_path)})
        try:
            page = browser.new_page(locale="zh-CN")
            page.set_default_timeout(15_000)
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

            # nothing without a token; a wrong token is refused
            page.goto(f"{served}/tickets")
            assert page.url.startswith(f"{served}/login")
            assert noise.id not in page.content()
            page.fill("#token", "wrong-token-0123456789")
            page.click("#login")
            expect(page.locator(".flash-error")).to_contain_text("令牌无效")

            # log in
            page.fill("#token", TOKENS["wang"])
            page.click("#login")
            expect(page).to_have_url(re.compile(r"/tickets$"))
            expect(page.locator("#me")).to_contain_text("王管家")
            cookie = next(c for c in page.context.cookies() if c["name"] == "console_session")
            assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
            assert page.evaluate("document.cookie") == ""            # not readable from scripts

            # the list: both tickets, the late one highlighted
            rows = page.locator("#tickets tbody tr")
            expect(rows).to_have_count(2)
            late_row = page.locator(f'tr[data-id="{noise.id}"]')
            expect(late_row).to_have_class("overdue")
            expect(late_row).to_contain_text("首次响应超时")
            expect(page.locator(f'tr[data-id="{pets.id}"]')).not_to_have_class("overdue")
            bg = late_row.evaluate("el => getComputedStyle(el).backgroundColor")
            assert bg not in ("rgba(0, 0, 0, 0)", "rgb(255, 255, 255)")

            # filter by category
            page.select_option("#f-category", "noise")
            page.click("#f-apply")
            expect(page).to_have_url(re.compile(r"category=noise"))
            expect(rows).to_have_count(1)
            expect(rows.first).to_contain_text("噪音")
            page.select_option("#f-category", "")
            page.check("#f-overdue")
            page.click("#f-apply")
            expect(rows).to_have_count(1)
            expect(rows.first).to_have_attribute("data-id", noise.id)

            # open the ticket: the payload is text, not markup
            page.click(f"text={noise.id}")
            expect(page.locator("#ticket-id")).to_have_text(noise.id)
            assert page.locator("#description").inner_text() == PAYLOAD
            assert page.locator("#description img").count() == 0

            # comment
            page.fill("#comment-text", "已电话联系<b>楼上</b>住户")
            page.click("#comment")
            expect(page.locator(".flash-ok")).to_contain_text("已添加备注")
            audit = page.locator("#audit tbody")
            expect(audit).to_contain_text("已电话联系<b>楼上</b>住户")
            expect(audit).to_contain_text("王管家（占位）（wang）")

            # assign, then resolve
            page.select_option("#assignee", "li")
            page.click("#assign")
            expect(page.locator("#ticket-status")).to_have_text("已指派")
            expect(page.locator("#ticket-assignee")).to_contain_text("李主任")
            page.fill("#resolve-comment", "已协调，楼上保证十点后不拖椅子")
            page.click("#resolve")
            expect(page.locator(".flash-ok")).to_contain_text("已解决，已请居民评价")
            expect(page.locator("#ticket-status")).to_have_text("已解决")
            expect(audit).to_contain_text("已指派 → 已解决")
            expect(audit).to_contain_text("已协调，楼上保证十点后不拖椅子")
            expect(audit.locator("tr").last).to_contain_text("系统")
            expect(audit.locator("tr").last).to_contain_text("请居民评价")
            assert residents.calls == [("conv-7", CSAT, {"ticket_id": noise.id})]
            expect(page.locator("#close-form")).to_be_visible()
            expect(page.locator("#resolve-form")).to_have_count(0)

            # the handoff queue: take it
            page.click("#nav-handoffs")
            row = page.locator(f'tr[data-id="{handoff.id}"]')
            expect(row).to_contain_text("等待接手")
            expect(row).to_contain_text("想找物业人工客服")
            row.locator("button.take").click()
            expect(page.locator(".flash-ok")).to_contain_text(f"已接手 {handoff.id}")
            expect(row).to_contain_text("已接手")
            expect(row).to_contain_text("王管家")
            expect(row.locator("button.take")).to_have_count(0)
            page.screenshot(path=str(tmp_path / "console.png"), full_page=True)

            # log out: the pages are gone
            page.click("#logout")
            expect(page.locator(".flash-ok")).to_contain_text("已退出登录")
            page.goto(f"{served}/tickets/{noise.id}")
            assert page.url.startswith(f"{served}/login")
            # the only failed load is the refused login (401); no CSP violation, no missing file
            assert [e for e in errors if "status of 401" not in e] == []
        finally:
            browser.close()

    ticket = desk.tickets.get(noise.id)
    assert ticket.status == "resolved" and ticket.assignee == "li"
    assert {e.actor for e in desk.tickets.events(noise.id)[1:]} == {"wang", "system"}
    assert desk.handoffs.get(handoff.id).admin == "wang"
