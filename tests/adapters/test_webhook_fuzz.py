"""Fuzzing the signed webhook over real HTTP (uvicorn on a loopback port, a fake answerer, no Rasa).

Generated bodies (random JSON, payload-shaped objects with wrong types, nesting, lone surrogates,
huge strings, mutated and random bytes), signed, unsigned, wrongly signed, stale, replayed. Every
request must get a signed JSON status that is not a 5xx (no crash, no closed socket), the status the
payload deserves, and an addressed message must be answered (no silent drop). Then schemathesis
against the app's OpenAPI schema.

Normal runs: 300 examples per test. ``FUZZ=1`` or ``--hypothesis-profile=fuzz`` (``make fuzz``): 10,000.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from assistant.channels import IncomingMessage, signed_headers
from assistant.channels.base import AdapterError
from assistant.channels.gateway import Gateway
from assistant.channels.webhook import MAX_BODY, WebhookAdapter, WebhookApp, WebhookServer, make_webhook_server
from assistant.moderation import ModerationConfig, Moderator

from .conftest import SECRET, FakeAnswerer, signed_response

pytestmark = pytest.mark.fuzz      # make unit leaves these out; make test and make fuzz run them

FUZZ = os.environ.get("FUZZ") == "1" or settings.get_current_profile_name() == "fuzz"
EXAMPLES = 10_000 if FUZZ else 300
FUZZ_SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=not FUZZ,
                         suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture])
FIELDS = {"body", "type", "conversation_id", "sender", "sender.id", "sender.nickname", "text", "is_group",
          "mentions_bot", "reply_to_bot", "message_id", "time"}
AUTH_FIELDS = {"X-Signature", "X-Timestamp", "X-Nonce"}


@dataclass
class Stats:
    """What the fuzz run saw, printed at the end of the module."""

    requests: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    answered: int = 0
    duplicates: int = 0
    started: float = field(default_factory=time.perf_counter)

    def count(self, status: int) -> None:
        self.requests += 1
        self.statuses[status] = self.statuses.get(status, 0) + 1


@dataclass
class Live:
    server: WebhookServer
    client: httpx.Client
    answerer: FakeAnswerer
    stats: Stats
    seen_ids: set[tuple[str, str]] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def post(self, data: bytes, headers: dict[str, Any], path: str = "/webhook") -> httpx.Response:
        base = self.server.url.rsplit("/", 1)[0]
        resp = self.client.post(base + path, content=data, headers={"Content-Type": "application/json", **headers})
        self.stats.count(resp.status_code)
        return resp


@pytest.fixture(scope="module")
def live(mod_config: ModerationConfig) -> Iterator[Live]:
    answerer = FakeAnswerer()
    gateway = Gateway(Moderator(mod_config), answerer)
    server = make_webhook_server(gateway, "127.0.0.1", 0, secret=SECRET)
    server.handler.recent.capacity = 10_000_000      # the oracle below remembers every message id: so must the server
    server.handler.recent.ttl = 1e9
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    client = httpx.Client(trust_env=False, timeout=30)
    stats = Stats()
    try:
        yield Live(server, client, answerer, stats)
    finally:
        client.close()
        server.shutdown()
        server.server_close()
        thread.join(5)
        elapsed = time.perf_counter() - stats.started
        print(f"\nwebhook fuzz: {stats.requests} requests in {elapsed:.1f} s, statuses {sorted(stats.statuses.items())}, "
              f"{stats.answered} addressed messages answered, {stats.duplicates} duplicates")


# -- strategies ------------------------------------------------------------------------------------

# Any code point, lone surrogates included.
any_char = st.characters(codec=None, exclude_categories=())
any_text = st.text(any_char, max_size=40)
chinese = st.text(st.characters(min_codepoint=0x4E00, max_codepoint=0x4E80), max_size=20)
texts = st.one_of(chinese, any_text, st.sampled_from(["@助手 垃圾几点扔", "加V：abc12345 领福利", "11010519491231002X",
                                                     "<iframe src=x>", "'; DROP TABLE t; --", ""]),
                  st.builds(lambda c, n: c * n, any_char, st.integers(0, 70_000)))       # huge, maybe over 64 KiB
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(-10**400, 10**400),
                         st.floats(allow_nan=True, allow_infinity=True), any_text)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(any_text, inner, max_size=4), max_leaves=12)


def field_value(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly a plausible value, sometimes anything (a wrong type)."""
    return st.one_of(good, good, good, json_values)


