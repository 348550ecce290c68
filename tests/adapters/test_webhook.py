from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from assistant.channels import WebhookAdapter, sign, signed_headers
from assistant.channels import webhook as webhook_module
from assistant.channels.webhook import MAX_BODY, RecentIds, ReplayGuard, WebhookServer, json_depth, make_webhook_server
from assistant.errors import ConfigError
from assistant.channels.gateway import Gateway
from assistant.desk.notices import open_outbox

from .conftest import SECRET, FakeAnswerer, body, message, signed_response


def post(server: WebhookServer, data: bytes, signature: str | bytes | None = "auto",
         client: httpx.Client | None = None, headers: dict[str, Any] | None = None) -> httpx.Response:
    """POST ``data`` with a fresh timestamp and nonce, signed unless ``signature`` is given (None: none);
    ``headers`` replace those (None: leave the header out)."""
    signed: dict[str, Any] = signed_headers(SECRET, data)
    if signature != "auto":
        signed["X-Signature"] = signature
    merged = {"Content-Type": "application/json", **signed, **(headers or {})}
    sent = {k: v for k, v in merged.items() if v is not None}
    if client is not None:
        return client.post(server.url, content=data, headers=sent)
    return httpx.post(server.url, content=data, headers=sent, trust_env=False, timeout=10)


def test_signed_message_is_answered(webhook: WebhookServer, answerer: FakeAnswerer) -> None:
    resp = post(webhook, body(message("@助手 垃圾几点扔", message_id="m1")))
    assert resp.status_code == 200
    assert signed_response(resp)
    data = resp.json()
    assert data["route"] == "answer"
    assert data["messages"] == [{"conversation_id": "g1", "text": "答：垃圾几点扔", "private_to": None, "at": "u1"}]
    assert data["actions"] == [] and answerer.calls == [("垃圾几点扔", "webhook:g1:u1")]


def test_pending_notice_comes_with_that_conversations_next_response(webhook: WebhookServer, gateway: Gateway,
                                                                     tmp_path: Path) -> None:
    gateway.outbox = outbox = open_outbox(f"sqlite:///{tmp_path / 'tickets.db'}")
    outbox.add("webhook:g1:u1", ["请为本次处理打分 1-5"], "csat", "T-20261123-0001")
    other = post(webhook, body(message("@助手 垃圾几点扔", "u2"))).json()             # another resident
    assert [m["text"] for m in other["messages"]] == ["答：垃圾几点扔"]
    data = post(webhook, body(message("@助手 车位怎么租"))).json()
    assert data["messages"] == [
        {"conversation_id": "g1", "text": "请为本次处理打分 1-5", "private_to": None, "at": "u1"},
        {"conversation_id": "g1", "text": "答：车位怎么租", "private_to": None, "at": "u1"}]
    again = post(webhook, body(message("@助手 好的"))).json()
    assert [m["text"] for m in again["messages"]] == ["答：好的"]
    outbox.dispose()


def test_moderation_over_http(webhook: WebhookServer, answerer: FakeAnswerer) -> None:
    data = post(webhook, body(message("加V：abc12345 领福利", "u2", message_id="m2"))).json()
    assert data["route"] == "moderation"
    assert data["messages"][0]["private_to"] == "u2"
    assert [(a["action"], a["reason"], a["message_id"]) for a in data["actions"]] == [
        ("recall", "ad.wechat", "m2"), ("warn", "ad.wechat", "m2")]
    assert answerer.calls == []


def test_member_joined_over_http(webhook: WebhookServer) -> None:
    data = post(webhook, body({"type": "member_joined", "conversation_id": "g1",
                               "sender": {"id": "u5", "nickname": "张三"}})).json()
    assert data["route"] == "greeting" and len(data["messages"]) == 2


@pytest.mark.parametrize("signature", [None, "", "sha256=00", "sha256=" + "0" * 64, "md5=abc",
                                       "sha256=\u00fc".encode()])
def test_wrong_or_missing_signature_is_401(webhook: WebhookServer, answerer: FakeAnswerer,
                                           signature: str | bytes | None) -> None:
    resp = post(webhook, body(message("@助手 垃圾几点扔")), signature=signature)
    assert resp.status_code == 401 and "X-Signature" in resp.json()["error"]
    assert answerer.calls == []


def test_signature_over_another_body_is_401(webhook: WebhookServer) -> None:
    other = signed_headers(SECRET, body(message("@助手 你好")))
    resp = post(webhook, body(message("@助手 转账")), headers=other)
    assert resp.status_code == 401 and resp.json()["field"] == "X-Signature"


