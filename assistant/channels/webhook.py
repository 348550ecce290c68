"""A generic HTTP webhook: JSON in, JSON out, signed with a shared secret, replay-proof.

    POST /webhook            (or /)
    X-Timestamp: 1764000000                     unix seconds
    X-Nonce: 3f1c0a9e5b7d4c21a8e6f0b2d4c6e8a1   16-64 of A-Z a-z 0-9 - _, never reused
    X-Signature: sha256=<hex HMAC-SHA256 of "{X-Timestamp}.{X-Nonce}.{raw body}" with the shared secret>
    {"type": "message", "conversation_id": "g1", "is_group": true,
     "sender": {"id": "u1", "nickname": "5-101-张三"}, "text": "@助手 垃圾几点扔", "message_id": "m1", ...}

    200 {"route": …, "messages": [{"conversation_id", "text", "private_to", "at"}],
         "actions": [{"action", "conversation_id", "target", "reason", "message_id"}]}
    200 {"duplicate": true, "route": null, "messages": [], "actions": []}   a message id answered before

Errors are JSON ``{"error": …, "field": …}``: 400 malformed JSON or payload (invalid UTF-8, a lone
surrogate, nesting deeper than 32), 401 wrong or missing signature, a timestamp outside the replay
window or a reused nonce, 411 no Content-Length, 413 body over 64 KiB, 429 too many signed requests
within one replay window. Responses are signed the same way (their own X-Timestamp and X-Nonce).
Served by FastAPI on uvicorn; the OpenAPI schema is at ``/openapi.json``. The nonce and message-id
memories are per process.

The webhook only answers requests, so notices for a resident (``assistant.desk.notices``: the
satisfaction question after a ticket is resolved, a handoff nobody took) wait in the outbox until
that resident's next message to the bot in the same conversation: they come first in that
response's ``messages``, addressed like the reply.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import json
import logging
import re
import secrets
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from assistant.channels.base import (
    DEFAULT_WAKE,
    AdapterError,
    Event,
    GatewayResult,
    IncomingMessage,
    Wake,
    parse_payload,
)
from assistant.errors import ConfigError

if TYPE_CHECKING:
    from fastapi import FastAPI, Request
    from fastapi.responses import Response

    from assistant.channels.gateway import Gateway

# fastapi, starlette, anyio and uvicorn are imported where used: importing assistant.channels stays light.

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
DRAIN_LIMIT = 4 * 1024 * 1024    # larger bodies: answer 413 and close without reading them
MAX_DEPTH = 32                   # JSON nesting ([ and {) a body may have
BODY_TIMEOUT = 15.0              # seconds a client may take to send its body
REPLAY_WINDOW = 300              # seconds a signed request is valid either side of the server's clock
NONCE_CAPACITY = 100_000         # nonces remembered at once (per process)
DEDUPE_TTL = 600                 # seconds a message id is remembered (per process)
DEDUPE_CAPACITY = 50_000
SIGNATURE_HEADER = "X-Signature"
TIMESTAMP_HEADER = "X-Timestamp"
NONCE_HEADER = "X-Nonce"
PATHS = ("/", "/webhook")
SCHEME = 'sha256=<hex HMAC-SHA256 of "{X-Timestamp}.{X-Nonce}.{raw body}">'

_TIMESTAMP = re.compile(r"[0-9]{1,16}")
_NONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")


# -- signatures --------------------------------------------------------------------------------


def _key(secret: str | bytes) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def sign(secret: str | bytes, body: bytes, timestamp: int | str, nonce: str) -> str:
    """The X-Signature header value for ``body`` sent with these X-Timestamp and X-Nonce values."""
    message = f"{timestamp}.{nonce}.".encode() + body
    return "sha256=" + hmac.new(_key(secret), message, hashlib.sha256).hexdigest()


def verify(secret: str | bytes, body: bytes, header: str | None, timestamp: int | str | None,
           nonce: str | None) -> bool:
    """Constant-time check of an X-Signature header; the hex (and the prefix) in any case.

    Only the HMAC: the replay window and nonce reuse are the server's (``ReplayGuard``)."""
    if not header or timestamp is None or nonce is None:
        return False
    given = header.strip().lower().encode("utf-8", "replace")
    try:
        expected = sign(secret, body, timestamp, nonce).encode()
    except UnicodeEncodeError:           # a nonce that is not text
        return False
    return hmac.compare_digest(expected, given)


