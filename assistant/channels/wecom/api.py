"""The WeCom server API over HTTP: one access token shared by processes, retries, errcodes.

    api = WeComAPI(corp_id, secret, cache=TokenCache(path))
    api.kf_sync_msg(cursor="", token=callback_token, open_kfid="wk…")
    api.kf_send_text("wm…", "wk…", "你好", msgid="r…")

``gettoken`` is called only when the cached token (a JSON file, locked with ``flock`` so several
processes share one token) is missing or within ``MARGIN`` seconds of its expiry, and again once
when a call answers 40014/42001 (the token was revoked or expired early). Rate limits (45009 …),
"system busy" (-1), HTTP 5xx and network errors are retried with exponential backoff (tenacity);
any other errcode raises ``WeComError`` at once. Logs carry the API path and errcode only.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from assistant.channels.wecom.errors import TOKEN_CODES, WeComError

log = logging.getLogger(__name__)

BASE_URL = "https://qyapi.weixin.qq.com/cgi-bin"
MARGIN = 300            # seconds before expiry a token is renewed
MAX_TEXT = 2000         # kf/send_msg and message/send take at most 2048 bytes of text; split below it


class TokenCache:
    """The access token in a JSON file ``{"key", "token", "expires_at"}`` (mode 0600), read and
    renewed under an exclusive ``flock`` on ``<file>.lock``: one ``gettoken`` for all processes."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.clock = clock
        self._local = threading.Lock()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._local, open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read(self, key: str) -> dict[str, Any] | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("key") != key or not isinstance(data.get("token"), str):
            return None
        return data

    def _write(self, key: str, token: str, expires_at: float) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"key": key, "token": token, "expires_at": expires_at}, f)
        os.replace(tmp, self.path)

    def get(self, key: str, fetch: Callable[[], tuple[str, float]]) -> str:
        """The valid token for ``key`` (the corp and secret, hashed), fetched (token, expires_in)
        when there is none or it is about to expire."""
        with self._locked():
            data = self._read(key)
            if data is not None and float(data.get("expires_at", 0)) - MARGIN > self.clock():
                return str(data["token"])
            token, expires_in = fetch()
            self._write(key, token, self.clock() + expires_in)
            return token

    def invalidate(self, key: str, token: str) -> None:
        """Forget ``token`` (WeCom refused it), unless another process already replaced it."""
        with self._locked():
            data = self._read(key)
            if data is not None and data["token"] == token:
                self.path.unlink(missing_ok=True)


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, WeComError) and exc.retryable