def test_malformed_json_is_400_naming_the_problem(webhook: WebhookServer) -> None:
    resp = post(webhook, b'{"conversation_id": "g1",')
    assert resp.status_code == 400
    assert resp.json()["field"] == "body" and "malformed JSON" in resp.json()["error"]
    missing = post(webhook, body({"conversation_id": "g1", "sender": {"id": "u1"}}))
    assert missing.status_code == 400 and missing.json()["field"] == "text"


def test_unknown_fields_are_ignored(webhook: WebhookServer) -> None:
    payload = {**message("@助手 垃圾几点扔"), "x_platform": {"a": [1]}, "unknown": None}
    assert post(webhook, body(payload)).json()["route"] == "answer"


def test_oversized_body_is_413(webhook: WebhookServer, answerer: FakeAnswerer) -> None:
    big = body(message("@助手 " + "很" * MAX_BODY))
    resp = post(webhook, big)
    assert resp.status_code == 413 and resp.json()["field"] == "body"
    assert answerer.calls == []
    # the server is still fine afterwards
    assert post(webhook, body(message("@助手 垃圾几点扔"))).status_code == 200


def test_missing_content_length_is_411(webhook: WebhookServer) -> None:
    host, port = webhook.server_address[:2]
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(b"POST /webhook HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        reply = s.recv(4096)
    assert reply.startswith(b"HTTP/1.1 411")


def test_other_paths(webhook: WebhookServer) -> None:
    assert httpx.get(webhook.url.replace("/webhook", "/health"), trust_env=False).json() == {"status": "ok"}
    assert post(webhook, body(message("x")), client=None).status_code == 200
    resp = httpx.post(webhook.url.replace("/webhook", "/nope"), content=b"{}", trust_env=False)
    assert resp.status_code == 404


def test_ten_thousand_character_message(webhook: WebhookServer, answerer: FakeAnswerer) -> None:
    text = "@助手 " + "小区东门的路灯坏了好几天晚上很黑" * 625
    data = body(message(text))
    assert len(data) < MAX_BODY
    assert post(webhook, data).json()["route"] == "answer"
    assert len(answerer.texts[0]) <= 2000      # the gateway cuts to MAX_MESSAGE_CHARS


def test_burst_of_500_requests(webhook: WebhookServer, answerer: FakeAnswerer) -> None:
    asks = ["车位怎么租", "厨余垃圾几点扔", "家里水管漏了找谁修", "物业费在哪里交", "快递放哪个驿站"]
    payloads = [body(message(f"@助手 {asks[i // 100]}（{i}）", f"u{i % 100}", f"g{i % 5}", message_id=f"m{i}"))
                for i in range(500)]
    clients = [httpx.Client(trust_env=False, timeout=10) for _ in range(16)]

    def send(i: int) -> dict[str, Any]:
        resp = post(webhook, payloads[i], client=clients[i % 16])
        assert resp.status_code == 200, resp.text
        return resp.json()

    try:
        start = time.perf_counter()
        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(send, range(500)))
        elapsed = time.perf_counter() - start
    finally:
        for c in clients:
            c.close()
    print(f"\nburst: 500 signed webhook requests in {elapsed * 1000:.0f} ms")
    assert elapsed < 5
    assert [r["route"] for r in results] == ["answer"] * 500
    assert len(set(answerer.texts)) == 500


def test_server_needs_a_secret(gateway: Gateway) -> None:
    with pytest.raises(ConfigError):
        make_webhook_server(gateway, "127.0.0.1", 0, secret="")


def test_adapter_without_admin_actions_renders_none(gateway: Gateway) -> None:
    adapter = WebhookAdapter(platform="plain", admin_actions=False)
    result = gateway.handle(adapter.parse(body(message("加V：abc12345 领福利"))))
    rendered = adapter.render(result)
    assert result.actions and rendered["actions"] == [] and rendered["messages"]
    assert json.dumps(rendered)


def test_much_larger_body_is_413_too(webhook: WebhookServer) -> None:
    resp = post(webhook, b"x" * (2 * 1024 * 1024))
    assert resp.status_code == 413


# -- replay protection, duplicates, limits (issue 9) ------------------------------------------------


def fresh(data: bytes, **overrides: Any) -> dict[str, str]:
    """Signed headers for ``data``; ``timestamp`` / ``nonce`` overrides are signed too."""
    return signed_headers(SECRET, data, **overrides)


