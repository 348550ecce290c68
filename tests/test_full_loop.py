"""The whole loop with real parts, in one headless Debian chromium:

a resident files a complaint in the rasa-webchat widget (socket.io to the real Rasa server and action
server) and gets a ticket id; an admin logs in to the web console (uvicorn, on the same scratch ticket
database), finds that ticket, assigns and resolves it; the satisfaction question is pushed into the
resident's open widget without the resident typing anything, the resident answers 5, and the score
is stored on the ticket.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from assistant.dialogue import replies
from assistant.settings import Settings
from assistant.console import create_app
from assistant.desk.desk import Desk
from assistant.runtime.app import open_desk
from assistant.runtime.services import Services
from assistant.channels.webchat import serve_page


pytestmark = pytest.mark.services
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         # two windows at once: keep the one in the background running at full speed
         "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
         "--disable-backgrounding-occluded-windows"]
WANG_TOKEN = "wang-full-loop-token-0123456789"
TICKET_RE = re.compile(r"T-\d{8}-\d{4}")
COMPLAINT = "我住5栋101，楼上装修太吵了，天天电钻响"
FIRST_REPLY_MS = 90_000      # the first Rasa reply of a fresh server can take a while
REPLY_MS = 60_000

# What the complaint form may ask (assistant/dialogue/complaint.py question()) -> the resident's answer.
ANSWERS = (("对方是哪一户", "不清楚"), ("这件事有多急", "一般"), ("请确认工单信息", "是"))


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Console:
    url: str
    desk: Desk


@pytest.fixture
def page_server(served: tuple[Settings, Services]) -> Iterator[Settings]:
    server = serve_page(served[0])
    yield served[0]
    server.shutdown()
    server.server_close()


@pytest.fixture
def console(served: tuple[Settings, Services]) -> Iterator[Console]:
    """The admin console on the servers' scratch ticket DB, reaching residents through the served Rasa."""
    settings = served[0]
    desk = open_desk(settings)                         # the `served` fixture's scratch database
    app = create_app(desk, {"wang": WANG_TOKEN})
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False))
    thread = threading.Thread(target=server.run, daemon=True, name="console")
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start the console")
        time.sleep(0.05)
    yield Console(f"http://127.0.0.1:{port}", desk)
    server.should_exit = True
    thread.join(10)
    desk.tickets.dispose()
    desk.handoffs.dispose()


def bot_texts(page) -> list[str]:  # noqa: ANN001 - a Playwright Page
    return page.locator(".rw-response").all_inner_texts()


def wait_for_bot(page, after: int, predicate, timeout_ms: int, what: str) -> str:  # noqa: ANN001
    """The first bot message at index >= ``after`` satisfying ``predicate``; fails with the transcript."""
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        texts = bot_texts(page)
        for text in texts[after:]:
            if predicate(text):
                return text
        if time.monotonic() > deadline:
            pytest.fail(f"no bot message {what} within {timeout_ms / 1000:.0f}s; the widget shows:\n"
                        + "\n---\n".join(texts))
        page.wait_for_timeout(200)


def say(page, text: str) -> int:  # noqa: ANN001
    """Type ``text`` into the widget; returns how many bot messages were shown before it."""
    before = len(bot_texts(page))
    box = page.locator(".rw-new-message")
    box.fill(text)
    box.press("Enter")
    page.locator(".rw-client", has_text=text).last.wait_for(timeout=10_000)
    return before