def new_nonce() -> str:
    return secrets.token_hex(16)


def signed_headers(secret: str | bytes, body: bytes, *, timestamp: int | None = None,
                   nonce: str | None = None) -> dict[str, str]:
    """X-Timestamp (now), X-Nonce (fresh) and X-Signature for ``body``: what a sender adds."""
    ts = int(time.time()) if timestamp is None else timestamp
    nonce = nonce or new_nonce()
    return {TIMESTAMP_HEADER: str(ts), NONCE_HEADER: nonce, SIGNATURE_HEADER: sign(secret, body, ts, nonce)}


class ReplayGuard:
    """Refuses timestamps outside the window and nonces seen within it; thread-safe, bounded.

    A nonce is kept until its timestamp leaves the window (it could not be replayed after that).
    When ``capacity`` unexpired nonces are held, new requests are refused rather than an old
    nonce forgotten (forgetting would let it be replayed)."""

    def __init__(self, window: float = REPLAY_WINDOW, capacity: int = NONCE_CAPACITY,
                 clock: Callable[[], float] = time.time) -> None:
        if window <= 0:
            raise ConfigError(f"the replay window must be positive, got {window}")
        self.window = window
        self.capacity = capacity
        self.clock = clock
        self._expiry: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def check(self, timestamp: int, nonce: str) -> tuple[int, str, str] | None:
        """None when fresh (the nonce is now taken); else (status, error, field)."""
        now = self.clock()
        skew = timestamp - now
        if abs(skew) > self.window:
            hint = " (milliseconds? send unix seconds)" if timestamp > 1e11 else ""
            side = "ahead of" if skew > 0 else "behind"
            return (401, (f"{TIMESTAMP_HEADER} is {abs(skew):.0f} s {side} the server's clock{hint}; "
                          f"requests are accepted within {self.window:.0f} s"), TIMESTAMP_HEADER)
        with self._lock:
            while self._heap and self._heap[0][0] < now:
                _, old = heapq.heappop(self._heap)
                self._expiry.pop(old, None)
            if nonce in self._expiry:
                return (401, (f"{NONCE_HEADER} was already used within the last {self.window:.0f} s "
                              "(a replayed request?); use a fresh nonce per request"), NONCE_HEADER)
            if len(self._expiry) >= self.capacity:
                return (429, (f"more than {self.capacity} signed requests within {self.window:.0f} s; "
                              "try again shortly"), NONCE_HEADER)
            expiry = timestamp + self.window
            self._expiry[nonce] = expiry
            heapq.heappush(self._heap, (expiry, nonce))
        return None

    def __len__(self) -> int:
        return len(self._expiry)


class RecentIds:
    """Keys seen within ``ttl`` seconds; thread-safe, at most ``capacity`` (the oldest go first)."""

    def __init__(self, ttl: float = DEDUPE_TTL, capacity: int = DEDUPE_CAPACITY,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.capacity = capacity
        self.clock = clock
        self._seen: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._lock = threading.Lock()

    def claim(self, key: tuple[str, str]) -> bool:
        """True the first time within the TTL (the key is now remembered), False for a repeat."""
        now = self.clock()
        with self._lock:
            while self._seen and now - next(iter(self._seen.values())) >= self.ttl:
                self._seen.popitem(last=False)
            if key in self._seen:
                return False
            while len(self._seen) >= self.capacity:
                self._seen.popitem(last=False)
            self._seen[key] = now
            return True

    def release(self, key: tuple[str, str]) -> None:
        """Forget a key (its message was not answered, so a retry must be)."""
        with self._lock:
            self._seen.pop(key, None)


# -- the body --------------------------------------------------------------------------------------

# A JSON string, or an unterminated one up to the end: always matches, so the scan stays linear.
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)', re.DOTALL)
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")