def test_a_replayed_request_is_refused(webhook: WebhookServer, answerer: FakeAnswerer) -> None:
    data = body(message("@助手 垃圾几点扔"))
    headers = fresh(data)
    assert post(webhook, data, signature=headers["X-Signature"], headers=headers).status_code == 200
    again = post(webhook, data, signature=headers["X-Signature"], headers=headers)
    assert again.status_code == 401 and again.json()["field"] == "X-Nonce"
    assert "already used" in again.json()["error"] and signed_response(again)
    assert len(answerer.calls) == 1


@pytest.mark.parametrize("offset, ok", [(-290, True), (290, True), (-310, False), (310, False)])
def test_timestamp_must_be_within_the_replay_window(webhook: WebhookServer, answerer: FakeAnswerer,
                                                    offset: int, ok: bool) -> None:
    data = body(message("@助手 垃圾几点扔"))
    headers = fresh(data, timestamp=int(time.time()) + offset)
    resp = post(webhook, data, signature=headers["X-Signature"], headers=headers)
    if ok:
        assert resp.status_code == 200 and len(answerer.calls) == 1
    else:
        assert resp.status_code == 401 and resp.json()["field"] == "X-Timestamp" and answerer.calls == []
        assert "300 s" in resp.json()["error"]


def test_milliseconds_get_a_hint(webhook: WebhookServer) -> None:
    data = body(message("@助手 垃圾几点扔"))
    headers = fresh(data, timestamp=int(time.time() * 1000))
    resp = post(webhook, data, signature=headers["X-Signature"], headers=headers)
    assert resp.status_code == 401 and "milliseconds" in resp.json()["error"]


def test_replay_window_is_a_setting(gateway: Gateway) -> None:
    server = make_webhook_server(gateway, "127.0.0.1", 0, secret=SECRET, replay_window=30)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        data = body(message("@助手 垃圾几点扔"))
        headers = fresh(data, timestamp=int(time.time()) - 60)
        resp = post(server, data, signature=headers["X-Signature"], headers=headers)
        assert resp.status_code == 401 and "30 s" in resp.json()["error"]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.mark.parametrize("header, value", [
    ("X-Timestamp", None), ("X-Timestamp", ""), ("X-Timestamp", "yesterday"), ("X-Timestamp", "-5"),
    ("X-Timestamp", "1.5e9"), ("X-Nonce", None), ("X-Nonce", "short"), ("X-Nonce", "x" * 65),
    ("X-Nonce", "has spaces in it 0123"), ("X-Nonce", "dots.are.not.allowed.0123")])
def test_missing_or_bad_timestamp_or_nonce_is_401(webhook: WebhookServer, answerer: FakeAnswerer,
                                                  header: str, value: str | None) -> None:
    data = body(message("@助手 垃圾几点扔"))
    headers: dict[str, Any] = {**fresh(data), header: value}
    resp = post(webhook, data, signature=headers.pop("X-Signature"), headers=headers)
    assert resp.status_code == 401 and resp.json()["field"] == header and answerer.calls == []


def test_timestamp_and_nonce_are_signed(webhook: WebhookServer, answerer: FakeAnswerer) -> None:
    data = body(message("@助手 垃圾几点扔"))
    headers = fresh(data)
    for changed in ({"X-Nonce": "a" * 32}, {"X-Timestamp": str(int(headers["X-Timestamp"]) - 1)}):
        resp = post(webhook, data, signature=headers["X-Signature"], headers={**headers, **changed})
        assert resp.status_code == 401 and resp.json()["field"] == "X-Signature"
    old_style = sign(SECRET, b"", "", "")  # not it either: the body alone was the old scheme
    assert post(webhook, data, signature=old_style).status_code == 401
    assert answerer.calls == []


def test_upper_case_hex_is_accepted(webhook: WebhookServer) -> None:
    data = body(message("@助手 垃圾几点扔"))
    headers = fresh(data)
    assert post(webhook, data, signature=headers["X-Signature"].upper(), headers=headers).status_code == 200


def test_a_repeated_message_id_is_not_answered_twice(webhook: WebhookServer, answerer: FakeAnswerer) -> None:
    first = post(webhook, body(message("@助手 垃圾几点扔", message_id="m7")))
    second = post(webhook, body(message("@助手 垃圾几点扔", message_id="m7")))     # a retry: new nonce, same id
    assert first.json()["messages"] and "duplicate" not in first.json()
    assert second.status_code == 200 and signed_response(second)
    assert second.json() == {"duplicate": True, "route": None, "messages": [], "actions": []}
    assert len(answerer.calls) == 1
    # the same id in another conversation, and messages without an id, are answered
    assert post(webhook, body(message("@助手 垃圾几点扔", conversation="g2", message_id="m7"))).json()["messages"]
    for text in ("@助手 车位怎么租", "@助手 物业费在哪里交"):
        assert post(webhook, body(message(text))).json()["messages"]
    assert len(answerer.calls) == 4


