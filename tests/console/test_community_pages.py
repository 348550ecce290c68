"""The console's community pages: every page behind the login, exports, the survey plot, forms with
CSRF and bad input refused with a Chinese message; and in headless Debian chromium, at desktop and
phone sizes, with screenshots (kept in the test's tmp folder; CJK must render)."""

from __future__ import annotations

import csv
import io
import random
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image

from assistant.community.service import Community, open_community
from assistant.console import create_app
from assistant.desk.desk import Desk

from ..pg import FakeClock
from .conftest import CSRF_RE, TOKENS
from .test_browser import CHROMIUM, FLAGS, free_port  # noqa: F401 - free_port used by served


@pytest.fixture
def community(tmp_path: Path, clock: FakeClock) -> Iterator[Community]:
    c = open_community(f"sqlite:///{tmp_path / 'tickets.db'}", key_file=tmp_path / "fb.key", clock=clock)
    yield c
    c.close()


@pytest.fixture
def filled(community: Community) -> Community:
    s = community.signups.start("group-1", "周六亲子运动会 限3人 截止周五18:00", created_by="wx-1")
    for unit in ("5-101", "6-202", "7-303", "8-404"):
        community.signups.join(s.id, unit, f"wx-{unit}")
    survey = community.surveys.from_template("quarterly_satisfaction")
    rng = random.Random(3)
    for i in range(20):
        answers = {q.id: (rng.choice(q.options) if q.kind == "single" else rng.sample(q.options, 2)
                          if q.kind == "multiple" else "希望地库照明再亮一些") for q in survey.questions}
        community.surveys.submit(survey.id, f"{i + 1}-101", answers)
    community.feedback.submit("k1", "东门晚上十点后能否保留一个人行通道")
    community.help.post("6-202", "wx-6-202", "提供 宠物 周末可以帮忙喂猫")
    community.help.add_contact("3-1-502", "王奶奶", "王小明", "儿子", "13812345678", "王奶奶本人口头同意登记，社区走访时确认",
                               "wang")
    return community


@pytest.fixture
def app(desk: Desk, filled: Community) -> FastAPI:
    return create_app(desk, TOKENS, community=filled)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, follow_redirects=False) as c:
        c.headers["Authorization"] = f"Bearer {TOKENS['wang']}"
        yield c


PAGES = ["/community/signups", "/community/signups/1", "/community/surveys", "/community/surveys/1",
         "/community/feedback", "/community/help"]


def test_pages_need_a_login(app: FastAPI) -> None:
    with TestClient(app, follow_redirects=False) as anon:
        for url in [*PAGES, "/community/signups/1/export.csv", "/community/surveys/1/plot.png"]:
            r = anon.get(url)
            assert r.status_code == 303 and r.headers["location"].startswith("/login"), url
        assert anon.post("/community/signups/1/close").status_code == 401


def test_pages_show_the_community(client: TestClient) -> None:
    for url in PAGES:
        r = client.get(url)
        assert r.status_code == 200, url
    assert "候补" in client.get("/community/signups/1").text and "8-404" in client.get("/community/signups/1").text
    assert "20 户作答" in client.get("/community/surveys/1").text
    assert "东门晚上十点后" in client.get("/community/feedback").text
    page = client.get("/community/help").text
    assert "王小明（儿子）" in page and "王奶奶本人口头同意登记" in page and "周末可以帮忙喂猫" in page
    rows = list(csv.reader(io.StringIO(client.get("/community/signups/1/export.csv").text.lstrip("\ufeff"))))
    assert [r[1] for r in rows[1:]] == ["5-101", "6-202", "7-303", "8-404"]
    x = client.get("/community/signups/1/export.xlsx")
    assert x.status_code == 200 and x.content[:2] == b"PK"
    png = client.get("/community/surveys/1/plot.png")
    assert png.headers["content-type"] == "image/png" and Image.open(io.BytesIO(png.content)).size[0] > 500
    assert client.get("/community/signups/99").status_code == 404
    for url in ("/community/signups/99999999999999999999", "/community/signups/42/export.xlsx", "/community/signups/99999999999999999999/export.csv",
                "/community/surveys/99999999999999999999/plot.png"):
        assert client.get(url).status_code == 404, url