def json_depth(raw: bytes, limit: int = MAX_DEPTH) -> int:
    """How deep ``[``/``{`` nest in a JSON text, without parsing it (stops counting past ``limit``)."""
    brackets = _JSON_STRING.sub(b"", raw).translate(None, _NOT_BRACKET)
    depth = deepest = 0
    for b in brackets:
        if b in b"[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    break
        elif depth:
            depth -= 1
    return deepest


def load_body(raw: bytes | bytearray | str) -> Any:
    """A JSON body decoded: UTF-8, nesting at most MAX_DEPTH, numbers Python can hold."""
    if isinstance(raw, str):
        try:
            data = raw.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise AdapterError("body", f"invalid Unicode (a lone surrogate at character {exc.start})") from None
    else:
        data = bytes(raw)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AdapterError("body", f"not UTF-8 (byte {exc.start})") from None
    if json_depth(data) > MAX_DEPTH:
        raise AdapterError("body", f"JSON nested deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise AdapterError("body", f"malformed JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except (ValueError, RecursionError) as exc:     # e.g. an integer of over 4300 digits
        raise AdapterError("body", f"malformed JSON: {type(exc).__name__}") from None


# The event's text fields and the payload fields they come from.
_TEXT_FIELDS = (("conversation_id", "conversation_id"), ("sender_id", "sender.id"), ("member_id", "sender.id"),
                ("sender_nickname", "sender.nickname"), ("nickname", "sender.nickname"), ("text", "text"),
                ("message_id", "message_id"))


def _check_unicode(event: Event) -> None:
    for attr, name in _TEXT_FIELDS:
        value = getattr(event, attr, None)
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise AdapterError(name, f"invalid Unicode (a lone surrogate at character {exc.start})") from None


class WebhookAdapter:
    platform = "webhook"
    supports_admin_actions = True

    def __init__(self, platform: str = "webhook", wake: Wake = DEFAULT_WAKE,
                 admin_actions: bool = True) -> None:
        self.platform = platform
        self.wake = wake
        self.supports_admin_actions = admin_actions

    def parse(self, raw: Any) -> Event:
        """A JSON body (bytes or str) or an already decoded object."""
        if isinstance(raw, (bytes, bytearray, str)):
            raw = load_body(raw)
        event = parse_payload(raw, self.platform, self.wake)
        _check_unicode(event)
        return event

    def render(self, result: GatewayResult) -> dict[str, Any]:
        return {"route": result.route, "messages": [m.as_dict() for m in result.outgoing],
                "actions": [a.as_dict() for a in result.actions] if self.supports_admin_actions else []}


# -- the HTTP app ----------------------------------------------------------------------------------

_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["error"],
    "properties": {"error": {"type": "string"}, "field": {"type": ["string", "null"]}}}
_REPLY_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["route", "messages", "actions"],
    "properties": {
        "route": {"type": ["string", "null"]},
        "duplicate": {"type": "boolean"},
        "messages": {"type": "array", "items": {
            "type": "object", "required": ["conversation_id", "text", "private_to", "at"],
            "properties": {"conversation_id": {"type": "string"}, "text": {"type": "string"},
                           "private_to": {"type": ["string", "null"]}, "at": {"type": ["string", "null"]}}}},
        "actions": {"type": "array", "items": {
            "type": "object", "required": ["action", "conversation_id", "target", "reason", "message_id"],
            "properties": {"action": {"type": "string", "enum": ["warn", "mute", "remove", "recall"]},
                           "conversation_id": {"type": "string"}, "target": {"type": "string"},
                           "reason": {"type": "string"}, "message_id": {"type": ["string", "null"]}}}}}}
_PAYLOAD_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["conversation_id", "sender"],
    "properties": {
        "type": {"type": "string", "enum": ["message", "member_joined", "member_left"], "default": "message"},
        "conversation_id": {"type": "string", "minLength": 1},
        "is_group": {"type": "boolean", "default": True},
        "sender": {"type": "object", "required": ["id"],
                   "properties": {"id": {"type": "string", "minLength": 1}, "nickname": {"type": "string"}}},
        "text": {"type": "string", "description": "required for type message"},
        "mentions_bot": {"type": "boolean", "default": False},
        "reply_to_bot": {"type": "boolean", "default": False},
        "message_id": {"type": "string", "description": "the platform's id: recalls, and a repeat is not "
                                                        "answered twice"},
        "time": {"type": ["number", "string"], "description": "epoch seconds or ISO 8601; default now"}}}
