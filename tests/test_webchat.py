"""The real-client tests: the rasa-webchat widget in headless Debian chromium, through our socket.io channel."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from assistant.channels.webchat import serve_page
from assistant.dialogue.replies import SERVICE_DOWN
from assistant.moderation.pii import id_check_char, luhn_check_digit
from assistant.runtime.services import Services
from assistant.settings import Settings
from assistant.text.normalize import MAX_MESSAGE_CHARS

pytestmark = pytest.mark.services
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ID = "11010519491231002" + id_check_char("11010519491231002")
CARD = "620000123456789" + luhn_check_digit("620000123456789")
PHONE = "13900001234"
SIZES = {"desktop": (1280, 900), "phone": (390, 844)}
SHOTS = Path(__file__).resolve().parents[1] / ".run" / "screenshots"


@pytest.fixture
def page_server(served: tuple[Settings, Services]) -> Iterator[Settings]:
    server = serve_page(served[0])
    yield served[0]
    server.shutdown()
    server.server_close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Debian chromium not found at {CHROMIUM}: run `make setup` (scripts/bootstrap.sh installs it)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, env={"HOME": str(tmp_path)})
        yield b
        b.close()


def open_chat(browser: Any, settings: Settings, size: tuple[int, int] = SIZES["desktop"]) -> tuple[Any, list[str]]:
    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.goto(f"{settings.webchat_url}/")
    page.locator(".rw-new-message").wait_for(timeout=30_000)
    return page, requested


def say(page: Any, text: str) -> None:
    box = page.locator(".rw-new-message")
    box.fill(text)
    box.press("Enter")


def session_id(page: Any) -> str:
    return str(json.loads(page.evaluate("sessionStorage.getItem('chat_session')"))["session_id"])


def test_widget_answers_with_its_source(page_server: Settings, browser: Any) -> None:
    page, _ = open_chat(browser, page_server)
    say(page, "垃圾几点扔")
    answer = page.locator(".rw-response", has_text="来源")
    answer.first.wait_for(timeout=60_000)
    text = answer.first.inner_text()
    assert "7:00" in text or "投放" in text
    assert "garbage" in text  # the citation names the entry's topic and id


@pytest.mark.parametrize("size", SIZES)
def test_the_page_shows_the_conversation_and_the_input_and_stays_local(page_server: Settings, browser: Any,
                                                                       size: str) -> None:
    width, height = SIZES[size]
    page, requested = open_chat(browser, page_server, (width, height))
    page.wait_for_timeout(1500)
    assert page.locator(".rw-response").count() == 0    # the page opens on nothing said (not "unavailable")
    say(page, "车位怎么租")
    page.locator(".rw-response").first.wait_for(timeout=60_000)
    page.wait_for_timeout(500)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"webchat-{size}.png"))
    box = page.locator(".rw-new-message").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
    assert box["y"] >= 0 and box["y"] + box["height"] <= height, box        # the input is in view
    messages = page.locator(".rw-messages-container").bounding_box()
    assert messages is not None and messages["height"] >= height * 0.4      # and so is the conversation
    hosts = {urlsplit(u).hostname for u in requested if not u.startswith(("data:", "blob:"))}
    assert hosts <= {"127.0.0.1", "localhost"}, hosts


def test_personal_data_never_reaches_a_tracker(page_server: Settings, browser: Any,
                                               served: tuple[Settings, Services]) -> None:
    settings, svc = served
    page, _ = open_chat(browser, settings)
    for text in (f"我的身份证号是{ID}，帮我查下物业费", f"银行卡 {CARD} 可以交物业费吗", f"有事打我电话{PHONE}"):
        count = page.locator(".rw-response").count()
        say(page, text)
        page.locator(".rw-response").nth(count).wait_for(timeout=60_000)
    page.locator(".rw-response", has_text="隐私").first.wait_for(timeout=30_000)
    assert page.locator(".rw-response", has_text="隐私").count() >= 3    # the privacy warning, each time
    # a 64k message: answered quickly, and Rasa's memory grows no more than for a message of the clipped length
    # (the first long message lets the NLU's buffers grow once: that is the long one's cost, not the huge one's)
    count = page.locator(".rw-response").count()
    say(page, "楼上装修太吵了" * (MAX_MESSAGE_CHARS // 7))
    page.locator(".rw-response").nth(count).wait_for(timeout=30_000)
    rasa = next(p for n, p in svc.started if n == "rasa") if svc.started else None
    rss = (lambda: _rss(rasa.pid)) if rasa else (lambda: 0)
    before, count, start = rss(), page.locator(".rw-response").count(), time.monotonic()
    say(page, "楼上装修太吵了" * 9400)
    page.locator(".rw-response").nth(count).wait_for(timeout=30_000)
    took, grew = time.monotonic() - start, rss() - before
    print(f"64k web-chat message: answered in {took:.2f} s, Rasa RSS {grew / 2**20:+.1f} MB")
    sessions = {session_id(page)}
    page.close()
    tracker = json.dumps([httpx.get(f"{settings.rasa_url}/conversations/{s}/tracker", timeout=10, trust_env=False,
                                    params={"token": settings.rasa_api_token()}).json() for s in sessions],
                         ensure_ascii=False)
    assert "隐藏" in tracker and "物业费" in tracker          # the redacted messages did reach Rasa
    for number in (ID, CARD, PHONE, CARD[:4] + " " + CARD[4:8]):
        assert number not in tracker
    assert took < 10 and grew < 100 * 2**20, (took, grew)


def test_the_widget_gets_the_polite_reply_while_the_action_server_is_down(
        page_server: Settings, browser: Any, served: tuple[Settings, Services]) -> None:
    settings, svc = served
    if not any(n == "actions" for n, _ in svc.started):
        pytest.skip("the action server was not started by this test session")
    svc.stop("actions")
    try:
        page, _ = open_chat(browser, settings)
        say(page, "车位怎么租")
        page.locator(".rw-response", has_text=SERVICE_DOWN[:8]).first.wait_for(timeout=30_000)
    finally:
        svc.start()


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0