def test_forms_change_things_and_refuse_bad_input(client: TestClient, filled: Community) -> None:
    r = client.post("/community/contacts", data={"unit": "五号楼", "resident": "李爷爷", "contact_name": "李雷",
                                                 "relation": "孙子", "phone": "13812345678", "consent": "本人同意登记"})
    assert r.status_code == 400 and "看不懂房号" in r.text
    r = client.post("/community/contacts", data={"unit": "5-101", "resident": "李爷爷", "contact_name": "李雷",
                                                 "relation": "孙子", "phone": "12345", "consent": "本人同意登记"})
    assert r.status_code == 400 and "电话号码格式不对" in r.text
    r = client.post("/community/contacts", data={"unit": "5-101", "resident": "李爷爷", "contact_name": "李雷",
                                                 "relation": "孙子", "phone": "13912345678", "consent": ""})
    assert r.status_code == 400 and "同意" in r.text
    assert len(filled.help.contacts()) == 1
    assert client.post("/community/surveys", data={"template": "../../etc/passwd"}).status_code == 400
    assert client.post("/community/surveys", data={"template": "quarterly_satisfaction"}).status_code == 303
    assert client.post("/community/signups/1/close").status_code == 303
    assert filled.signups.get(1).closed_at is not None
    [fb] = filled.feedback.list()
    assert client.post(f"/community/feedback/{fb.id}/done").status_code == 303
    assert filled.feedback.list()[0].handled


def test_a_cookie_session_needs_the_csrf_token(app: FastAPI, filled: Community) -> None:
    with TestClient(app, follow_redirects=False) as c:
        c.post("/login", data={"token": TOKENS["li"], "next": "/community/signups"})
        page = c.get("/community/signups/1").text
        assert c.post("/community/signups/1/close", data={"csrf": "wrong"}).status_code == 403
        token = CSRF_RE.search(page).group(1)                   # type: ignore[union-attr]
        assert c.post("/community/signups/1/close", data={"csrf": token}).status_code == 303


@pytest.mark.services          # serves the console with uvicorn on a free port
@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Debian chromium not found at {CHROMIUM}")
def test_the_pages_in_chromium_at_desktop_and_phone_sizes(app: FastAPI, tmp_path: Path) -> None:
    import threading
    import time

    import uvicorn
    from playwright.sync_api import sync_playwright

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    shots = tmp_path / "shots"
    shots.mkdir()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS,
                                        env={"HOME": str(tmp_path)})
            try:
                for name, size in (("desktop", {"width": 1280, "height": 900}), ("phone", {"width": 390, "height": 844})):
                    page = browser.new_page(locale="zh-CN", viewport=size)
                    page.set_default_timeout(15_000)
                    page.goto(f"{base}/community/signups")
                    page.fill("#token", TOKENS["wang"])
                    page.click("#login")
                    page.wait_for_url(re.compile(r".*/community/signups$"))
                    page.click("text=周六亲子运动会")
                    assert page.locator("#entries tr.entry-waiting").count() == 1
                    page.screenshot(path=str(shots / f"signup-{name}.png"), full_page=True)
                    page.click("#nav-surveys")
                    page.click("text=锦山壹号物业服务季度满意度调查")
                    page.wait_for_load_state("load")               # the plot image has arrived
                    box = page.locator("#plot").bounding_box()
                    assert box is not None and box["height"] > 200          # a drawn chart, not the alt text
                    page.screenshot(path=str(shots / f"survey-{name}.png"), full_page=True)
                    page.click("#nav-feedback")
                    page.screenshot(path=str(shots / f"feedback-{name}.png"), full_page=True)
                    page.click("#nav-help")
                    page.fill("#c-unit", "5-101")
                    page.fill("#c-resident", "李爷爷")
                    page.fill("#c-name", "李雷" if name == "desktop" else "韩梅梅")
                    page.fill("#c-relation", "孙子")
                    page.fill("#c-phone", "13912345678")
                    page.fill("#c-consent", "李爷爷本人电话中同意登记")
                    page.click("#c-add")
                    assert "已登记 5-101 的紧急联系人" in page.content()
                    page.screenshot(path=str(shots / f"help-{name}.png"), full_page=True)
                    page.close()
            finally:
                browser.close()
    finally:
        server.should_exit = True
        thread.join(10)
    for png in shots.glob("*.png"):
        assert Image.open(png).size[0] in (1280, 390), png
