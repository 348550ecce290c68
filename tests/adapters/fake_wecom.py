"""A fake WeCom server API on a free loopback port (Starlette on uvicorn), and a WeCom-side callback
sender that encrypts with the real crypto (wechatpy's WeChatCrypto).

    wc = FakeWeCom().start()                # wc.base_url → http://127.0.0.1:PORT/cgi-bin
    m = wc.push_text("wk1", "wm-u1", "垃圾几点扔")       # a resident writes to the 微信客服 account
    sender = CallbackSender(wc)               # same token / EncodingAESKey / corp id as the adapter
    sender.post(url, sender.kf_event("wk1"))  # the callback WeCom would send
    wc.kf_sent                                # the kf/send_msg bodies accepted

Endpoints (exactly those the adapter uses), with WeCom's JSON shapes and errcodes:
``gettoken`` (tokens expire after ``token_ttl`` s: 42001 afterwards, 40014 for unknown ones;
40001 for a wrong secret), ``kf/sync_msg`` (cursor + has_more, ``limit``), ``kf/send_msg`` (a
``msgid`` already used on the account is refused, 95001 here; so is a send while a person holds the
session or it ended, states 2-4; ``service_state/trans`` follows WeCom's transition table), ``kf/send_msg_on_event`` (each code
once), ``kf/service_state/get`` and ``/trans``, ``message/send`` (invaliduser for unknown members),
``webhook/send`` (the group robot, by key). ``fail(api, errcode, times)`` makes the next calls of
``api`` answer an errcode (45009 rate limit, -1 busy …) before working again.
"""

from __future__ import annotations

import base64
import os
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from assistant.channels.wecom.crypto import Callbacks

CORP_ID = "ww0123456789abcdef"
SECRET = "app-secret-0123456789abcdefghijklmnopqrstuvw"
AGENT_ID = 1000002
TOKEN = "JinShanToken2026"
AES_KEY = base64.b64encode(b"jinshan-yihao-test-aes-key-32byt").decode().rstrip("=")
ROBOT_KEY = "robot-key-0001"
DUPLICATE_MSGID = 95001
TRANSITIONS = {0: (1, 2, 3, 4), 1: (1, 2, 3, 4), 2: (2, 3, 4), 3: (3, 4), 4: ()}   # WeCom's table
NOT_ALLOWED = 95018           # the session is waiting for or held by a person: the API may not send
MEMBERS = frozenset({"wang.wecom", "li.wecom"})


@dataclass
class KfAccount:
    messages: list[dict[str, Any]] = field(default_factory=list)
    sent_ids: set[str] = field(default_factory=set)
    states: dict[str, tuple[int, str | None]] = field(default_factory=dict)   # user -> (state, servicer)


