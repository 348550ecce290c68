"""The admins' web console: dispute tickets with their audit log and actions, and the handoff queue.

Server-rendered HTML (Jinja2, autoescaped) on FastAPI; forms POST and redirect. Log in with a token
from the tokens file: the session is a random id in an HttpOnly, SameSite=Strict cookie, kept in
memory on the server with a CSRF token every POST must carry. Scripts may send
``Authorization: Bearer <token>`` instead (no CSRF token needed then). Without a valid token
nothing is shown or changed: pages redirect to /login, POSTs get 401 (403 for a bad CSRF token).
The admin logged in is the actor in the audit log.
"""

from __future__ import annotations

import dataclasses
import hmac
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.exceptions import HTTPException as StarletteHTTPException

from assistant.desk.desk import CATEGORY_NAMES, Desk
from assistant.desk.handoff.queue import OPEN, STATES, AlreadyTaken, HandoffError, HandoffNotFound, HandoffUnavailable, HandoffValidation, InvalidHandoffState
from assistant.desk.push import Residents, ResidentUnreachable
from assistant.desk.tickets.errors import InvalidTransition, StoreUnavailable, TicketError, TicketNotFound, ValidationError
from assistant.desk.tickets.models import ACTIVE, CATEGORIES, LIMITS, PRIORITIES, STATUSES, TRANSITIONS, Event, Ticket
from assistant.console.tokens import AdminToken, as_tokens

log = logging.getLogger("assistant.console")
HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "console_session"
SESSION_IDLE = 12 * 3600          # seconds without a request before a session ends
LOGIN_FAILURES = 10               # failed logins per client within LOGIN_WINDOW before refusing
LOGIN_WINDOW = 600
LIST_LIMIT = 200

STATUS_NAMES = {"open": "待处理", "assigned": "已指派", "in_progress": "处理中", "waiting_resident": "等待居民",
                "resolved": "已解决", "closed": "已关闭"}
PRIORITY_NAMES = {"low": "低", "normal": "普通", "high": "高", "urgent": "紧急"}
ACTION_NAMES = {"created": "创建", "appended": "居民补充", "assigned": "指派", "commented": "备注",
                "status": "状态变更", "rated": "居民评价", "reminded": "超时提醒"}
OVERDUE_NAMES = {"first_response": "首次响应超时", "resolution": "解决超时"}
HANDOFF_STATE_NAMES = {"waiting": "等待接手", "taken": "已接手", "released": "已交还助手", "expired": "无人接手已超时"}
REASON_NAMES = {"request_human": "居民要求人工", "low_confidence": "助手答不上来", "abusive": "言辞激烈",
                "sensitive_category": "敏感类别"}
FIELD_NAMES = {"description": "描述", "comment": "备注", "assignee": "处理人", "actor": "操作人", "status": "状态",
               "category": "类别", "unit": "单元", "other_party": "对方单元", "admin": "管理员", "state": "状态",
               "priority": "优先级", "time": "时间"}
HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                                      "frame-ancestors 'none'; base-uri 'none'",
           "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
           "Cache-Control": "no-store"}


# --- sessions --------------------------------------------------------------------------------

@dataclass
class Session:
    id: str
    admin: str
    csrf: str
    last_seen: float
    flashes: list[tuple[str, str]] = field(default_factory=list)    # (kind, text): ok, warn, error


class Sessions:
    """Logged-in sessions, in memory: a restart logs everyone out."""

    def __init__(self, idle: float = SESSION_IDLE, clock: Callable[[], float] = time.monotonic) -> None:
        self.idle, self.clock = idle, clock
        self._items: dict[str, Session] = {}
        self._lock = threading.Lock()

    def new(self, admin: str) -> Session:
        s = Session(secrets.token_urlsafe(32), admin, secrets.token_urlsafe(32), self.clock())
        with self._lock:
            self._items[s.id] = s
        return s

    def get(self, sid: str | None) -> Session | None:
        if not sid:
            return None
        now = self.clock()
        with self._lock:
            for key in [k for k, v in self._items.items() if now - v.last_seen > self.idle]:
                del self._items[key]
            s = self._items.get(sid)
            if s is not None:
                s.last_seen = now
            return s

    def drop(self, sid: str) -> None:
        with self._lock:
            self._items.pop(sid, None)