def test_complaint_ticket_resolved_in_console_and_resident_rates_it(
        page_server: Settings, console: Console, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Debian chromium not found at {CHROMIUM}: run `make setup` (scripts/bootstrap.sh installs it)")
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, env={"HOME": str(tmp_path)})
        try:
            # --- 1. the resident files a complaint in the web chat --------------------------------
            resident = browser.new_context(locale="zh-CN").new_page()
            resident.goto(f"{page_server.webchat_url}/")
            resident.locator(".rw-new-message").wait_for(timeout=30_000)
            after = say(resident, COMPLAINT)
            timeout = FIRST_REPLY_MS
            answered: list[str] = []
            while True:
                reply = wait_for_bot(resident, after,
                                     lambda t: TICKET_RE.search(t) is not None
                                     or any(q in t for q, _ in ANSWERS),
                                     timeout, "asking the form's next question or naming the ticket")
                timeout = REPLY_MS
                m = TICKET_RE.search(reply)
                if m and "已为您登记工单" in reply:
                    ticket_id = m.group(0)
                    break
                answer = next(a for q, a in ANSWERS if q in reply)
                assert len(answered) < 6, f"the form keeps asking: {answered}"
                answered.append(answer)
                after = say(resident, answer)
            timings["complaint -> ticket id"] = time.monotonic() - t0
            assert answered[-1:] == ["是"], f"no confirmation was asked (answers: {answered})"
            resident.screenshot(path=str(tmp_path / "1-resident-ticket.png"))
            stored = json.loads(resident.evaluate("sessionStorage.getItem('chat_session') || '{}'"))
            session_id = stored.get("session_id")

            ticket = console.desk.tickets.get(ticket_id)
            assert ticket.status == "open"
            # the reporter is the widget's socket.io session (session_persistence: true), the room
            # Rasa pushes to: what makes the satisfaction question reach this very widget
            assert session_id and ticket.reporter_id == session_id, (stored, ticket.reporter_id)

            # --- 2. the admin logs in, finds the ticket, assigns and resolves it ----------------
            t1 = time.monotonic()
            admin = browser.new_context(locale="zh-CN").new_page()
            admin.set_default_timeout(15_000)
            admin.goto(f"{console.url}/tickets")
            assert admin.url.startswith(f"{console.url}/login")
            admin.fill("#token", WANG_TOKEN)
            admin.click("#login")
            expect(admin).to_have_url(re.compile(r"/tickets$"))
            expect(admin.locator("#me")).to_contain_text("王")
            row = admin.locator(f'tr[data-id="{ticket_id}"]')
            expect(row).to_contain_text("5-101")
            expect(row).to_contain_text("待处理")
            admin.screenshot(path=str(tmp_path / "2-console-list.png"), full_page=True)
            row.locator("a", has_text=ticket_id).click()
            expect(admin.locator("#ticket-id")).to_have_text(ticket_id)
            expect(admin.locator("#description")).to_contain_text("电钻")
            expect(admin.locator("dl.fields")).to_contain_text("5-101")
            from assistant.desk.tickets.models import TRANSITIONS
            if "resolved" not in TRANSITIONS[ticket.status]:        # open -> assigned -> resolved
                admin.select_option("#assignee", "wang")
                admin.click("#assign")
                expect(admin.locator(".flash-ok")).to_contain_text("已指派")
                expect(admin.locator("#ticket-status")).to_have_text("已指派")
                expect(admin.locator("#ticket-assignee")).to_contain_text("wang")
            admin.fill("#resolve-comment", "已联系楼上住户，装修限定在工作日白天进行")
            admin.click("#resolve")
            # "ok" means Rasa took the trigger and pushed it through the socket.io channel itself;
            # a "warn" flash would mean the texts came back for the admin to forward by hand.
            expect(admin.locator(".flash-ok")).to_contain_text("已解决，已请居民评价", timeout=30_000)
            expect(admin.locator("#ticket-status")).to_have_text("已解决")
            admin.screenshot(path=str(tmp_path / "3-console-resolved.png"), full_page=True)
            timings["console: login -> resolved"] = time.monotonic() - t1

            # --- 3. the question appears in the resident's widget by itself; the resident rates --
            t2 = time.monotonic()
            question = replies.CSAT_QUESTION.format(id=ticket_id)
            asked = wait_for_bot(resident, 0, lambda t: ticket_id in t and "1-5" in t and "已处理完毕" in t,
                                 30_000, "asking for a satisfaction score (pushed, nothing typed)")
            assert ticket_id in asked and "1-5" in asked
            assert question.split("。")[0] in asked.replace("\n", "")
            timings["resolve -> question in widget"] = time.monotonic() - t2
            resident.screenshot(path=str(tmp_path / "4-resident-csat-question.png"))

            after = say(resident, "5")
            thanks = replies.CSAT_THANKS.format(score=5)
            wait_for_bot(resident, after, lambda t: thanks in t, REPLY_MS, f"thanking for the score ({thanks})")
            resident.screenshot(path=str(tmp_path / "5-resident-csat-thanks.png"))
        finally:
            browser.close()

    rated = console.desk.tickets.get(ticket_id)
    assert rated.status == "resolved" and rated.assignee == "wang"
    assert rated.satisfaction == 5
    timings["total"] = time.monotonic() - t0
    print("timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()))