class FakeWeCom:
    def __init__(self, *, token_ttl: float = 7200, corp_id: str = CORP_ID, secret: str = SECRET) -> None:
        self.corp_id, self.secret, self.token_ttl = corp_id, secret, token_ttl
        self.tokens: dict[str, float] = {}
        self.gettoken_calls = 0
        self.accounts: dict[str, KfAccount] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []       # every call (api, body) that was answered 0
        self.kf_sent: list[dict[str, Any]] = []
        self.refused: list[tuple[str, int]] = []               # (api, errcode) of refused calls
        self.event_codes: dict[str, bool] = {}                  # code -> used
        self.app_sent: list[dict[str, Any]] = []
        self.robot_sent: list[dict[str, Any]] = []
        self._faults: dict[str, list[int]] = {}
        self._lock = threading.Lock()
        self._seq = 0
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # -- running

    def start(self) -> FakeWeCom:
        import uvicorn
        from starlette.applications import Starlette
        from starlette.routing import Route

        app = Starlette(routes=[Route("/cgi-bin/{api:path}", self._endpoint, methods=["GET", "POST"])])
        sock = socket.create_server(("127.0.0.1", 0), backlog=512)
        self.port = sock.getsockname()[1]
        self._server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="off"))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        for _ in range(200):
            if self._server.started:
                break
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(5)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/cgi-bin"

    @property
    def robot_url(self) -> str:
        return f"{self.base_url}/webhook/send"

    # -- the residents' side

    def _next_id(self, prefix: str) -> str:
        self._seq += 1
        return f"{prefix}{self._seq:06d}{secrets.token_hex(4)}"

    def account(self, open_kfid: str) -> KfAccount:
        return self.accounts.setdefault(open_kfid, KfAccount())

    def push_text(self, open_kfid: str, user: str, text: str) -> dict[str, Any]:
        return self._push(open_kfid, {"external_userid": user, "origin": 3, "msgtype": "text",
                                      "text": {"content": text}})

    def push_image(self, open_kfid: str, user: str) -> dict[str, Any]:
        return self._push(open_kfid, {"external_userid": user, "origin": 3, "msgtype": "image",
                                      "image": {"media_id": "MEDIA_" + secrets.token_hex(4)}})

    def push_event(self, open_kfid: str, user: str, event_type: str, **fields: Any) -> dict[str, Any]:
        event = {"event_type": event_type, "open_kfid": open_kfid, "external_userid": user, **fields}
        for key in ("welcome_code", "msg_code"):
            if key in event and event[key] is True:
                event[key] = self._next_id("CODE")
                self.event_codes[event[key]] = False
        return self._push(open_kfid, {"origin": 4, "msgtype": "event", "event": event})

    def end_session(self, open_kfid: str, user: str) -> dict[str, Any]:
        """The servicer ends the session (结束会话) in the WeCom client."""
        with self._lock:
            acc = self.account(open_kfid)
            old = acc.states.get(user, (0, None))[1]
            acc.states[user] = (4, None)
        return self.push_event(open_kfid, user, "session_status_change", change_type=3,
                               old_servicer_userid=old or "", msg_code=True)

    def _push(self, open_kfid: str, msg: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            msg = {"msgid": self._next_id("MSG"), "open_kfid": open_kfid, "send_time": int(time.time()), **msg}
            acc = self.account(open_kfid)
            acc.messages.append(msg)
            user = msg.get("external_userid")
            if msg.get("origin") == 3 and user and acc.states.get(user, (0, None))[0] == 4:
                acc.states[user] = (0, None)            # an ended session starts again: 未处理
            return msg

    def fail(self, api: str, errcode: int, times: int = 1) -> None:
        with self._lock:
            self._faults.setdefault(api, []).extend([errcode] * times)

    def expire_tokens(self) -> None:
        with self._lock:
            for t in self.tokens:
                self.tokens[t] = 0.0

    def sent_to(self, user: str) -> list[str]:
        return [b["text"]["content"] for b in self.kf_sent if b.get("touser") == user]

    def state(self, open_kfid: str, user: str) -> tuple[int, str | None]:
        return self.account(open_kfid).states.get(user, (0, None))

    # -- the API

    async def _endpoint(self, request: Any) -> Any:
        from starlette.responses import JSONResponse

        api = request.path_params["api"]
        body: dict[str, Any] = {}
        if request.method == "POST":
            try:
                body = await request.json()
            except ValueError:
                return JSONResponse({"errcode": 47001, "errmsg": "data format error"})
        answer = self._answer(api, dict(request.query_params), body)
        with self._lock:
            if answer.get("errcode", 0) == 0:
                self.calls.append((api, body))
            else:
                self.refused.append((api, answer["errcode"]))
        return JSONResponse(answer)

    def _answer(self, api: str, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            faults = self._faults.get(api)
            if faults:
                code = faults.pop(0)
                return {"errcode": code, "errmsg": "injected fault"}
        if api == "gettoken":
            return self._gettoken(query)
        if api == "webhook/send":
            if query.get("key") != ROBOT_KEY:
                return {"errcode": 93000, "errmsg": "invalid webhook url"}
            with self._lock:
                self.robot_sent.append(body)
            return {"errcode": 0, "errmsg": "ok"}
        problem = self._check_token(query.get("access_token"))
        if problem:
            return problem
        handler = {"kf/sync_msg": self._sync, "kf/send_msg": self._send, "kf/send_msg_on_event": self._on_event,
                   "kf/service_state/get": self._state_get, "kf/service_state/trans": self._trans,
                   "message/send": self._message}.get(api)
        if handler is None:
            return {"errcode": 404, "errmsg": f"no such api {api} in the fake"}
        with self._lock:
            return handler(body)

    def _gettoken(self, query: dict[str, str]) -> dict[str, Any]:
        if query.get("corpid") != self.corp_id:
            return {"errcode": 40013, "errmsg": "invalid corpid"}
        if query.get("corpsecret") != self.secret:
            return {"errcode": 40001, "errmsg": "invalid credential"}
        with self._lock:
            self.gettoken_calls += 1
            token = secrets.token_urlsafe(24)
            self.tokens[token] = time.monotonic() + self.token_ttl
        return {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": int(self.token_ttl)}

    def _check_token(self, token: str | None) -> dict[str, Any] | None:
        with self._lock:
            if not token or token not in self.tokens:
                return {"errcode": 40014, "errmsg": "invalid access_token"}
            if self.tokens[token] < time.monotonic():
                return {"errcode": 42001, "errmsg": "access_token expired"}
        return None

    def _sync(self, body: dict[str, Any]) -> dict[str, Any]:
        acc = self.accounts.get(str(body.get("open_kfid")))
        if acc is None:
            return {"errcode": 95000, "errmsg": "invalid open_kfid"}
        cursor = str(body.get("cursor") or "")
        start = int(cursor[1:]) if cursor.startswith("c") and cursor[1:].isdigit() else 0
        limit = max(1, min(int(body.get("limit") or 1000), 1000))
        page = acc.messages[start:start + limit]
        end = start + len(page)
        return {"errcode": 0, "errmsg": "ok", "next_cursor": f"c{end}", "has_more": int(end < len(acc.messages)),
                "msg_list": [dict(m) for m in page]}

    def _send(self, body: dict[str, Any]) -> dict[str, Any]:
        acc = self.accounts.get(str(body.get("open_kfid")))
        if acc is None:
            return {"errcode": 95000, "errmsg": "invalid open_kfid"}
        if body.get("msgtype") != "text" or not isinstance((body.get("text") or {}).get("content"), str):
            return {"errcode": 44004, "errmsg": "empty content"}
        if len(body["text"]["content"].encode()) > 2048:
            return {"errcode": 45002, "errmsg": "content size out of limit"}
        if acc.states.get(str(body.get("touser")), (0, None))[0] in (2, 3, 4):
            return {"errcode": NOT_ALLOWED, "errmsg": "session state does not allow sending via API"}
        msgid = body.get("msgid") or self._next_id("OUT")
        if msgid in acc.sent_ids:
            return {"errcode": DUPLICATE_MSGID, "errmsg": "msgid already used"}
        acc.sent_ids.add(msgid)
        self.kf_sent.append(body)
        return {"errcode": 0, "errmsg": "ok", "msgid": msgid}

    def _on_event(self, body: dict[str, Any]) -> dict[str, Any]:
        code = str(body.get("code"))
        if code not in self.event_codes:
            return {"errcode": 95007, "errmsg": "invalid msg code"}
        if self.event_codes[code]:
            return {"errcode": 95007, "errmsg": "msg code already used"}
        self.event_codes[code] = True
        self.kf_sent.append({**body, "on_event": True})
        return {"errcode": 0, "errmsg": "ok", "msgid": body.get("msgid") or self._next_id("OUT")}

    def _state_get(self, body: dict[str, Any]) -> dict[str, Any]:
        state, servicer = self.state(str(body.get("open_kfid")), str(body.get("external_userid")))
        return {"errcode": 0, "errmsg": "ok", "service_state": state, "servicer_userid": servicer or ""}

    def _trans(self, body: dict[str, Any]) -> dict[str, Any]:
        acc = self.accounts.get(str(body.get("open_kfid")))
        if acc is None:
            return {"errcode": 95000, "errmsg": "invalid open_kfid"}
        state = body.get("service_state")
        servicer = body.get("servicer_userid")
        if state not in (0, 1, 2, 3, 4):
            return {"errcode": 95014, "errmsg": "invalid service_state"}
        now = acc.states.get(str(body.get("external_userid")), (0, None))[0]
        if state not in TRANSITIONS[now]:
            return {"errcode": 95016, "errmsg": f"service_state {now} cannot change to {state}"}
        if state == 3 and servicer not in MEMBERS:
            return {"errcode": 95014, "errmsg": "invalid servicer_userid"}
        acc.states[str(body.get("external_userid"))] = (state, servicer)
        return {"errcode": 0, "errmsg": "ok"}

    def _message(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("agentid") != AGENT_ID:
            return {"errcode": 40056, "errmsg": "invalid agentid"}
        users = [u for u in str(body.get("touser") or "").split("|") if u]
        self.app_sent.append(body)
        bad = [u for u in users if u not in MEMBERS]
        return {"errcode": 0, "errmsg": "ok", "invaliduser": "|".join(bad)}


class CallbackSender:
    """What WeCom POSTs to the callback URL, encrypted and signed with the real crypto; ``post``
    retries as WeCom does (3 more times when there is no 200 within 5 s)."""

    def __init__(self, token: str = TOKEN, aes_key: str = AES_KEY, corp_id: str = CORP_ID) -> None:
        self.crypto = Callbacks(token, aes_key, corp_id)
        self.corp_id = corp_id
        self.client = httpx.Client(timeout=5.0, trust_env=False)

    def kf_event(self, open_kfid: str) -> str:
        return (f"<xml><ToUserName><![CDATA[{self.corp_id}]]></ToUserName><CreateTime>{int(time.time())}</CreateTime>"
                f"<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[kf_msg_or_event]]></Event>"
                f"<Token><![CDATA[ENC{secrets.token_hex(12)}]]></Token><OpenKfId><![CDATA[{open_kfid}]]></OpenKfId>"
                f"</xml>")

    def app_text(self, userid: str, text: str, msgid: str | None = None) -> str:
        return (f"<xml><ToUserName><![CDATA[{self.corp_id}]]></ToUserName><FromUserName><![CDATA[{userid}]]>"
                f"</FromUserName><CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
                f"<Content><![CDATA[{text}]]></Content><MsgId>{msgid or secrets.randbelow(10**15)}</MsgId>"
                f"<AgentID>{AGENT_ID}</AgentID></xml>")

    def sign(self, xml: str, *, bad: bool = False) -> tuple[dict[str, str], bytes]:
        """The query and body of one callback; ``bad`` spoils the signature (a forged request)."""
        from assistant.channels.wecom.crypto import parse_xml

        ts, nonce = str(int(time.time())), secrets.token_hex(8)
        envelope = self.crypto.encrypt(xml, nonce, ts)
        signature = parse_xml(envelope)["MsgSignature"]
        if bad:
            signature = ("0" if signature[0] != "0" else "1") + signature[1:]
        body = f"<xml><ToUserName><![CDATA[{self.corp_id}]]></ToUserName><Encrypt><![CDATA[" \
               f"{parse_xml(envelope)['Encrypt']}]]></Encrypt><AgentID><![CDATA[{AGENT_ID}]]></AgentID></xml>"
        return {"msg_signature": signature, "timestamp": ts, "nonce": nonce}, body.encode()

    def url_check(self, echo: str = "echo-1234") -> dict[str, str]:
        import hashlib

        ts, nonce = str(int(time.time())), secrets.token_hex(8)
        echostr = self.crypto.encrypt_echo(echo)
        sig = hashlib.sha1("".join(sorted([TOKEN, ts, nonce, echostr])).encode()).hexdigest()
        return {"msg_signature": sig, "timestamp": ts, "nonce": nonce, "echostr": echostr}

    def post(self, url: str, signed: tuple[dict[str, str], bytes], *, retries: int = 3,
             retry_wait: float = 1.0) -> int:
        """POST as WeCom does; the final status (0: never answered)."""
        query, body = signed
        status = 0
        for attempt in range(retries + 1):
            try:
                status = self.client.post(url, params=query, content=body).status_code
            except httpx.TransportError:
                status = 0
            if status == 200 or status in (400, 403, 413):
                return status
            if attempt < retries:
                time.sleep(retry_wait)
        return status

    def close(self) -> None:
        self.client.close()


def random_aes_key() -> str:
    return base64.b64encode(os.urandom(32)).decode().rstrip("=")