@dataclass
class Auth:
    """Who is asking: an admin id, with the session when logged in by cookie (None for a Bearer token)."""

    admin: str
    session: Session | None = None

    def flash(self, kind: str, text: str) -> None:
        if self.session is not None:
            self.session.flashes.append((kind, text))


class NeedLogin(Exception):
    """No valid session or token."""


class BadCSRF(Exception):
    """A cookie-authenticated POST without the session's CSRF token."""


class _Watch:
    """Residents that remember whether the message got through (Desk.resolve hides it)."""

    def __init__(self, inner: Residents) -> None:
        self.inner = inner
        self.reached: bool | None = None

    def tell(self, conversation_id: str, intent: str, entities: dict[str, Any]) -> list[str]:
        try:
            out = self.inner.tell(conversation_id, intent, entities)
        except ResidentUnreachable:
            self.reached = False
            raise
        self.reached = True
        return out


# --- error messages --------------------------------------------------------------------------

def error_status(exc: Exception) -> int:
    if isinstance(exc, (TicketNotFound, HandoffNotFound)):
        return 404
    if isinstance(exc, (ValidationError, HandoffValidation)):
        return 400
    if isinstance(exc, (StoreUnavailable, HandoffUnavailable)):
        return 503
    return 409          # refused by the lifecycle (InvalidTransition, InvalidHandoffState, RatingRefused, ...)


def error_text(exc: Exception) -> str:
    """A Chinese sentence for an error of the ticket store or the handoff queue."""
    s = STATUS_NAMES
    if isinstance(exc, TicketNotFound):
        return f"没有工单 {exc.ticket_id}"
    if isinstance(exc, InvalidTransition):
        if exc.wanted == "assigned" and exc.current not in ACTIVE:
            return f"工单 {exc.ticket_id} 已{s.get(exc.current, exc.current)}，不能指派；请先重新打开"
        if exc.wanted == "assigned":
            return f"工单 {exc.ticket_id} 要指派给处理人：请用「指派」表单"
        if exc.wanted == exc.current:
            return f"工单 {exc.ticket_id} 已经是「{s.get(exc.current, exc.current)}」"
        allowed = "、".join(f"「{s[x]}」" for x in STATUSES if x in TRANSITIONS.get(exc.current, ()))
        return (f"工单 {exc.ticket_id} 当前为「{s.get(exc.current, exc.current)}」，不能改为「{s.get(exc.wanted, exc.wanted)}」"
                + (f"（可改为：{allowed}）" if allowed else ""))
    if isinstance(exc, (ValidationError, HandoffValidation)):
        return f"{FIELD_NAMES.get(exc.field, exc.field)}：{_validation_text(str(exc).split(': ', 1)[-1])}"
    if isinstance(exc, AlreadyTaken):
        return f"转人工 {exc.handoff_id} 已被 {exc.admin} 接手"
    if isinstance(exc, InvalidHandoffState):
        wanted = {"taken": "接手", "released": "交还助手"}.get(exc.wanted, exc.wanted)
        return f"转人工 {exc.handoff_id} 当前为「{HANDOFF_STATE_NAMES.get(exc.state, exc.state)}」，不能{wanted}"
    if isinstance(exc, HandoffNotFound):
        return f"没有转人工记录 {exc.handoff_id}"
    if isinstance(exc, (StoreUnavailable, HandoffUnavailable)):
        return "数据库暂时无法访问，请稍后再试"
    return f"操作未完成：{exc}"


def _validation_text(detail: str) -> str:
    if detail in ("is required", "is empty", "must not be empty"):
        return "不能为空"
    if m := re.match(r"is (\d+) characters long; the limit is (\d+)", detail):
        return f"太长（{m.group(1)} 字，上限 {m.group(2)} 字）"
    if m := re.match(r"longer than (\d+) characters", detail):
        return f"太长（上限 {m.group(1)} 字）"
    if detail.startswith("unknown status"):
        return "未知的状态"
    if detail.startswith("unknown category"):
        return "未知的类别"
    if detail.startswith("cannot read") or detail.startswith("is not a unit"):
        return "无法识别的单元（例如 5-101、5栋101、5号楼1单元101，或只写楼号 5）"
    if detail == "must be a single line":
        return "只能是一行"
    return f"不符合要求（{detail}）"


# --- the app ---------------------------------------------------------------------------------

