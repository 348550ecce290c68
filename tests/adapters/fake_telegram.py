"""A fake Telegram Bot API on a free loopback port: enough of it for python-telegram-bot's polling.

    api = FakeBotAPI(); api.start()
    Application.builder().token(api.token).base_url(api.base_url) …
    api.push({"message": {...}})          # an update for the next getUpdates
    api.calls_of("sendMessage")            # the recorded calls' parameters

Methods: getMe, getUpdates (long polling, capped at ``max_poll`` seconds), deleteWebhook,
sendMessage, deleteMessage, restrictChatMember, banChatMember. Anything else is a 404 as on the
real API. ``private_refused`` holds user ids that never started the bot: a sendMessage to them
is 403 Forbidden.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

TOKEN = "123456:TEST-token_abcdefghijklmnopqrstuvwxyz"
BOT = {"id": 999, "is_bot": True, "first_name": "小区助手", "username": "jinshan_bot"}


class FakeBotAPI(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, token: str = TOKEN, max_poll: float = 0.3) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.token = token
        self.max_poll = max_poll
        self.updates: list[dict[str, Any]] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.private_refused: set[int] = set()
        self._cond = threading.Condition()
        self._next_update = 1
        self._next_message = 5000
        self._thread: threading.Thread | None = None

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass    # a client that hung up during a long poll

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/bot"

    def start(self) -> FakeBotAPI:
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(5)

    # -- test side -------------------------------------------------------------------------------

    def push(self, update: dict[str, Any]) -> int:
        with self._cond:
            update = {"update_id": self._next_update, **update}
            self._next_update += 1
            self.updates.append(update)
            self._cond.notify_all()
            return update["update_id"]

    def calls_of(self, method: str) -> list[dict[str, Any]]:
        with self._cond:
            return [p for m, p in self.calls if m == method]

    def actions(self) -> list[tuple[str, dict[str, Any]]]:
        """The recorded calls other than polling."""
        with self._cond:
            return [(m, p) for m, p in self.calls if m not in ("getUpdates", "getMe", "deleteWebhook")]

    def wait_for(self, check: Callable[[], bool], timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; calls so far: {self.actions()}")
            time.sleep(0.01)

    # -- API side --------------------------------------------------------------------------------

    def call(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if method != "getUpdates":
            with self._cond:
                self.calls.append((method, params))
        if method == "getMe":
            return 200, {"ok": True, "result": BOT}
        if method == "deleteWebhook":
            return 200, {"ok": True, "result": True}
        if method == "getUpdates":
            return 200, {"ok": True, "result": self._poll(params)}
        if method == "sendMessage":
            chat = int(params["chat_id"])
            if chat in self.private_refused:
                return 403, {"ok": False, "error_code": 403,
                             "description": "Forbidden: bot can't initiate conversation with a user"}
            with self._cond:
                self._next_message += 1
                mid = self._next_message
            return 200, {"ok": True, "result": {
                "message_id": mid, "date": int(time.time()), "from": BOT, "text": params.get("text", ""),
                "chat": {"id": chat, "type": "private" if chat > 0 else "supergroup"}}}
        if method in ("deleteMessage", "restrictChatMember", "banChatMember"):
            return 200, {"ok": True, "result": True}
        return 404, {"ok": False, "error_code": 404, "description": "Not Found"}

    def _poll(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        wait = min(float(params.get("timeout") or 0), self.max_poll)
        deadline = time.monotonic() + wait
        with self._cond:
            while True:
                ready = [u for u in self.updates if u["update_id"] >= offset]
                left = deadline - time.monotonic()
                if ready or left <= 0:
                    limit = int(params.get("limit") or 100)
                    return ready[:limit]
                self._cond.wait(left)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeBotAPI

    def do_POST(self) -> None:  # noqa: N802
        self._handle(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

    def do_GET(self) -> None:  # noqa: N802
        self._handle(b"")

    def _handle(self, raw: bytes) -> None:
        path, _, query = self.path.partition("?")
        prefix = f"/bot{self.server.token}/"
        if not path.startswith(prefix):
            self._send(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
            return
        params: dict[str, Any] = dict(urllib.parse.parse_qsl(query))
        kind = self.headers.get("Content-Type", "")
        if raw and "json" in kind:
            params.update(json.loads(raw))
        elif raw:
            params.update(urllib.parse.parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
        for key in ("entities", "permissions", "allowed_updates"):      # nested values arrive as JSON
            if isinstance(params.get(key), str):
                params[key] = json.loads(params[key])
        status, payload = self.server.call(path[len(prefix):], params)
        self._send(status, payload)

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass
