"""``python -m assistant webhook``: the server it builds, fed bad input, and its argument errors."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from assistant.channels import sign, signed_headers
from assistant.runtime.app import group_gateway, residents_roster
from assistant.channels.webhook import WebhookServer
from assistant.cli.webhook import build_webhook_server
from assistant.cli.main import main
from assistant.settings import load_settings
from assistant.errors import ConfigError, DataError
from assistant.channels.gateway import Gateway

from .conftest import FakeAnswerer, body, message, signed_response

SECRET = "0123456789abcdef-cli-secret"
ID_NUMBER = "11010519491231002X"
RESIDENTS_ENV = "ASSISTANT_RESIDENTS_CSV"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The project folder is a temporary one: the strike database lands there."""
    monkeypatch.setenv("ASSISTANT_HOME", str(tmp_path))
    monkeypatch.delenv(RESIDENTS_ENV, raising=False)
    return tmp_path


@pytest.fixture
def served(home: Path, answerer: FakeAnswerer) -> Iterator[WebhookServer]:
    """The command's own gateway (rules, persistent strikes) and server, with a fake answerer."""
    gateway = group_gateway(load_settings(), answerer=answerer)
    server = build_webhook_server(gateway, "127.0.0.1", 0, SECRET)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def post(server: WebhookServer, data: bytes, signature: str | None = "auto",
         client: httpx.Client | None = None) -> httpx.Response:
    headers = {"Content-Type": "application/json", **signed_headers(SECRET, data)}
    if signature is None:
        del headers["X-Signature"]
    elif signature != "auto":
        headers["X-Signature"] = signature
    if client is not None:
        return client.post(server.url, content=data, headers=headers)
    return httpx.post(server.url, content=data, headers=headers, trust_env=False, timeout=10)


# -- the server ------------------------------------------------------------------------------------


def test_strikes_are_kept_in_the_project_database(served: WebhookServer, home: Path) -> None:
    assert post(served, body(message("加V：abc12345 领福利", "u2", message_id="m1"))).json()["route"] == "moderation"
    assert (home / ".run" / "moderation.sqlite3").is_file()


def test_malformed_json_is_400_with_a_clear_error(served: WebhookServer, answerer: FakeAnswerer) -> None:
    for raw in (b'{"conversation_id": "g1",', b"\xff\xfe{}", b"", b"null"):
        resp = post(served, raw)
        assert resp.status_code == 400, raw
        data = resp.json()
        assert data["field"] == "body" and data["error"]
        assert signed_response(resp, SECRET)
    assert "malformed JSON" in post(served, b"{oops").json()["error"]
    assert answerer.calls == []


def test_wrong_signature_is_401(served: WebhookServer, answerer: FakeAnswerer) -> None:
    data = body(message("@助手 垃圾几点扔"))
    ts, nonce = int(time.time()), "n" * 16
    for sig in (None, "sha256=" + "0" * 64, sign("another-secret-of-16+", data, ts, nonce),
                sign(SECRET, data + b" ", ts, nonce)):
        resp = post(served, data, signature=sig)
        assert resp.status_code == 401 and resp.json()["field"] == "X-Signature"
    assert answerer.calls == []


def test_unknown_platform_fields_are_ignored(served: WebhookServer, answerer: FakeAnswerer) -> None:
    payload = {**message("@助手 垃圾几点扔"), "platform": "wecom", "x_corp": {"agent_id": 1000002},
               "sender": {"id": "u1", "nickname": "5-101-张三", "avatar": "https://x", "dept": [1, 2]}}
    data = post(served, body(payload)).json()
    assert data["route"] == "answer" and data["messages"][0]["text"] == "答：垃圾几点扔"
    # a known field with the wrong type is a clear 400, not ignored
    resp = post(served, body({**message("x"), "is_group": "yes"}))
    assert resp.status_code == 400 and resp.json()["field"] == "is_group"


def test_ten_thousand_character_message_gets_a_safe_reply(served: WebhookServer, answerer: FakeAnswerer) -> None:
    text = "@助手 " + ("小区东门的路灯坏了好几天晚上很黑" * 625)[:9_990] + ID_NUMBER
    resp = post(served, body(message(text)))
    assert resp.status_code == 200
    data = resp.json()
    assert data["route"] == "answer" and 0 < len(data["messages"][0]["text"]) < 100
    assert ID_NUMBER not in resp.text and ID_NUMBER not in answerer.texts[0]
    # the sender is told privately that the number was hidden, and the message is recalled
    assert any(m["private_to"] == "u1" for m in data["messages"])
    assert [a["action"] for a in data["actions"]] == ["recall"]