def test_a_failed_message_can_be_retried(webhook: WebhookServer, gateway: Gateway,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(event: Any) -> Any:
        raise RuntimeError("database down")

    with monkeypatch.context() as m:
        m.setattr(gateway, "handle", broken)
        resp = post(webhook, body(message("@助手 垃圾几点扔", message_id="m9")))
    assert resp.status_code == 500 and resp.json() == {"error": "internal error", "field": None}
    assert post(webhook, body(message("@助手 垃圾几点扔", message_id="m9"))).json()["route"] == "answer"


def nested(depth: int) -> bytes:
    return body({**message("@助手 垃圾几点扔"), "x": json.loads("[" * (depth - 1) + "]" * (depth - 1))})


def test_nesting_depth_limit(webhook: WebhookServer) -> None:
    assert post(webhook, nested(32)).status_code == 200
    resp = post(webhook, nested(33))
    assert resp.status_code == 400 and resp.json()["field"] == "body" and "32" in resp.json()["error"]


@pytest.mark.parametrize("raw", [b"[" * 30_000 + b"]" * 30_000, b"{\"a\":" * 10_000 + b"1" + b"}" * 10_000,
                                 b"[" * 60_000])
def test_deeply_nested_body_is_400_not_a_closed_socket(webhook: WebhookServer, raw: bytes) -> None:
    resp = post(webhook, raw)
    assert resp.status_code == 400 and resp.json()["field"] == "body" and signed_response(resp)
    assert post(webhook, body(message("@助手 还在吗"))).status_code == 200


@pytest.mark.parametrize("payload, field", [
    ({**message("@助手 垃圾几点扔"), "sender": {"id": "u\ud800", "nickname": "x"}}, "sender.id"),
    ({**message("@助手 垃圾几点扔"), "sender": {"id": "u1", "nickname": "\udfff张三"}}, "sender.nickname"),
    (message("@助手 垃圾\udc80几点扔"), "text"),
    ({**message("@助手 x"), "conversation_id": "g\ud83d"}, "conversation_id"),
    (message("@助手 x", message_id="\ud800"), "message_id"),
    ({"type": "member_joined", "conversation_id": "g1", "sender": {"id": "\ud800"}}, "sender.id"),
])
def test_lone_surrogates_are_400_naming_the_field(webhook: WebhookServer, answerer: FakeAnswerer,
                                                  payload: dict[str, Any], field: str) -> None:
    data = json.dumps(payload).encode()         # ASCII JSON with \\ud800 escapes: valid JSON, invalid Unicode
    resp = post(webhook, data)
    assert resp.status_code == 400 and resp.json()["field"] == field and "surrogate" in resp.json()["error"]
    assert answerer.calls == []


@pytest.mark.parametrize("raw, field", [
    (b'{"conversation_id": "g1", "sender": {"id": "u1"}, "text": "\xed\xa0\x80"}', "body"),   # CESU surrogate
    (b'{"conversation_id": "g1", "sender": {"id": "u1"}, "text": "\xff"}', "body"),
    (b'{"conversation_id": "g1", "sender": {"id": "u1"}, "text": "x", "n": ' + b"9" * 5000 + b"}", "body"),
    (body({**message("x"), "time": 10 ** 400}), "time"),
    (body({**message("x"), "time": float("nan")}), "time"),
    (b'{"conversation_id": "g1", "sender": {"id": "u1"}, "text": "x", "time": Infinity}', "time"),
])
def test_other_bad_input_is_400_never_500(webhook: WebhookServer, raw: bytes, field: str) -> None:
    resp = post(webhook, raw)
    assert resp.status_code == 400 and resp.json()["field"] == field, resp.text


def test_errors_are_signed_json_too(webhook: WebhookServer) -> None:
    for resp in (post(webhook, b"{}", signature=None), post(webhook, b"{oops"),
                 httpx.get(webhook.url.replace("/webhook", "/nope"), trust_env=False)):
        assert resp.headers["content-type"].startswith("application/json") and signed_response(resp)
        assert set(resp.json()) == {"error", "field"}


def test_slow_body_gets_a_status(webhook: WebhookServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webhook_module, "BODY_TIMEOUT", 0.3)
    host, port = webhook.server_address
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        reply = s.recv(4096)
    assert reply.startswith(b"HTTP/1.1 400") and b'"field": "body"' in reply


def test_openapi_schema_documents_the_signed_endpoint(webhook: WebhookServer) -> None:
    schema = httpx.get(webhook.url.replace("/webhook", "/openapi.json"), trust_env=False).json()
    post_op = schema["paths"]["/webhook"]["post"]
    assert {p["name"] for p in post_op["parameters"]} == {"X-Signature", "X-Timestamp", "X-Nonce"}
    assert {"200", "400", "401", "411", "413"} <= set(post_op["responses"])
    assert post_op["requestBody"]["content"]["application/json"]["schema"]["required"] == ["conversation_id",
                                                                                           "sender"]
    assert "/" in schema["paths"] and "/health" in schema["paths"]


def test_readme_examples_work(webhook: WebhookServer, answerer: FakeAnswerer, tmp_path: Path) -> None:
    """The integrators' Python and curl/openssl examples in channels/README.md, run against the server."""
    readme = (Path(webhook_module.__file__).parent / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## The signed webhook"):readme.index("## Writing an adapter")]
    python = section.split("```python\n")[1].split("```")[0].replace('b"the shared secret"', repr(SECRET.encode()))
    python = python.replace("http://127.0.0.1:8080/webhook", webhook.url)
    exec(compile(python, "README.md", "exec"), {})       # noqa: S102 - our own documentation
    assert answerer.calls == [("垃圾几点扔", "webhook:g1:u1")]
    if shutil.which("openssl") is None or shutil.which("curl") is None:
        pytest.skip("needs curl and openssl")
    shell = section.split("```sh\n")[1].split("```")[0].replace("http://127.0.0.1:8080/webhook", webhook.url)
    shell = shell.replace('"m1"', '"m2"')                  # a new message, not a duplicate of the Python one
    out = subprocess.run(["bash", "-c", shell], check=False, capture_output=True, text=True, timeout=30,
                         env={**os.environ, "ASSISTANT_WEBHOOK_SECRET": SECRET, "NO_PROXY": "*"})
    assert out.returncode == 0 and json.loads(out.stdout)["route"] == "answer", out.stdout + out.stderr
    assert len(answerer.calls) == 2


def test_replay_guard_forgets_nonces_once_they_cannot_be_replayed() -> None:
    now = [1_000_000.0]
    guard = ReplayGuard(window=300, capacity=3, clock=lambda: now[0])

    def refusal(timestamp: int, nonce: str) -> tuple[int, str] | None:
        problem = guard.check(timestamp, nonce)
        return None if problem is None else (problem[0], problem[2])

    assert refusal(1_000_000, "a" * 16) is None
    assert refusal(1_000_000, "a" * 16) == (401, "X-Nonce")
    assert refusal(999_000, "b" * 16) == (401, "X-Timestamp")
    assert refusal(1_000_000, "b" * 16) is None and refusal(1_000_000, "c" * 16) is None
    assert refusal(1_000_000, "d" * 16) == (429, "X-Nonce")             # full: refuse rather than forget
    now[0] += 301
    assert refusal(int(now[0]), "a" * 16) is None and len(guard) == 1


def test_recent_ids_expire_and_stay_bounded() -> None:
    now = [0.0]
    recent = RecentIds(ttl=10, capacity=2, clock=lambda: now[0])
    assert recent.claim(("g1", "m1")) and not recent.claim(("g1", "m1"))
    now[0] = 11
    assert recent.claim(("g1", "m1"))
    assert recent.claim(("g1", "m2")) and recent.claim(("g1", "m3"))    # m1, the oldest, makes room
    assert recent.claim(("g1", "m1")) and not recent.claim(("g1", "m3"))


@pytest.mark.parametrize("raw, depth", [
    (b"{}", 1), (b'{"a": [1, {"b": []}]}', 4), (b'{"a": "[[[[{{{{"}', 1), (b'["\\"[[[", [2]]', 2),
    (b'["\\\\", [[]]]', 3), (b'"unterminated [[[', 0), (b"]]]]", 0), (b"[" * 100, 33)])
def test_json_depth(raw: bytes, depth: int) -> None:
    assert json_depth(raw) == depth


def test_json_depth_is_linear_on_hostile_input() -> None:
    for raw in (b'"\\"' * 21_000 + b"\\", b'"' + b"\\" * 65_000, b"[" * 65_536, b'["' * 32_000):
        start = time.perf_counter()
        json_depth(raw)
        assert time.perf_counter() - start < 0.5
