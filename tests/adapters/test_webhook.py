from __future__ import annotations

import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from assistant.channels import WebhookAdapter, sign, verify
from assistant.channels.webhook import MAX_BODY, WebhookServer, make_webhook_server
from assistant.errors import ConfigError
from assistant.channels.gateway import Gateway
from assistant.desk.notices import open_outbox

from .conftest import SECRET, FakeAnswerer, body, message


def post(server: WebhookServer, data: bytes, signature: str | bytes | None = "auto",
         client: httpx.Client | None = None, **headers: Any) -> httpx.Response:
    if signature == "auto":
        signature = sign(SECRET, data)
    if signature is not None:
        headers["X-Signature"] = signature
    headers.setdefault("Content-Type", "application/json")
    if client is not None:
        return client.post(server.url, content=data, headers=headers)
    return httpx.post(server.url, content=data, headers=headers, trust_env=False, timeout=10)


def test_signed_message_is_answered(webhook: WebhookServer, answerer: FakeAnswerer) -> None:
    resp = post(webhook, body(message("@助手 垃圾几点扔", message_id="m1")))
    assert resp.status_code == 200
    assert verify(SECRET, resp.content, resp.headers["X-Signature"])
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
    resp = post(webhook, body(message("@助手 转账")), signature=sign(SECRET, body(message("@助手 你好"))))
    assert resp.status_code == 401


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
