"""A generic HTTP webhook: JSON in, JSON out, signed with a shared secret.

    POST /webhook            (or /)
    X-Signature: sha256=<hex HMAC-SHA256 of the raw body with the shared secret>
    {"type": "message", "conversation_id": "g1", "is_group": true,
     "sender": {"id": "u1", "nickname": "5-101-张三"}, "text": "@助手 垃圾几点扔", ...}

    200 {"route": …, "messages": [{"conversation_id", "text", "private_to", "at"}],
         "actions": [{"action", "conversation_id", "target", "reason", "message_id"}]}

Errors are JSON ``{"error": …, "field": …}``: 400 malformed JSON or payload, 401 wrong or missing
signature, 411 no Content-Length, 413 body over 64 KiB. Responses carry their own X-Signature.
Served by the standard library's ThreadingHTTPServer (one thread per connection).

The webhook only answers requests, so notices for a resident (``assistant.desk.notices``: the
satisfaction question after a ticket is resolved, a handoff nobody took) wait in the outbox until
that resident's next message to the bot in the same conversation: they come first in that
response's ``messages``, addressed like the reply.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from assistant.channels.base import DEFAULT_WAKE, AdapterError, Event, GatewayResult, Wake, decode_json, parse_payload
from assistant.errors import ConfigError

if TYPE_CHECKING:
    from assistant.channels.gateway import Gateway

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
DRAIN_LIMIT = 4 * 1024 * 1024    # larger bodies: answer 413 and close without reading
SIGNATURE_HEADER = "X-Signature"
PATHS = ("/", "/webhook")


def _key(secret: str | bytes) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def sign(secret: str | bytes, body: bytes) -> str:
    """The X-Signature header value for ``body``."""
    return "sha256=" + hmac.new(_key(secret), body, hashlib.sha256).hexdigest()


def verify(secret: str | bytes, body: bytes, header: str | None) -> bool:
    """Constant-time check of an X-Signature header against the body."""
    if not header:
        return False
    given = header.strip().lower().encode("utf-8", "replace")
    return hmac.compare_digest(sign(secret, body).encode(), given)


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
        raw = decode_json(raw, "body")
        return parse_payload(raw, self.platform, self.wake)

    def render(self, result: GatewayResult) -> dict[str, Any]:
        return {"route": result.route, "messages": [m.as_dict() for m in result.outgoing],
                "actions": [a.as_dict() for a in result.actions] if self.supports_admin_actions else []}


class WebhookServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False          # idle keep-alive connections must not hold up shutdown
    request_queue_size = 512        # a burst must queue, not be refused

    def __init__(self, address: tuple[str, int], gateway: Gateway, secret: str | bytes,
                 adapter: WebhookAdapter | None = None) -> None:
        if not secret:
            raise ConfigError("the webhook needs a shared secret (refusing to serve unsigned requests)")
        self.gateway = gateway
        self.secret = _key(secret)
        self.adapter = adapter or WebhookAdapter(wake=gateway.wake)
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Instead of the default traceback on stderr: a dropped connection by its type, anything else is a bug.
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):
            log.warning("webhook connection error: %s", type(exc).__name__, exc_info=log.isEnabledFor(logging.DEBUG))
        else:
            log.exception("webhook request failed")

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/webhook"

    def serve_until_interrupted(self) -> None:
        """Serve until Ctrl-C, then close the socket."""
        try:
            self.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            self.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall
    timeout = 15                    # seconds a client may take to send its request
    server: WebhookServer

    def do_GET(self) -> None:  # noqa: N802
        if self.path.split("?")[0] == "/health":
            self._send(200, {"status": "ok"})
        else:
            self._send(404, {"error": f"not found: {self.path[:80]}"})

    def do_POST(self) -> None:  # noqa: N802
        if self.path.split("?")[0] not in PATHS:
            self._drain_or_close()
            self._send(404, {"error": f"not found: {self.path[:80]}; POST to /webhook"})
            return
        body = self._body()
        if body is None:
            return
        if not verify(self.server.secret, body, self.headers.get(SIGNATURE_HEADER)):
            missing = not self.headers.get(SIGNATURE_HEADER)
            self._send(401, {"error": f"{'missing' if missing else 'wrong'} {SIGNATURE_HEADER} header "
                                      "(sha256=<hex HMAC-SHA256 of the raw body>)", "field": SIGNATURE_HEADER})
            return
        try:
            event = self.server.adapter.parse(body)
        except AdapterError as exc:
            self._send(400, {"error": str(exc), "field": exc.field})
            return
        try:
            result = self.server.gateway.handle(event)
        except Exception:  # noqa: BLE001 - the platform gets an answer, the log the traceback
            log.exception("webhook conversation=%s gateway failed", getattr(event, "conversation_id", "-"))
            self._send(500, {"error": "internal error"})
            return
        self._send(200, self.server.adapter.render(result))

    def _body(self) -> bytes | None:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self.close_connection = True
            self._send(411, {"error": "chunked bodies are not accepted; send Content-Length", "field": "body"})
            return None
        raw = self.headers.get("Content-Length")
        if raw is None:
            self.close_connection = True
            self._send(411, {"error": "Content-Length header required", "field": "Content-Length"})
            return None
        try:
            length = int(raw)
            if length < 0:
                raise ValueError
        except ValueError:
            self.close_connection = True
            self._send(400, {"error": f"bad Content-Length: {raw[:20]!r}", "field": "Content-Length"})
            return None
        if length > MAX_BODY:
            # Drain a moderately large body so the client reads the 413 rather than a reset.
            if length <= DRAIN_LIMIT:
                self._discard(length)
            self.close_connection = True
            self._send(413, {"error": f"body of {length} bytes is over the {MAX_BODY}-byte limit", "field": "body"})
            return None
        try:
            body = self.rfile.read(length)
        except TimeoutError:
            self.close_connection = True
            return None
        if len(body) < length:
            self.close_connection = True
            self._send(400, {"error": "body shorter than Content-Length", "field": "body"})
            return None
        return body

    def _drain_or_close(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if 0 <= length <= MAX_BODY:
            self._discard(length)
        else:
            self.close_connection = True

    def _discard(self, length: int) -> None:
        try:
            while length > 0:
                chunk = self.rfile.read(min(length, 65536))
                if not chunk:
                    break
                length -= len(chunk)
        except (TimeoutError, OSError):
            self.close_connection = True

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header(SIGNATURE_HEADER, sign(self.server.secret, data))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        # Request lines carry no message text; keep them out of stderr.
        log.debug("webhook %s", format % args)


def make_webhook_server(gateway: Gateway, host: str = "127.0.0.1", port: int = 8080, *,
                        secret: str | bytes, adapter: WebhookAdapter | None = None) -> WebhookServer:
    """A bound server (port 0 picks a free one); call ``serve_forever`` / ``shutdown`` yourself."""
    return WebhookServer((host, port), gateway, secret, adapter)


def serve_webhook(gateway: Gateway, host: str = "127.0.0.1", port: int = 8080, *, secret: str | bytes,
                  adapter: WebhookAdapter | None = None) -> None:
    """Serve until Ctrl-C."""
    server = make_webhook_server(gateway, host, port, secret=secret, adapter=adapter)
    log.info("webhook listening on %s", server.url)
    server.serve_until_interrupted()
