"""The real-client test: the rasa-webchat widget in headless Debian chromium, through socket.io."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assistant.settings import Settings
from assistant.runtime.services import Services
from assistant.channels.webchat import serve_page

pytestmark = pytest.mark.services
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def page_server(served: tuple[Settings, Services]):  # noqa: ANN201
    server = serve_page(served[0])
    yield served[0]
    server.shutdown()
    server.server_close()


def test_widget_answers_with_its_source(page_server: Settings, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Debian chromium not found at {CHROMIUM}: run `make setup` (scripts/bootstrap.sh installs it)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS,
                                    env={"HOME": str(tmp_path)})
        try:
            page = browser.new_page()
            page.goto(f"{page_server.webchat_url}/")
            box = page.locator(".rw-new-message")
            box.wait_for(timeout=30_000)
            box.fill("垃圾几点扔")
            box.press("Enter")
            answer = page.locator(".rw-response", has_text="来源")
            answer.first.wait_for(timeout=60_000)
            text = answer.first.inner_text()
            page.screenshot(path=str(tmp_path / "webchat.png"))
        finally:
            browser.close()
    assert "7:00" in text or "投放" in text
    assert "garbage" in text  # the citation names the entry's topic and id
