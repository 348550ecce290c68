"""The callback URL WeCom calls (FastAPI on uvicorn), answered at once, worked in the background.

    GET  /wecom/callback?msg_signature=…&timestamp=…&nonce=…&echostr=…   the URL check: the plain echostr
    POST /wecom/callback?msg_signature=…&timestamp=…&nonce=…  <xml><Encrypt>…</Encrypt></xml>
    GET  /health

A POST is checked and decrypted (wechatpy), remembered (message id, or a digest of the decrypted
event) in the store, queued and answered ``success`` within milliseconds: WeCom waits 5 s and
retries three times, and a retry (or any replay) of a callback already seen is answered
``success`` without being queued again. 403 for a wrong signature, 400 for a body that is not a
WeCom callback, 413 over 64 KiB. Workers then run ``kf/sync_msg`` for the 微信客服 account named by a
``kf_msg_or_event`` event (several callbacks waiting for the same account make one sync) and the
admins' commands sent in the app. At start every known account is synced once (messages that
arrived while the adapter was down).
"""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import socket
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from assistant.channels.base import AdapterError
from assistant.channels.wecom.crypto import MAX_BODY, BadSignature, Callbacks

if TYPE_CHECKING:
    from fastapi import FastAPI, Request
    from fastapi.responses import Response

    from assistant.channels.wecom.admin import AdminCommands
    from assistant.channels.wecom.kf import KfService
    from assistant.channels.wecom.store import WeComStore

log = logging.getLogger(__name__)

PATHS = ("/wecom/callback", "/")
_STOP = object()