class WeComAPI:
    """A corp's API with one app secret (the 自建应用 that also holds the 微信客服 permission)."""

    def __init__(self, corp_id: str, secret: str, *, cache: TokenCache, base_url: str = BASE_URL,
                 timeout: float = 10.0, attempts: int = 5, backoff: float = 0.5, max_backoff: float = 8.0,
                 client: httpx.Client | None = None) -> None:
        self.corp_id = corp_id
        self._secret = secret
        self.cache = cache
        self.base_url = base_url.rstrip("/")
        self.attempts, self.backoff, self.max_backoff = attempts, backoff, max_backoff
        self.client = client or httpx.Client(timeout=timeout, trust_env=False)
        self._key = hashlib.sha256(f"{corp_id}\0{secret}".encode()).hexdigest()[:32]

    def close(self) -> None:
        self.client.close()

    # -- plumbing --------------------------------------------------------------------------------

    def _request(self, api: str, method: str, params: dict[str, Any], body: dict[str, Any] | None) -> dict[str, Any]:
        """One HTTP request; the JSON answer when errcode is 0, else ``WeComError``."""
        try:
            r = self.client.request(method, f"{self.base_url}/{api}", params=params,
                                    content=None if body is None else json.dumps(body, ensure_ascii=False).encode(),
                                    headers={"Content-Type": "application/json; charset=utf-8"})
        except httpx.TransportError as exc:
            raise WeComError(api, None, type(exc).__name__) from None
        if r.status_code >= 500 or r.status_code == 429:
            raise WeComError(api, None, f"HTTP {r.status_code}")
        try:
            data = r.json()
        except ValueError:
            raise WeComError(api, None, f"HTTP {r.status_code}, not JSON") from None
        if not isinstance(data, dict):
            raise WeComError(api, None, "answer is not a JSON object")
        code = data.get("errcode", 0)
        if code != 0:
            raise WeComError(api, int(code) if isinstance(code, int) else None, str(data.get("errmsg", "")))
        return data

    def _retrying(self) -> Retrying:
        return Retrying(stop=stop_after_attempt(self.attempts), reraise=True, retry=retry_if_exception(_retryable),
                        wait=wait_exponential_jitter(multiplier=self.backoff, max=self.max_backoff),
                        before_sleep=lambda rs: log.warning(
                            "wecom %s attempt %d failed (errcode %s); backing off", getattr(
                                rs.outcome.exception(), "api", "?") if rs.outcome else "?", rs.attempt_number,
                            getattr(rs.outcome.exception(), "errcode", "?") if rs.outcome else "?"))

    def _fetch_token(self) -> tuple[str, float]:
        data = self._retrying()(self._request, "gettoken", "GET",
                                {"corpid": self.corp_id, "corpsecret": self._secret}, None)
        token = data.get("access_token")
        if not isinstance(token, str) or not token:
            raise WeComError("gettoken", None, "no access_token in the answer")
        log.info("wecom gettoken: new token, expires in %s s", data.get("expires_in"))
        return token, float(data.get("expires_in", 7200))

    def token(self) -> str:
        return self.cache.get(self._key, self._fetch_token)

    def call(self, api: str, body: dict[str, Any] | None = None, *, method: str = "POST") -> dict[str, Any]:
        """``api`` with the access token; a refused token is renewed once, limits backed off."""

        def once() -> dict[str, Any]:
            token = self.token()
            try:
                return self._request(api, method, {"access_token": token}, body)
            except WeComError as exc:
                if exc.errcode in TOKEN_CODES:
                    log.info("wecom %s: token refused (errcode %s), renewing", api, exc.errcode)
                    self.cache.invalidate(self._key, token)
                    return self._request(api, method, {"access_token": self.token()}, body)
                raise

        return self._retrying()(once)

    # -- 微信客服 ----------------------------------------------------------------------------------

    def kf_sync_msg(self, *, cursor: str, open_kfid: str, token: str | None = None,
                    limit: int = 1000) -> dict[str, Any]:
        body: dict[str, Any] = {"cursor": cursor, "open_kfid": open_kfid, "limit": limit}
        if token:
            body["token"] = token
        return self.call("kf/sync_msg", body)

    def kf_send_text(self, touser: str, open_kfid: str, text: str, *, msgid: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"touser": touser, "open_kfid": open_kfid, "msgtype": "text",
                                "text": {"content": text}}
        if msgid:
            body["msgid"] = msgid
        return self.call("kf/send_msg", body)

    def kf_send_on_event(self, code: str, text: str, *, msgid: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"code": code, "msgtype": "text", "text": {"content": text}}
        if msgid:
            body["msgid"] = msgid
        return self.call("kf/send_msg_on_event", body)

    def kf_state(self, open_kfid: str, external_userid: str) -> dict[str, Any]:
        return self.call("kf/service_state/get", {"open_kfid": open_kfid, "external_userid": external_userid})

    def kf_trans(self, open_kfid: str, external_userid: str, state: int,
                 servicer_userid: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"open_kfid": open_kfid, "external_userid": external_userid, "service_state": state}
        if servicer_userid:
            body["servicer_userid"] = servicer_userid
        return self.call("kf/service_state/trans", body)

    # -- app messages ------------------------------------------------------------------------------

    def send_app_text(self, agent_id: int, touser: list[str], text: str) -> dict[str, Any]:
        """``message/send`` of a text to members (``|``-joined user ids); ``invaliduser`` in the answer."""
        return self.call("message/send", {"touser": "|".join(touser), "msgtype": "text", "agentid": agent_id,
                                          "text": {"content": text}, "safe": 0})


def chunks(text: str, limit: int = MAX_TEXT) -> list[str]:
    """``text`` in pieces WeCom accepts (at most ``limit`` UTF-8 bytes each, cut between characters)."""
    out: list[str] = []
    cur: list[str] = []
    size = 0
    for ch in text:
        n = len(ch.encode("utf-8", "replace"))
        if size + n > limit and cur:
            out.append("".join(cur))
            cur, size = [], 0
        cur.append(ch)
        size += n
    if cur or not out:
        out.append("".join(cur))
    return out