_SIGNED_HEADERS = {
    SIGNATURE_HEADER: {"description": SCHEME + "; hex in any case", "schema": {"type": "string"}},
    TIMESTAMP_HEADER: {"description": "unix seconds", "schema": {"type": "string"}},
    NONCE_HEADER: {"description": "16-64 of A-Z a-z 0-9 - _, fresh per message", "schema": {"type": "string"}}}


def _error_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERROR_SCHEMA}}}


_POST_DOC: dict[str, Any] = {
    "openapi_extra": {
        "parameters": [
            {"name": SIGNATURE_HEADER, "in": "header", "required": True, "description": SCHEME,
             "schema": {"type": "string", "pattern": "^sha256=[0-9a-fA-F]{64}$"}},
            {"name": TIMESTAMP_HEADER, "in": "header", "required": True, "description": "unix seconds",
             "schema": {"type": "string", "pattern": "^[0-9]{1,16}$"}},
            {"name": NONCE_HEADER, "in": "header", "required": True,
             "description": "16-64 characters, fresh for every request",
             "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{16,64}$"}}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": _PAYLOAD_SCHEMA}}}},
    "responses": {
        200: {"description": "what to send and do (duplicate: true for a message id answered before)",
              "content": {"application/json": {"schema": _REPLY_SCHEMA}}, "headers": _SIGNED_HEADERS},
        400: _error_response("malformed JSON or payload; field names the culprit"),
        401: _error_response("missing or wrong signature, timestamp outside the replay window, nonce reused"),
        404: _error_response("no such path"),
        405: _error_response("method not allowed"),
        411: _error_response("no Content-Length (chunked bodies are refused)"),
        413: _error_response(f"body over {MAX_BODY} bytes"),
        429: _error_response("too many signed requests within one replay window"),
        500: _error_response("the gateway failed (not for bad input)")},
}


class WebhookApp:
    """The webhook's request handling; ``app`` is the FastAPI application serving it."""

    def __init__(self, gateway: Gateway, secret: str | bytes, adapter: WebhookAdapter | None = None, *,
                 replay_window: float = REPLAY_WINDOW, dedupe_ttl: float = DEDUPE_TTL,
                 clock: Callable[[], float] = time.time, nonce_capacity: int = NONCE_CAPACITY,
                 dedupe_capacity: int = DEDUPE_CAPACITY) -> None:
        if not secret:
            raise ConfigError("the webhook needs a shared secret (refusing to serve unsigned requests)")
        self.gateway = gateway
        self.secret = _key(secret)
        self.adapter = adapter or WebhookAdapter(wake=gateway.wake)
        self.clock = clock
        self.guard = ReplayGuard(replay_window, nonce_capacity, clock)
        self.recent = RecentIds(dedupe_ttl, dedupe_capacity)
        self.app = self._build()

    def _build(self) -> FastAPI:
        from fastapi import FastAPI, Request
        from fastapi.exceptions import RequestValidationError
        from starlette.exceptions import HTTPException

        async def post(request: Request) -> Response:
            """Receive one signed event; answer with what to send and do."""
            return await self.post(request)

        async def health() -> Response:
            return self.respond(200, {"status": "ok"})

        post.__annotations__ = {"request": Request}      # FastAPI resolves string annotations in module globals
        health.__annotations__ = {}
        app = FastAPI(title="锦山壹号 signed webhook", version="2", docs_url=None, redoc_url=None,
                      description="Signed JSON in, signed JSON out; see assistant/channels/README.md.")
        app.add_api_route("/webhook", post, methods=["POST"], operation_id="webhook", **_POST_DOC)
        app.add_api_route("/", post, methods=["POST"], operation_id="webhook_root", **_POST_DOC)
        app.add_api_route("/health", health, methods=["GET"], operation_id="health",
                          responses={200: {"description": "the server is up", "content": {"application/json": {
                              "schema": {"type": "object", "properties": {"status": {"type": "string"}}}}}}})
        app.add_exception_handler(HTTPException, self._http_error)        # 404, 405 as JSON
        app.add_exception_handler(RequestValidationError, self._validation_error)
        return app

    # -- responses

    def respond(self, status: int, payload: Mapping[str, Any], *, close: bool = False) -> Response:
        from fastapi.responses import Response

        try:
            data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:                    # a lone surrogate: escaped, still valid JSON
            data = json.dumps(payload).encode("ascii")
        headers = signed_headers(self.secret, data, timestamp=int(self.clock()))
        if close:
            headers["Connection"] = "close"
        return Response(data, status, headers, media_type="application/json; charset=utf-8")

    def error(self, status: int, error: str, field: str | None, *, close: bool = False) -> Response:
        return self.respond(status, {"error": error, "field": field}, close=close)

    async def _http_error(self, request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 404)
        path = request.url.path[:80]
        if status == 404:
            return self.error(404, f"not found: {path}; POST to /webhook", None)
        if status == 405:
            return self.error(405, f"method not allowed on {path}; POST to /webhook", None)
        return self.error(status, str(getattr(exc, "detail", "error"))[:200], None)

    async def _validation_error(self, request: Request, exc: Exception) -> Response:
        return self.error(400, "malformed request", "body")

    # -- the endpoint

    async def post(self, request: Request) -> Response:
        import anyio

        body = await self._body(request)
        if not isinstance(body, bytes):
            return body
        problem = self._authenticate(body, request.headers)
        if problem is not None:
            return self.error(*problem)
        try:
            event = self.adapter.parse(body)
        except AdapterError as exc:
            return self.error(400, exc.reason, exc.field)
        except Exception:                            # bad input gets a 400, not a 500; the log keeps the traceback
            log.exception("webhook payload could not be read")
            return self.error(400, "payload could not be read", "body")
        key = ((event.conversation_id, event.message_id)
               if isinstance(event, IncomingMessage) and event.message_id else None)
        if key is not None and not self.recent.claim(key):
            log.info("webhook conversation=%s message=%s duplicate: not answered again", *key)
            return self.respond(200, {"duplicate": True, "route": None, "messages": [], "actions": []})
        try:
            result = await anyio.to_thread.run_sync(self.gateway.handle, event)
        except Exception:                            # the platform gets an answer, the log the traceback
            if key is not None:
                self.recent.release(key)
            log.exception("webhook conversation=%s gateway failed", event.conversation_id)
            return self.error(500, "internal error", None)
        return self.respond(200, self.adapter.render(result))

    async def _body(self, request: Request) -> bytes | Response:
        import anyio
        from starlette.requests import ClientDisconnect

        headers = request.headers
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return self.error(411, "chunked bodies are not accepted; send Content-Length", "body", close=True)
        raw = headers.get("content-length")
        if raw is None:
            return self.error(411, "Content-Length header required", "Content-Length", close=True)
        try:
            length = int(raw)
            if length < 0:
                raise ValueError
        except ValueError:
            return self.error(400, f"bad Content-Length: {raw[:20]!r}", "Content-Length", close=True)
        if length > MAX_BODY:
            # uvicorn reads and drops the unread body after the response; past DRAIN_LIMIT, hang up.
            return self.error(413, f"body of {length} bytes is over the {MAX_BODY}-byte limit", "body",
                              close=length > DRAIN_LIMIT)
        try:
            with anyio.fail_after(BODY_TIMEOUT):
                body = await request.body()
        except TimeoutError:
            return self.error(400, f"body not received within {BODY_TIMEOUT:.0f} s", "body", close=True)
        except ClientDisconnect:
            return self.error(400, "client went away before sending the body", "body", close=True)
        if len(body) != length:
            return self.error(400, "body length differs from Content-Length", "body", close=True)
        return body

    def _authenticate(self, body: bytes, headers: Mapping[str, str]) -> tuple[int, str, str] | None:
        signature = headers.get(SIGNATURE_HEADER)
        timestamp = (headers.get(TIMESTAMP_HEADER) or "").strip()
        nonce = (headers.get(NONCE_HEADER) or "").strip()
        if not signature:
            return 401, f"missing {SIGNATURE_HEADER} header ({SCHEME})", SIGNATURE_HEADER
        if not timestamp or not _TIMESTAMP.fullmatch(timestamp):
            return (401, (f"{'missing' if not timestamp else 'bad'} {TIMESTAMP_HEADER} header (unix seconds, "
                          f"signed as part of {SIGNATURE_HEADER})"), TIMESTAMP_HEADER)
        if not nonce or not _NONCE.fullmatch(nonce):
            return (401, (f"{'missing' if not nonce else 'bad'} {NONCE_HEADER} header (16-64 of A-Z a-z 0-9 - _, "
                          f"fresh per request, signed as part of {SIGNATURE_HEADER})"), NONCE_HEADER)
        if not verify(self.secret, body, signature, timestamp, nonce):
            return 401, f"wrong {SIGNATURE_HEADER} header ({SCHEME})", SIGNATURE_HEADER
        return self.guard.check(int(timestamp), nonce)


# -- serving ---------------------------------------------------------------------------------------


def _bind(address: tuple[str, int]) -> socket.socket:
    host, port = address
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, backlog=512)   # a burst must queue