ids = st.one_of(st.sampled_from(["g1", "g2", "u1", "u2", "m1"]), st.text(max_size=8), st.integers(0, 99), any_text)
payloads = st.fixed_dictionaries(
    {"conversation_id": field_value(ids), "sender": field_value(st.fixed_dictionaries(
        {"id": field_value(ids)}, optional={"nickname": field_value(texts), "avatar": json_values}))},
    optional={"type": field_value(st.sampled_from(["message", "member_joined", "member_left", "poke"])),
              "text": field_value(texts), "is_group": field_value(st.booleans()),
              "mentions_bot": field_value(st.booleans()), "reply_to_bot": field_value(st.booleans()),
              "message_id": field_value(ids),
              "time": field_value(st.one_of(st.integers(0, 2 * 10**12), st.sampled_from(["2026-11-23T09:00:00Z"]))),
              "x_platform": json_values})


# Well-formed and addressed to the bot (a mention or a wake word): each must be answered.
valid_text = st.text(st.characters(codec="utf-8"), max_size=60)
valid_id = st.text(st.characters(codec="utf-8"), min_size=1, max_size=12).filter(lambda v: v.strip())
addressed = st.fixed_dictionaries(
    {"conversation_id": valid_id, "sender": st.fixed_dictionaries({"id": valid_id}, optional={"nickname": valid_text}),
     "text": st.one_of(valid_text.map(lambda t: "@助手 " + t), chinese.map(lambda t: "@助手 " + t)),
     "message_id": st.one_of(st.none(), st.integers(0, 50).map(str), valid_id)},
    optional={"is_group": st.booleans(), "mentions_bot": st.booleans(), "time": st.integers(1_700_000_000, 1_800_000_000),
              "x_platform": json_values})


def nest(depth: int, kind: str) -> bytes:
    if kind == "list":
        return b"[" * depth + b"]" * depth
    if kind == "dict":
        return b'{"a":' * depth + b"1" + b"}" * depth
    if kind == "open":
        return b"[" * depth
    inner = json.dumps({"conversation_id": "g1", "sender": {"id": "u1"}, "text": "@助手 你好"}).encode()
    return b'{"conversation_id": "g1", "sender": {"id": "u1"}, "text": "@bot x", "x": ' + b"[" * depth + inner \
        + b"]" * depth + b"}"


def mutate(data: bytes, at: int, byte: int, cut: bool) -> bytes:
    if not data:
        return bytes([byte])
    i = at % len(data)
    return data[:i] if cut else data[:i] + bytes([byte]) + data[i + 1:]


def encode(obj: Any, ascii_only: bool) -> bytes:
    """JSON text: ASCII with \\u escapes (surrogates stay valid JSON), or UTF-8 (surrogates: invalid bytes)."""
    if ascii_only:
        return json.dumps(obj).encode()
    return json.dumps(obj, ensure_ascii=False).encode("utf-8", "surrogatepass")


bodies = st.one_of(
    st.builds(encode, addressed, st.booleans()),
    st.builds(encode, addressed, st.booleans()),
    st.builds(encode, payloads, st.booleans()),
    st.builds(encode, payloads, st.booleans()),
    st.builds(encode, json_values, st.booleans()),
    st.builds(nest, st.integers(1, 40_000), st.sampled_from(["list", "dict", "open", "payload"])),
    st.builds(mutate, st.builds(encode, payloads, st.just(False)), st.integers(0, 10**6), st.integers(0, 255),
              st.booleans()),
    st.binary(max_size=512),
)
AUTH = ["signed", "signed", "signed", "upper", "unsigned", "wrong", "stale", "replay", "bad_nonce"]


# -- the oracle ------------------------------------------------------------------------------------

ORACLE = WebhookAdapter()


def expected(data: bytes) -> tuple[int, str | None, Any]:
    """(status, field, event) a correctly signed, fresh request with ``data`` deserves."""
    if len(data) > MAX_BODY:
        return 413, "body", None
    try:
        event = ORACLE.parse(data)
    except AdapterError as exc:
        return 400, exc.field, None
    except Exception:  # noqa: BLE001 - the server turns any other parse failure into 400 body
        return 400, "body", None
    return 200, None, event


def check_shape(resp: httpx.Response) -> dict[str, Any]:
    assert resp.status_code < 500, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    assert signed_response(resp), "response not signed"
    data = resp.json()
    assert isinstance(data, dict)
    if resp.status_code != 200:
        assert set(data) == {"error", "field"} and data["error"]
    return data


def headers_for(data: bytes, auth: str) -> dict[str, str]:
    if auth == "unsigned":
        return {}
    if auth == "stale":
        return signed_headers(SECRET, data, timestamp=int(time.time()) - 3600)
    headers = signed_headers(SECRET, data)
    if auth == "upper":
        headers["X-Signature"] = headers["X-Signature"].upper()
    elif auth == "wrong":
        headers["X-Signature"] = signed_headers("another-secret", data)["X-Signature"]
    elif auth == "bad_nonce":
        headers["X-Nonce"] = "short"
    return headers


@FUZZ_SETTINGS
@given(data=bodies, auth=st.sampled_from(AUTH))
def test_fuzz_webhook_never_crashes_nor_drops(live: Live, data: bytes, auth: str) -> None:
    with live.lock:                                    # one example at a time: the oracle's memory of ids
        before = len(live.answerer.calls)
        headers = headers_for(data, "signed" if auth == "replay" else auth)
        resp = live.post(data, headers)
        body = check_shape(resp)
        status, fld, event = expected(data)
        if status == 413:
            assert resp.status_code == 413
            return
        if auth not in ("signed", "upper", "replay"):
            assert resp.status_code == 401 and body["field"] in AUTH_FIELDS, body
            assert len(live.answerer.calls) == before
            return
        assert resp.status_code == status, (resp.status_code, body, status, fld)
        if status == 400:
            assert body["field"] == fld and len(live.answerer.calls) == before
        else:
            key = ((event.conversation_id, event.message_id)
                   if isinstance(event, IncomingMessage) and event.message_id else None)
            if key is not None and key in live.seen_ids:
                assert body == {"duplicate": True, "route": None, "messages": [], "actions": []}
                live.stats.duplicates += 1
            else:
                assert "duplicate" not in body
                if key is not None:
                    live.seen_ids.add(key)
                if isinstance(event, IncomingMessage) and event.to_me:
                    assert body["messages"] or body["actions"], "an addressed message got no reply"
                    live.stats.answered += 1
        if auth == "replay":
            again = live.post(data, headers)            # the very same request, captured and sent again
            assert again.status_code == 401 and check_shape(again)["field"] == "X-Nonce"


@FUZZ_SETTINGS
@given(data=st.binary(max_size=2048), content_length=st.one_of(st.none(), st.integers(0, 10**9)),
       chunked=st.booleans())
def test_fuzz_raw_http_always_gets_a_status(live: Live, data: bytes, content_length: int | None,
                                            chunked: bool) -> None:
    """Hand-written requests with lying, missing or huge Content-Length and chunked bodies."""
    host, port = live.server.server_address
    head = b"POST /webhook HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
    if chunked:
        head += b"Transfer-Encoding: chunked\r\n"
        payload = f"{len(data):x}\r\n".encode() + data + b"\r\n0\r\n\r\n"
    else:
        if content_length is not None:
            head += f"Content-Length: {min(content_length, len(data))}\r\n".encode()
        payload = data
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(head + b"\r\n" + payload)
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
    live.stats.count(int(reply[9:12]) if reply[:5] == b"HTTP/" else 0)
    assert reply.startswith(b"HTTP/1.1 "), reply[:80]
    status = int(reply[9:12])
    assert status in (200, 400, 401, 411, 413), reply[:200]
    assert b"application/json" in reply.split(b"\r\n\r\n", 1)[0].lower()


# -- schemathesis against the OpenAPI schema --------------------------------------------------------

def _schema() -> Any:
    app = WebhookApp(Gateway(Moderator(), FakeAnswerer()), SECRET).app
    return schemathesis.openapi.from_dict(app.openapi())


SCHEMA = _schema()


@SCHEMA.parametrize()
@settings(max_examples=EXAMPLES // 3 if FUZZ else 50, deadline=None, derandomize=not FUZZ,
          suppress_health_check=list(HealthCheck))
def test_schemathesis_finds_no_server_error(case: Any, live: Live) -> None:
    kwargs = case.as_transport_kwargs()
    raw = kwargs.get("data", kwargs.get("json"))
    if raw is None:
        data = b""
    elif isinstance(raw, bytes):
        data = raw
    else:
        data = json.dumps(raw, ensure_ascii=False).encode("utf-8", "surrogatepass")
    headers = {k: (v.encode("latin-1", "replace") if isinstance(v, str) else v)
               for k, v in kwargs.get("headers", {}).items() if k.lower() != "content-length"}
    if int(hashlib.sha256(data).hexdigest(), 16) % 4:           # three in four signed properly
        headers.update(signed_headers(SECRET, data))
    base = live.server.url.rsplit("/", 1)[0]
    resp = live.client.request(kwargs["method"], base + kwargs["url"], content=data or None, headers=headers,
                               params=kwargs.get("params") or None)
    live.stats.count(resp.status_code)
    assert resp.status_code < 500, resp.text
    case.validate_response(resp, checks=[not_a_server_error, status_code_conformance, content_type_conformance,
                                         response_schema_conformance])