def create_app(desk: Desk, tokens: Iterable[AdminToken] | Mapping[str, str], *,
               secure_cookie: bool = False, session_idle: float = SESSION_IDLE) -> FastAPI:
    """The console for ``desk``; ``tokens`` are AdminTokens (or a mapping admin id -> token).
    ``secure_cookie`` marks the session cookie Secure (when served behind HTTPS)."""
    known = as_tokens(tokens)
    if not known:
        raise ValueError("no admin tokens: nobody could log in")
    sessions = Sessions(session_idle)
    failures: dict[str, list[float]] = {}       # client address -> times of recent failed logins
    failures_lock = threading.Lock()
    tz = desk.roster.tz
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    templates = Jinja2Templates(env=env)
    app = FastAPI(title="锦山壹号管理后台", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.sessions = sessions

    def now() -> datetime:
        clock = getattr(desk.tickets, "clock", None)
        return clock() if clock else datetime.now(timezone.utc)

    def admin_of(token: str) -> str | None:
        found = None
        given = token.strip().encode()
        for t in known:            # compare with every token, in constant time each
            if hmac.compare_digest(t.token.encode(), given):
                found = t.admin
        return found

    def admin_name(admin_id: str | None) -> str:
        if not admin_id:
            return "-"
        if admin_id == "system":
            return "系统"
        a = desk.roster.get(admin_id)
        return f"{a.name}（{a.id}）" if a else admin_id

    def fmt(value: datetime | None, short: bool = False) -> str:
        return value.astimezone(tz).strftime("%m-%d %H:%M" if short else "%Y-%m-%d %H:%M") if value else "-"

    env.filters["t"] = fmt
    env.globals.update(STATUS_NAMES=STATUS_NAMES, PRIORITY_NAMES=PRIORITY_NAMES, CATEGORY_NAMES=CATEGORY_NAMES,
                       ACTION_NAMES=ACTION_NAMES, OVERDUE_NAMES=OVERDUE_NAMES, REASON_NAMES=REASON_NAMES,
                       HANDOFF_STATE_NAMES=HANDOFF_STATE_NAMES, STATUSES=STATUSES, CATEGORIES=CATEGORIES,
                       PRIORITIES=PRIORITIES, LIMITS=LIMITS, admin_name=admin_name, tzname=str(tz))

    # --- authentication ----------------------------------------------------------------

    def current(request: Request) -> Auth:
        header = request.headers.get("authorization", "")
        if header:
            scheme, _, token = header.partition(" ")
            admin = admin_of(token) if scheme.lower() == "bearer" else None
            if admin is None:
                raise NeedLogin()
            return Auth(admin)
        s = sessions.get(request.cookies.get(SESSION_COOKIE))
        if s is None:
            raise NeedLogin()
        return Auth(s.admin, s)

    async def acting(request: Request, auth: Auth = Depends(current)) -> Auth:
        """current(), and for a cookie session the form's CSRF token must match."""
        if auth.session is not None:
            form = await request.form()
            given = form.get("csrf")
            if not isinstance(given, str) or not hmac.compare_digest(given.encode(), auth.session.csrf.encode()):
                raise BadCSRF()
        return auth

    def page(request: Request, name: str, auth: Auth | None, status: int = 200, **ctx: Any) -> Response:
        flashes = ctx.pop("flashes", [])
        if auth is not None and auth.session is not None:
            flashes = auth.session.flashes + flashes
            auth.session.flashes = []
        ctx.update(auth=auth, csrf=auth.session.csrf if auth and auth.session else "", flashes=flashes,
                   me=admin_name(auth.admin) if auth else "")
        return templates.TemplateResponse(request, name, ctx, status_code=status, headers=HEADERS)

    def redirect(url: str) -> Response:
        return RedirectResponse(url, status_code=303, headers=HEADERS)

    @app.exception_handler(NeedLogin)
    async def _need_login(request: Request, _exc: NeedLogin) -> Response:
        if request.method in ("GET", "HEAD") and "authorization" not in request.headers:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return redirect(f"/login?next={quote(target, safe='')}")
        resp = page(request, "error.html", None, 401, title="需要登录", message="请先用令牌登录管理后台。")
        resp.headers["WWW-Authenticate"] = 'Bearer realm="console"'
        return resp

    @app.exception_handler(BadCSRF)
    async def _bad_csrf(request: Request, _exc: BadCSRF) -> Response:
        return page(request, "error.html", None, 403, title="请求被拒绝",
                    message="表单已过期或来源不明（缺少有效的 CSRF 令牌）。请回到页面重新操作。")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        title = {404: "页面不存在", 405: "不支持的请求方式"}.get(exc.status_code, "请求有误")
        return page(request, "error.html", None, exc.status_code, title=title, message="请从导航重新进入。")

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, _exc: RequestValidationError) -> Response:
        return page(request, "error.html", None, 400, title="请求有误", message="请求的参数不正确。")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.error("console error on %s %s", request.method, request.url.path, exc_info=exc)
        return page(request, "error.html", None, 500, title="内部错误", message="操作未完成，请稍后再试或联系技术人员。")

    @app.get("/static/console.css", include_in_schema=False)
    def css() -> Response:
        return FileResponse(HERE / "static" / "console.css", media_type="text/css",
                            headers={"Cache-Control": "max-age=3600"})

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/login")
    def login_form(request: Request, next: str = "/tickets", bye: str = "") -> Response:
        if sessions.get(request.cookies.get(SESSION_COOKIE)) is not None:
            return redirect(_safe_next(next))
        flashes = [("ok", "已退出登录")] if bye else []
        return page(request, "login.html", None, next=_safe_next(next), flashes=flashes)

    @app.post("/login")
    def login(request: Request, token: str = Form(""), next: str = Form("/tickets")) -> Response:
        client = request.client.host if request.client else "?"
        t = time.monotonic()
        with failures_lock:
            for key in [k for k, v in failures.items() if not v or t - v[-1] >= LOGIN_WINDOW]:
                del failures[key]
            recent = failures.setdefault(client, [])
            recent[:] = [x for x in recent if t - x < LOGIN_WINDOW]
            throttled = len(recent) >= LOGIN_FAILURES
        if throttled:
            return page(request, "login.html", None, 429, next=_safe_next(next),
                        flashes=[("error", "登录失败次数过多，请 10 分钟后再试")])
        admin = admin_of(token) if token else None
        if admin is None:
            with failures_lock:
                failures.setdefault(client, []).append(t)
            log.info("console login refused")
            return page(request, "login.html", None, 401, next=_safe_next(next),
                        flashes=[("error", "令牌无效，请检查后重试")])
        old = request.cookies.get(SESSION_COOKIE)
        if old:
            sessions.drop(old)
        s = sessions.new(admin)
        log.info("console login admin=%s", admin)
        resp = redirect(_safe_next(next))
        resp.set_cookie(SESSION_COOKIE, s.id, httponly=True, samesite="strict", secure=secure_cookie, path="/")
        return resp

    @app.post("/logout")
    def logout(auth: Auth = Depends(acting)) -> Response:
        if auth.session is not None:
            sessions.drop(auth.session.id)
        resp = redirect("/login?bye=1")
        resp.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=secure_cookie)
        return resp

    @app.get("/")
    def home(auth: Auth = Depends(current)) -> Response:
        return redirect("/tickets")

    # --- tickets -------------------------------------------------------------------------

    @app.get("/tickets")
    def tickets(request: Request, status: str = "", category: str = "", unit: str = "", assignee: str = "",
                overdue: str = "", auth: Auth = Depends(current)) -> Response:
        filters = {"status": status.strip(), "category": category.strip(), "unit": unit.strip(),
                   "assignee": assignee.strip(), "overdue": overdue.strip() in ("1", "on", "true", "yes")}
        at = now()
        rows: list[dict[str, Any]] = []
        code, flashes = 200, []
        try:
            wanted: str | list[str] | None = filters["status"] or None
            if wanted == "active":
                wanted = list(ACTIVE)
            found = desk.tickets.list(status=wanted, category=filters["category"] or None,
                                      unit=filters["unit"] or None, assignee=filters["assignee"] or None,
                                      overdue=filters["overdue"], limit=LIST_LIMIT)
        except (TicketError, HandoffError) as exc:
            found, code, flashes = [], error_status(exc), [("error", error_text(exc))]
        for t in found:
            rows.append({"t": t, "late": t.overdue_kind(at), "due": _due(t, fmt)})
        return page(request, "tickets.html", auth, code, rows=rows, filters=filters, admins=desk.roster.admins,
                    limit=LIST_LIMIT, flashes=flashes, now=at)

    def ticket_page(request: Request, auth: Auth, ticket_id: str, status: int = 200,
                    flashes: list[tuple[str, str]] | None = None) -> Response:
        try:
            ticket, events = desk.tickets.get(ticket_id), desk.tickets.events(ticket_id)
        except (TicketError, HandoffError) as exc:
            return page(request, "error.html", auth, error_status(exc), title="工单不可用",
                        message=error_text(exc), flashes=flashes or [])
        at = now()
        moves = [s for s in STATUSES if s in TRANSITIONS[ticket.status] and s != "assigned"]
        try:
            duty = desk.roster.on_duty(at).id
        except Exception:  # noqa: BLE001 - the page works without knowing who is on duty
            duty = None
        return page(request, "ticket.html", auth, status, t=ticket, events=[_event_row(e, admin_name) for e in events],
                    late=ticket.overdue_kind(at), moves=moves, admins=desk.roster.admins,
                    active=ticket.status in ACTIVE, duty=duty, flashes=flashes or [])

    @app.get("/tickets/{ticket_id}")
    def ticket(request: Request, ticket_id: str, auth: Auth = Depends(current)) -> Response:
        return ticket_page(request, auth, ticket_id)

    def act(request: Request, auth: Auth, ticket_id: str, fn: Callable[[], Ticket | tuple[str, str, Ticket]],
            done: str = "") -> Response:
        """Run a ticket action: on success flash ``done`` and redirect to the ticket; on a refused or
        failed change show the ticket (or an error page) with the reason and a 4xx status."""
        try:
            out = fn()
        except (TicketError, HandoffError) as exc:
            log.info("console action refused on ticket %s: %s", ticket_id, type(exc).__name__)
            return ticket_page(request, auth, ticket_id, error_status(exc), [("error", error_text(exc))])
        kind, text, t = ("ok", done, out) if isinstance(out, Ticket) else out
        auth.flash(kind, text)
        return redirect(f"/tickets/{quote(t.id, safe='')}")

    @app.post("/tickets/{ticket_id}/assign")
    def assign(request: Request, ticket_id: str, assignee: str = Form(""), comment: str = Form(""),
               auth: Auth = Depends(acting)) -> Response:
        def run() -> Ticket:
            if desk.roster.get(assignee or "") is None:
                raise ValidationError("assignee", "is required" if not assignee.strip() else
                                      f"unknown admin {assignee!r}")
            return desk.tickets.assign(ticket_id, assignee.strip(), actor=auth.admin, comment=comment or None)
        return act(request, auth, ticket_id, run, f"已指派给 {admin_name(assignee.strip())}")

    @app.post("/tickets/{ticket_id}/comment")
    def comment(request: Request, ticket_id: str, text: str = Form(""), auth: Auth = Depends(acting)) -> Response:
        return act(request, auth, ticket_id, lambda: desk.tickets.comment(ticket_id, text, actor=auth.admin),
                   "已添加备注")

    def resolve(ticket_id: str, auth: Auth, comment: str | None) -> tuple[str, str, Ticket]:
        watch = _Watch(desk.residents)
        t, texts = dataclasses.replace(desk, residents=watch).resolve(ticket_id, actor=auth.admin, comment=comment)
        if watch.reached is False:
            return "warn", "已解决。满意度调查未能送达：助手未在运行，请线下询问居民评价", t
        if texts:
            return "warn", ("已解决，已请居民评价。居民所在渠道不能直接推送，请把以下消息转给居民：" + " / ".join(texts)), t
        return "ok", "已解决，已请居民评价（满意度 1-5 分）", t

    @app.post("/tickets/{ticket_id}/status")
    def status(request: Request, ticket_id: str, status: str = Form(""), comment: str = Form(""),
               auth: Auth = Depends(acting)) -> Response:
        wanted = status.strip().lower()

        def run() -> Ticket | tuple[str, str, Ticket]:
            if not wanted:
                raise ValidationError("status", "is required")
            if wanted == "resolved":
                return resolve(ticket_id, auth, comment or None)
            return desk.tickets.transition(ticket_id, wanted, actor=auth.admin, comment=comment or None)
        return act(request, auth, ticket_id, run, f"状态已改为「{STATUS_NAMES.get(wanted, wanted)}」")

    @app.post("/tickets/{ticket_id}/resolve")
    def resolve_route(request: Request, ticket_id: str, comment: str = Form(""),
                      auth: Auth = Depends(acting)) -> Response:
        return act(request, auth, ticket_id, lambda: resolve(ticket_id, auth, comment or None))

    @app.post("/tickets/{ticket_id}/close")
    def close(request: Request, ticket_id: str, comment: str = Form(""), auth: Auth = Depends(acting)) -> Response:
        return act(request, auth, ticket_id,
                   lambda: desk.tickets.close(ticket_id, actor=auth.admin, comment=comment or None), "已关闭工单")

    @app.post("/tickets/{ticket_id}/reopen")
    def reopen(request: Request, ticket_id: str, comment: str = Form(""), auth: Auth = Depends(acting)) -> Response:
        return act(request, auth, ticket_id,
                   lambda: desk.tickets.reopen(ticket_id, actor=auth.admin, comment=comment or None),
                   "已重新打开工单（处理人与评价已清除）")

    # --- handoffs ------------------------------------------------------------------------

    def handoff_page(request: Request, auth: Auth, state: str, status: int = 200,
                     flashes: list[tuple[str, str]] | None = None) -> Response:
        state = state.strip()
        wanted: str | tuple[str, ...] | None = OPEN if not state else None if state == "all" else state
        flashes = list(flashes or [])
        try:
            items = desk.handoffs.list(state=wanted, limit=LIST_LIMIT)
        except (TicketError, HandoffError) as exc:
            items, status = [], error_status(exc)
            flashes.append(("error", error_text(exc)))
        try:
            duty = desk.roster.on_duty(now())
        except Exception:  # noqa: BLE001 - the page works without knowing who is on duty
            duty = None
        return page(request, "handoffs.html", auth, status, items=items, state=state, states=STATES, duty=duty,
                    flashes=flashes, limit=LIST_LIMIT)

    @app.get("/handoffs")
    def handoffs(request: Request, state: str = "", auth: Auth = Depends(current)) -> Response:
        return handoff_page(request, auth, state)

    def handoff_act(request: Request, auth: Auth, state: str, fn: Callable[[], Any], done: str) -> Response:
        try:
            h = fn()
        except (TicketError, HandoffError) as exc:
            log.info("console handoff action refused: %s", type(exc).__name__)
            return handoff_page(request, auth, state, error_status(exc), [("error", error_text(exc))])
        auth.flash("ok", done.format(id=h.id))
        return redirect("/handoffs" + (f"?state={quote(state, safe='')}" if state else ""))

    @app.post("/handoffs/{handoff_id}/take")
    def take(request: Request, handoff_id: str, state: str = Form(""), auth: Auth = Depends(acting)) -> Response:
        return handoff_act(request, auth, state, lambda: desk.handoffs.take(handoff_id, auth.admin),
                           "已接手 {id}：助手在该会话中保持安静，请在聊天中回复居民")

    @app.post("/handoffs/{handoff_id}/release")
    def release(request: Request, handoff_id: str, state: str = Form(""),
                auth: Auth = Depends(acting)) -> Response:
        return handoff_act(request, auth, state, lambda: desk.handoffs.release(handoff_id, auth.admin),
                           "已把 {id} 交还助手")

    return app