def callback_key(msg: dict[str, Any]) -> str:
    """What identifies a callback: its MsgId, else a digest of the decrypted event (a retry of it
    is byte-for-byte the same event)."""
    if msg.get("MsgId"):
        return f"cb:{msg.get('AgentID', '')}:{msg['MsgId']}"
    digest = hashlib.sha256(json.dumps(msg, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:40]
    return f"cb:{digest}"


class WeComChannel:
    """Callback handling and the background workers (``start``/``stop``)."""

    def __init__(self, callbacks: Callbacks, store: WeComStore, kf: KfService | None = None,
                 admin: AdminCommands | None = None, *, accounts: tuple[str, ...] = (),
                 admin_agent: int | None = None, notice_every: float = 10.0) -> None:
        self.callbacks, self.store, self.kf, self.admin = callbacks, store, kf, admin
        self.accounts = accounts
        self.admin_agent = admin_agent
        self.notice_every = notice_every
        self._kf_jobs: queue.Queue[Any] = queue.Queue()
        self._admin_jobs: queue.Queue[Any] = queue.Queue()
        self._pending: dict[str, str | None] = {}        # account -> newest callback token, sync not started
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.received = self.duplicates = self.refused = 0
        self.app = self._build()

    # -- the workers ---------------------------------------------------------------------------

    def start(self) -> None:
        for target, name in ((self._kf_loop, "wecom-kf"), (self._admin_loop, "wecom-admin")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)
        for account in sorted(set(self.accounts) | set(self.store.accounts())):
            self.want_sync(account, None)            # what came while the adapter was down

    def stop(self, timeout: float = 30) -> None:
        self._kf_jobs.put(_STOP)
        self._admin_jobs.put(_STOP)
        for t in self._threads:
            t.join(timeout)
        self._threads.clear()

    def idle(self) -> bool:
        """Nothing queued or pending (tests, benchmarks)."""
        with self._lock:
            return not self._pending and self._kf_jobs.unfinished_tasks == 0 and self._admin_jobs.unfinished_tasks == 0

    def want_sync(self, account: str, token: str | None) -> None:
        with self._lock:
            queued = account in self._pending
            self._pending[account] = token or self._pending.get(account)
        if not queued:
            self._kf_jobs.put(account)

    def _notices(self) -> None:
        accounts = sorted(set(self.accounts) | set(self.store.accounts()))
        if self.kf is None or not accounts:
            return
        try:
            n = self.kf.deliver_notices(accounts[0])
            if n:
                log.info("wecom kf %d notice(s) delivered", n)
        except Exception:
            log.exception("wecom kf notices failed")

    def _kf_loop(self) -> None:
        while True:
            try:
                account = self._kf_jobs.get(timeout=self.notice_every)
            except queue.Empty:
                self._notices()             # while no callback comes: the outbox's notices …
                for behind in sorted(self.kf.behind if self.kf is not None else ()):
                    self.want_sync(behind, None)        # … and pages a failure left for later
                continue
            try:
                if account is _STOP:
                    return
                with self._lock:
                    token = self._pending.pop(account, None)
                if self.kf is not None:
                    n = self.kf.sync(account, token)
                    log.info("wecom kf account=%s synced: %d message(s) handled", account, n)
            except Exception:
                log.exception("wecom kf account=%s sync failed", account)
            finally:
                self._kf_jobs.task_done()

    def _admin_loop(self) -> None:
        while True:
            job = self._admin_jobs.get()
            try:
                if job is _STOP:
                    return
                userid, text = job
                if self.admin is not None:
                    self.admin.handle(userid, text)
            except Exception:
                log.exception("wecom admin command failed")
            finally:
                self._admin_jobs.task_done()

    # -- one callback ----------------------------------------------------------------------------

    def dispatch(self, msg: dict[str, Any]) -> str:
        """Queue what a decrypted callback asks for; ``queued``, ``duplicate`` or ``ignored``."""
        if self.store.seen(callback_key(msg)):
            self.duplicates += 1
            return "duplicate"
        kind, event = msg.get("MsgType"), msg.get("Event")
        if kind == "event" and event == "kf_msg_or_event" and msg.get("OpenKfId"):
            self.want_sync(str(msg["OpenKfId"]), msg.get("Token"))
            return "queued"
        if kind == "text" and msg.get("FromUserName") and isinstance(msg.get("Content"), str):
            self._admin_jobs.put((str(msg["FromUserName"]), msg["Content"]))
            return "queued"
        log.info("wecom callback type=%s event=%s ignored", kind, event)
        return "ignored"

    # -- HTTP ------------------------------------------------------------------------------------

    def _build(self) -> FastAPI:
        from fastapi import FastAPI, Request

        async def verify(request: Request) -> Response:
            return await self.verify(request)

        async def receive(request: Request) -> Response:
            return await self.receive(request)

        async def health() -> Response:
            from fastapi.responses import JSONResponse

            return JSONResponse({"status": "ok"})

        verify.__annotations__ = {"request": Request}
        receive.__annotations__ = {"request": Request}
        health.__annotations__ = {}
        app = FastAPI(title="锦山壹号 WeCom callback", docs_url=None, redoc_url=None, openapi_url=None)
        for path in PATHS:
            app.add_api_route(path, verify, methods=["GET"])
            app.add_api_route(path, receive, methods=["POST"])
        app.add_api_route("/health", health, methods=["GET"])
        return app

    @staticmethod
    def _text(status: int, text: str) -> Response:
        from fastapi.responses import PlainTextResponse

        return PlainTextResponse(text, status)

    def _params(self, request: Request, *names: str) -> list[str] | Response:
        out = []
        for name in names:
            value = request.query_params.get(name)
            if not value:
                return self._text(400, f"missing query parameter {name}")
            out.append(value)
        return out

    async def verify(self, request: Request) -> Response:
        params = self._params(request, "msg_signature", "timestamp", "nonce", "echostr")
        if not isinstance(params, list):
            return params
        try:
            return self._text(200, self.callbacks.verify_url(*params))
        except BadSignature:
            self.refused += 1
            log.warning("wecom URL check refused: bad signature")
            return self._text(403, "bad signature")
        except AdapterError as exc:
            return self._text(400, f"[{exc.field}] {exc.reason}")

    async def receive(self, request: Request) -> Response:
        import anyio

        params = self._params(request, "msg_signature", "timestamp", "nonce")
        if not isinstance(params, list):
            return params
        size = request.headers.get("content-length")
        if size is not None and size.isdigit() and int(size) > MAX_BODY:
            return self._text(413, f"body over {MAX_BODY} bytes")
        body = await request.body()
        if len(body) > MAX_BODY:
            return self._text(413, f"body over {MAX_BODY} bytes")
        self.received += 1
        try:
            msg = self.callbacks.decrypt(body, *params)
        except BadSignature:
            self.refused += 1
            log.warning("wecom callback refused: bad signature")
            return self._text(403, "bad signature")
        except AdapterError as exc:
            log.warning("wecom callback refused: [%s] %s", exc.field, exc.reason)
            return self._text(400, f"[{exc.field}] {exc.reason}")
        outcome = await anyio.to_thread.run_sync(self.dispatch, msg)
        log.info("wecom callback type=%s event=%s %s", msg.get("MsgType"), msg.get("Event") or "-", outcome)
        return self._text(200, "success")


class WeComServer:
    """The callback app on uvicorn, bound at construction (port 0 picks a free one)."""

    def __init__(self, channel: WeComChannel, host: str = "127.0.0.1", port: int = 8092) -> None:
        import uvicorn

        self.channel = channel
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.socket = socket.create_server((host, port), family=family, backlog=512)
        self.server_address: tuple[str, int] = self.socket.getsockname()[:2]
        config = uvicorn.Config(channel.app, log_config=None, access_log=False, lifespan="off",
                                server_header=False, timeout_graceful_shutdown=5)
        self._uvicorn = uvicorn.Server(config)
        self._done = threading.Event()
        self._done.set()

    @property
    def url(self) -> str:
        host, port = self.server_address
        return f"http://{host}:{port}/wecom/callback"

    def serve_forever(self) -> None:
        self._done.clear()
        try:
            self._uvicorn.run(sockets=[self.socket])
        finally:
            self._done.set()

    def shutdown(self, timeout: float = 10) -> None:
        self._uvicorn.should_exit = True
        self._done.wait(timeout)
        self.socket.close()


def serve(channel: WeComChannel, host: str, port: int, ready: Callable[[str], None] | None = None) -> None:
    """Start the workers, serve until Ctrl-C or SIGTERM, stop the workers."""
    server = WeComServer(channel, host, port)
    channel.start()
    if ready is not None:
        ready(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.socket.close()
        channel.stop()