def test_burst_of_500_signed_posts_from_several_threads(served: WebhookServer, answerer: FakeAnswerer) -> None:
    n, threads = 500, 16
    ad = {i for i in range(n) if i % 10 == 7}       # every tenth is an ad: strikes written concurrently
    payloads = [body(message(f"加V：abc{i:05d} 领福利" if i in ad else f"@助手 第{i}个问题 垃圾几点扔",
                             f"u{i}", f"g{i % 5}", message_id=f"m{i}")) for i in range(n)]
    clients = [httpx.Client(trust_env=False, timeout=30) for _ in range(threads)]
    statuses: list[int] = []
    lock = threading.Lock()

    def send(i: int) -> dict[str, Any]:
        resp = post(served, payloads[i], client=clients[i % threads])
        with lock:
            statuses.append(resp.status_code)
        return resp.json()

    try:
        start = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            results = list(pool.map(send, range(n)))
        elapsed = time.perf_counter() - start
    finally:
        for c in clients:
            c.close()
    print(f"\nwebhook command burst: {n} signed POSTs from {threads} threads in {elapsed * 1000:.0f} ms "
          f"({n / elapsed:.0f}/s)")
    assert statuses.count(200) == n == len(results)
    assert [r["route"] for r in results] == ["moderation" if i in ad else "answer" for i in range(n)]
    assert all(r["actions"][0]["message_id"] == f"m{i}" for i, r in enumerate(results) if i in ad)
    assert sorted(answerer.texts) == sorted(f"第{i}个问题 垃圾几点扔" for i in range(n) if i not in ad)
    assert elapsed < 10
    # no crash: the server still answers
    assert post(served, body(message("@助手 还在吗"))).json()["route"] == "answer"


def test_roster_reaches_the_gateway(home: Path, answerer: FakeAnswerer, monkeypatch: pytest.MonkeyPatch) -> None:
    units = home / "units.csv"
    units.write_text("building,unit,room\n5,,101\n12,2,1802\n", encoding="utf-8")
    monkeypatch.setenv(RESIDENTS_ENV, str(units))
    settings = load_settings()
    gateway = group_gateway(settings, residents_roster(settings), answerer=answerer, persistent_strikes=False)
    from assistant.channels import MemberJoined

    known = gateway.handle(MemberJoined("webhook", "g1", "u1", "12-2-1802-王五"))
    unknown = gateway.handle(MemberJoined("webhook", "g1", "u2", "5-999-李四"))
    assert len(known.outgoing) == 1
    assert unknown.outgoing[1].private_to == "u2" and "5-999" in unknown.outgoing[1].text


def test_build_webhook_server_refuses_a_short_secret(gateway: Gateway) -> None:
    for secret in ("", "short", "x" * 15):
        with pytest.raises(ConfigError, match="16"):
            build_webhook_server(gateway, "127.0.0.1", 0, secret)


@pytest.mark.parametrize("text, line", [
    ("building,unit,room\n5,,101\n5,x,102\n", 3),
    ("house,room\n5,101\n", 1),
    ("building,unit,room\n", 1),
    ("building,unit,room\n5,,101\n6,1\n", 3),
])
def test_bad_roster_names_the_file_and_line(tmp_path: Path, text: str, line: int) -> None:
    p = tmp_path / "units.csv"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(DataError) as err:
        residents_roster(load_settings(), p)
    assert err.value.line == line and f"{p}:{line}" in str(err.value)


# -- the command's argument errors ---------------------------------------------------------------


def test_cli_refuses_a_missing_or_short_secret(home: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("ASSISTANT_WEBHOOK_SECRET", raising=False)
    assert main(["webhook", "--port", "0"]) == 2
    assert "$ASSISTANT_WEBHOOK_SECRET is not set" in capsys.readouterr().err
    monkeypatch.setenv("MY_SECRET", "tooshort")
    assert main(["webhook", "--port", "0", "--secret-env", "MY_SECRET"]) == 2
    err = capsys.readouterr().err
    assert "$MY_SECRET is 8 characters" in err and "at least 16" in err
    monkeypatch.setenv("MY_SECRET", "")
    assert main(["webhook", "--secret-env", "MY_SECRET"]) == 2
    assert "empty" in capsys.readouterr().err


def test_cli_bad_port_and_port_in_use(home: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ASSISTANT_WEBHOOK_SECRET", SECRET)
    assert main(["webhook", "--port", "70000"]) == 2
    assert "not a port number" in capsys.readouterr().err
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["webhook", "--port", str(port)]) == 1
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["webhook", "--port", "eighty"])
    for window in ("0", "100000"):
        assert main(["webhook", "--port", "0", "--replay-window", window]) == 2
        assert f"--replay-window {window} is not between 1 and 86400" in capsys.readouterr().err


def test_build_webhook_server_passes_the_replay_window(gateway: Gateway) -> None:
    server = build_webhook_server(gateway, "127.0.0.1", 0, SECRET, replay_window=42)
    try:
        assert server.handler.guard.window == 42
    finally:
        server.server_close()


def test_cli_bad_roster(home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ASSISTANT_WEBHOOK_SECRET", SECRET)
    bad = home / "units.csv"
    bad.write_text("building,unit,room\n5,,101\n5,,1O2\n", encoding="utf-8")
    assert main(["webhook", "--port", "0", "--residents", str(bad)]) == 2
    assert f"{bad}:3" in capsys.readouterr().err
    monkeypatch.setenv(RESIDENTS_ENV, str(home / "missing.csv"))
    assert main(["webhook", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "missing.csv" in err and "not found" in err
    # chat --group takes the same option and fails before starting anything
    assert main(["chat", "--group", "--residents", str(bad)]) == 2
    assert f"{bad}:3" in capsys.readouterr().err
