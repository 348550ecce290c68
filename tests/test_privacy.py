"""After a conversation with an ID number, a bank card and a phone number, none of them is found in
any log, the ticket database, the strike store or Rasa's tracker."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
import pytest

from assistant.settings import Settings
from assistant.moderation.pii import id_check_char, is_mobile, luhn_check_digit
from assistant.runtime.services import Services

from .conftest import ROOT

pytestmark = pytest.mark.services

ID = "11010519491231002" + id_check_char("11010519491231002")
CARD = "620000123456789" + luhn_check_digit("620000123456789")
PHONE = "13900001234"


def forms(number: str) -> list[str]:
    return [number, " ".join(number[i:i + 4] for i in range(0, len(number), 4))]


def raw_text(path: str | os.PathLike[str]) -> str:
    """A file's bytes, read by another process: closing a descriptor of an SQLite file in this process
    would drop this process's locks on it (https://www.sqlite.org/howtocorrupt.html, 2.2), and the
    next server to close the database would take itself for the last one and remove the WAL."""
    raw = subprocess.run(["cat", str(path)], capture_output=True, check=True).stdout
    return raw.decode("utf-8", errors="replace")


def test_personal_data_is_never_stored_or_logged(served: tuple[Settings, Services]) -> None:
    settings, _ = served
    assert is_mobile(PHONE)
    sender = "privacy-resident-1"
    messages = [f"我的身份证号是{ID}，帮我查下物业费", f"银行卡 {forms(CARD)[1]} 可以交物业费吗",
                f"楼上装修太吵了，有事打我电话{PHONE}", "楼上装修太吵了，每天早上七点就开始", "转人工"]
    lines = "".join(json.dumps({"text": m, "sender": sender}, ensure_ascii=False) + "\n" for m in messages)
    cmd = [sys.executable, "-m", "assistant", "--rasa-port", str(settings.rasa_port), "--action-port",
           str(settings.action_port), "ask", "--jsonl"]
    out = subprocess.run(cmd, input=lines, capture_output=True, text=True, cwd=ROOT, timeout=300, check=True)
    replies = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["route"] for r in replies][:3] == ["moderation"] * 3
    assert replies[3]["route"] == "ticket" and replies[4]["route"] == "handoff"
    group = "5-101-zhang: @助手 我卡号" + CARD + "，电话" + PHONE + "，身份证" + ID + "\n/quit\n"
    subprocess.run([*cmd[:-2], "chat", "--group"], input=group, capture_output=True, text=True, cwd=ROOT,
                   timeout=300, check=True)

    places = {"ask output": out.stdout}
    for conversation in (sender, "terminal:terminal-group:5-101-zhang"):  # the group chat's resident
        tracker = httpx.get(f"{settings.rasa_url}/conversations/{conversation}/tracker", timeout=10,
                            params={"token": settings.rasa_api_token()}, trust_env=False).json()
        places[f"rasa tracker {conversation}"] = json.dumps(tracker, ensure_ascii=False)
    # The group message reached Rasa, redacted: the tracker holds it without the numbers.
    assert "隐藏" in places["rasa tracker terminal:terminal-group:5-101-zhang"]
    for folder in (ROOT / ".run", ROOT / "models"):
        for path in folder.rglob("*"):
            if path.is_file() and (path.suffix in (".log", ".db", ".sqlite3", ".db-wal") or "tickets" in path.name):
                places[str(path)] = raw_text(path)
    db_url = os.environ["ASSISTANT_TICKETS_URL"]
    db_file = db_url.removeprefix("sqlite:///")
    for suffix in ("", "-wal"):
        if os.path.exists(db_file + suffix):
            places[db_file + suffix] = raw_text(db_file + suffix)
    assert any("tickets.db" in p for p in places), places.keys()
    for name, content in places.items():
        for number in (*forms(ID), *forms(CARD), PHONE):
            assert number not in content, f"{number[:4]}… found in {name}"
