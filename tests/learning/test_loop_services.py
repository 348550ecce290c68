"""Issue #12's bar, with real parts: a question the bot cannot answer is asked through the client
(``assistant.channels.client``, as ``ask`` does) of the real Rasa and action servers; it shows in the
console's review queue; an admin writes a new entry in the console form in headless Debian chromium;
the identical question and a paraphrase are then answered from that entry by the same running servers
(no restart, no retraining). The knowledge base is a scratch copy (ASSISTANT_KNOWLEDGE_DIR): the repo's
knowledge/ is never written."""

from __future__ import annotations

import hashlib
import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from assistant.dialogue import replies
from assistant.runtime.app import learning_service, open_assistant, open_desk
from assistant.runtime.services import rasa_model
from assistant.settings import Settings, load_settings

from ..conftest import ROOT, free_port

pytestmark = pytest.mark.services
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
TOKEN = "wang-learning-loop-token-0123456789"
QUESTION = "小区游泳池几点开门"          # no entry about a pool in knowledge/: at most the nearest entry, said so
PARAPHRASE = "游泳池夏天几点开放"          # never typed anywhere: must come through the new entry's vectors
ANSWER = "游泳池夏季每天 9:00-21:00 开放，凭门禁卡入场，详询 {{property_phone}}。"


def fingerprint(folder: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(folder.rglob("*")):
        if f.is_file():
            h.update(str(f.relative_to(folder)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Scratch knowledge/ (with a copy of its index beside it, so nothing is re-encoded) and database."""
    base = load_settings()
    if not rasa_model(base).exists():
        pytest.fail("no trained Rasa model: run `make setup` (the README's test command does)")
    scratch = tmp_path / "kb"
    shutil.copytree(base.knowledge_dir, scratch / "knowledge")
    if base.index_dir.exists():
        shutil.copytree(base.index_dir, scratch / "index")
    monkeypatch.setenv("ASSISTANT_KNOWLEDGE_DIR", str(scratch / "knowledge"))
    monkeypatch.setenv("ASSISTANT_TICKETS_URL", f"sqlite:///{tmp_path / 'desk.db'}")
    return load_settings().with_ports(free_port(), free_port(), free_port())


@pytest.fixture
def console(settings: Settings) -> Iterator[str]:
    """The admins' console (as `python -m assistant console` builds it) on the scratch database and KB."""
    from assistant.console import create_app

    desk = open_desk(settings)
    app = create_app(desk, {"wang": TOKEN}, learning=learning_service(settings))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True, name="console")
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start the console")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
    desk.close()


def test_unanswered_question_learned_in_console_answered_live(settings: Settings, console: str,
                                                              tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Debian chromium not found at {CHROMIUM}: run `make setup` (scripts/bootstrap.sh installs it)")
    repo_kb = fingerprint(ROOT / "knowledge")
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    with open_assistant(settings) as bot:                       # starts the real servers, stops them after
        timings["servers"] = time.monotonic() - t0
        before = bot.ask(QUESTION, sender="loop-resident-1")
        # the bot cannot answer it yet: a fallback, or the nearest entry said to be only the nearest
        assert before.route != "answer" or replies.NEAREST in before.replies, before.as_dict()

        t1 = time.monotonic()
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, env={"HOME": str(tmp_path)})
            try:
                page = browser.new_page(locale="zh-CN")
                page.set_default_timeout(30_000)
                page.goto(f"{console}/review")
                assert "/login" in page.url                      # the queue is for admins only
                page.fill("#token", TOKEN)
                page.click("#login")
                page.wait_for_url(f"{console}/review")           # back to the page asked for, logged in
                group = page.locator("section.group", has_text=QUESTION)
                expect(group).to_have_count(1)                   # the missed question is in the queue, as asked
                group.locator("summary", has_text="写新条目").click()
                form = group.locator("form.new-entry")
                form.locator("select[name=topic]").select_option("community")
                form.locator("input[name=title]").fill("小区游泳池开放时间")
                form.locator("textarea[name=answer]").fill(ANSWER)
                form.locator("textarea[name=questions]").fill(f"{QUESTION}\n游泳池要办卡吗")
                form.locator("button", has_text="保存新条目").click()
                flash = page.locator(".flash-ok")
                expect(flash).to_contain_text("已新建条目")
                m = re.search(r"已新建条目 (\S+?)，", flash.inner_text())
                assert m, flash.inner_text()
                entry_id = m.group(1)
                expect(page.locator("section.group", has_text=QUESTION)).to_have_count(0)   # decided: gone
            finally:
                browser.close()
        timings["console"] = time.monotonic() - t1

        # the same running servers: fresh conversations, the identical question and a paraphrase
        t2 = time.monotonic()
        for i, text in enumerate((QUESTION, PARAPHRASE)):
            after = bot.ask(text, sender=f"loop-resident-{i + 2}")
            assert after.route == "answer" and replies.NEAREST not in after.replies, (text, after.as_dict())
            assert after.sources and after.sources[0]["id"] == entry_id, (text, after.as_dict())
            assert "9:00-21:00" in "\n".join(after.replies)
            assert "{{" not in "\n".join(after.replies)            # the placeholder was filled from contacts.yml
        timings["answered"] = time.monotonic() - t2

    written = (settings.knowledge_dir / "community.yml").read_text(encoding="utf-8")
    assert f"id: {entry_id}" in written and PARAPHRASE not in written
    assert fingerprint(ROOT / "knowledge") == repo_kb                # the repo's knowledge/ was not touched
    print("timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))