class WebhookServer:
    """The webhook app on uvicorn, listening from construction (port 0 picks a free one).

    ``serve_forever`` blocks (from any thread); ``shutdown`` stops it from another one."""

    def __init__(self, address: tuple[str, int], gateway: Gateway, secret: str | bytes,
                 adapter: WebhookAdapter | None = None, *, replay_window: float = REPLAY_WINDOW,
                 dedupe_ttl: float = DEDUPE_TTL) -> None:
        self.handler = WebhookApp(gateway, secret, adapter, replay_window=replay_window, dedupe_ttl=dedupe_ttl)
        self.app = self.handler.app
        self.socket = _bind(address)
        self.server_address: tuple[str, int] = self.socket.getsockname()[:2]
        import uvicorn

        config = uvicorn.Config(self.app, log_config=None, access_log=False, lifespan="off", server_header=False,
                                timeout_graceful_shutdown=5)
        self._uvicorn = uvicorn.Server(config)
        self._done = threading.Event()
        self._done.set()

    @property
    def gateway(self) -> Gateway:
        return self.handler.gateway

    @property
    def url(self) -> str:
        host, port = self.server_address
        return f"http://{host}:{port}/webhook"

    def serve_forever(self, poll_interval: float = 0.1) -> None:   # poll_interval: socketserver's signature
        self._done.clear()
        try:
            self._uvicorn.run(sockets=[self.socket])
        finally:
            self._done.set()

    def shutdown(self, timeout: float = 10) -> None:
        """Stop ``serve_forever`` and wait for it to return."""
        self._uvicorn.should_exit = True
        self._done.wait(timeout)

    def server_close(self) -> None:
        self.socket.close()

    def serve_until_interrupted(self) -> None:
        """Serve until Ctrl-C, then close the socket."""
        try:
            self.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            self.server_close()


def make_webhook_server(gateway: Gateway, host: str = "127.0.0.1", port: int = 8080, *,
                        secret: str | bytes, adapter: WebhookAdapter | None = None,
                        replay_window: float = REPLAY_WINDOW, dedupe_ttl: float = DEDUPE_TTL) -> WebhookServer:
    """A bound server (port 0 picks a free one); call ``serve_forever`` / ``shutdown`` yourself."""
    return WebhookServer((host, port), gateway, secret, adapter, replay_window=replay_window, dedupe_ttl=dedupe_ttl)


def serve_webhook(gateway: Gateway, host: str = "127.0.0.1", port: int = 8080, *, secret: str | bytes,
                  adapter: WebhookAdapter | None = None, replay_window: float = REPLAY_WINDOW) -> None:
    """Serve until Ctrl-C."""
    server = make_webhook_server(gateway, host, port, secret=secret, adapter=adapter, replay_window=replay_window)
    log.info("webhook listening on %s", server.url)
    server.serve_until_interrupted()