def _safe_next(target: str) -> str:
    """Only local paths: no scheme, no host, no protocol-relative //host."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target or target.startswith("/login"):
        return "/tickets"
    return target


def _due(t: Ticket, fmt: Callable[..., str]) -> str:
    if t.status in ("resolved", "closed"):
        return "-"
    if t.paused_at is not None:
        return "已暂停（等待居民）"
    if t.first_response_at is None:
        return f"响应 {fmt(t.first_response_due, True)}"
    return f"解决 {fmt(t.resolution_due, True)}"


def _event_row(e: Event, name: Callable[[str | None], str]) -> dict[str, Any]:
    change = ""
    if e.to_status and e.from_status != e.to_status:
        to = STATUS_NAMES.get(e.to_status, e.to_status)
        change = f"{STATUS_NAMES.get(e.from_status, e.from_status)} → {to}" if e.from_status else to
    if e.action == "assigned" and e.value:
        change = (change + " " if change else "") + f"指派给 {name(e.value)}"
    elif e.action == "rated" and e.value:
        change = f"{e.value}/5 分"
    elif e.action == "reminded" and e.value:
        change = OVERDUE_NAMES.get(e.value, e.value)
    elif e.action == "created" and e.value:
        change = (change + " " if change else "") + f"优先级 {PRIORITY_NAMES.get(e.value, e.value)}"
    return {"e": e, "action": ACTION_NAMES.get(e.action, e.action), "change": change}
