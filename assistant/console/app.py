"""The admins' web console: dispute tickets with their audit log and actions, and the handoff queue.

Server-rendered HTML (Jinja2, autoescaped) on FastAPI; forms POST and redirect. Log in with a token
from the tokens file: the session is a signed HttpOnly, SameSite=Strict cookie (sessions.py) that
survives a restart, with a CSRF token every POST must carry. Scripts may send
``Authorization: Bearer <token>`` instead (no CSRF token needed then). Without a valid token
nothing is shown or changed: pages redirect to /login, POSTs get 401 (403 for a bad CSRF token).
Wrong tokens, at login or as Bearer, are throttled per client and per token (throttle.py): 429 with
Retry-After. The admin logged in is the actor in the audit log.
"""

from __future__ import annotations

import dataclasses
import hmac
import logging
import math
import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.console.sessions import SESSION_IDLE, SESSION_MAX_AGE, Session, Sessions
from assistant.console.throttle import Locked, Throttle, client_address, client_key, parse_networks, token_key
from assistant.console.tokens import AdminToken, TokenFile, as_tokens
from assistant.desk.desk import Desk
from assistant.desk.handoff.queue import (
    OPEN,
    STATES,
    AlreadyTaken,
    HandoffError,
    HandoffNotFound,
    HandoffUnavailable,
    HandoffValidation,
    InvalidHandoffState,
)
from assistant.desk.push import Residents, ResidentUnreachable
from assistant.desk.tickets.errors import (
    InvalidTransition,
    StoreUnavailable,
    TicketError,
    TicketNotFound,
    ValidationError,
)
from assistant.desk.tickets.models import ACTIVE, CATEGORIES, LIMITS, PRIORITIES, STATUSES, TRANSITIONS, Event, Ticket
from assistant.vocabulary import CATEGORY_NAMES, PRIORITY_NAMES, REASON_NAMES, STATUS_NAMES

if TYPE_CHECKING:
    from assistant.schedule.store import ScheduleStore
from assistant.vocabulary import OVERDUE_NAMES as OVERDUE_KIND_NAMES

if TYPE_CHECKING:
    from assistant.community.service import Community
    from assistant.learning.service import Learning

log = logging.getLogger("assistant.console")
HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "console_session"
LIST_LIMIT = 200
FLASH_SESSIONS = 1000             # sessions whose unshown messages are kept (in memory)

ACTION_NAMES = {"created": "创建", "appended": "居民补充", "assigned": "指派", "commented": "备注",
                "status": "状态变更", "rated": "居民评价", "reminded": "超时提醒"}
OVERDUE_NAMES = {k: f"{v}超时" for k, v in OVERDUE_KIND_NAMES.items()}
HANDOFF_STATE_NAMES = {"waiting": "等待接手", "taken": "已接手", "released": "已交还助手", "expired": "无人接手已超时"}
FIELD_NAMES = {"description": "描述", "comment": "备注", "assignee": "处理人", "actor": "操作人", "status": "状态",
               "category": "类别", "unit": "单元", "other_party": "对方单元", "admin": "管理员", "state": "状态",
               "priority": "优先级", "time": "时间"}
HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                                      "frame-ancestors 'none'; base-uri 'none'",
           "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
           "Cache-Control": "no-store"}


# --- sessions --------------------------------------------------------------------------------

class Flashes:
    """Messages to show on a session's next page (kind, text), in memory: a restart drops unshown ones."""

    def __init__(self, size: int = FLASH_SESSIONS) -> None:
        self.size = size
        self._items: OrderedDict[str, list[tuple[str, str]]] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, sid: str, kind: str, text: str) -> None:
        with self._lock:
            self._items.setdefault(sid, []).append((kind, text))
            self._items.move_to_end(sid)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def take(self, sid: str) -> list[tuple[str, str]]:
        with self._lock:
            return self._items.pop(sid, [])


@dataclass
class Auth:
    """Who is asking: an admin id, with the session when logged in by cookie (None for a Bearer token)."""

    admin: str
    session: Session | None = None
    flashes: Flashes | None = None

    def flash(self, kind: str, text: str) -> None:
        if self.session is not None and self.flashes is not None:
            self.flashes.add(self.session.id, kind, text)


class NeedLogin(Exception):
    """No valid session or token."""


class BadCSRF(Exception):
    """A cookie-authenticated POST without the session's CSRF token."""


class Throttled(Exception):
    """Too many wrong tokens from this client (or this token)."""

    def __init__(self, locked: Locked) -> None:
        super().__init__(locked.who)
        self.locked = locked


def wait_text(seconds: int) -> str:
    """「N 分钟」 (or hours) for a Retry-After."""
    minutes = max(1, math.ceil(seconds / 60))
    return f"{minutes} 分钟" if minutes < 120 else f"{math.ceil(minutes / 60)} 小时"


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
        return (f"工单 {exc.ticket_id} 当前为「{s.get(exc.current, exc.current)}」，"
                f"不能改为「{s.get(exc.wanted, exc.wanted)}」"
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

def create_app(desk: Desk, tokens: Iterable[AdminToken] | Mapping[str, str] | TokenFile, *,
               secure_cookie: bool = False, session_idle: float = SESSION_IDLE,
               session_max_age: float = SESSION_MAX_AGE, session_secret: str | bytes | None = None,
               trusted_proxies: Iterable[str] = (), throttle: Throttle | None = None,
               schedule: ScheduleStore | None = None,
               community: Community | None = None,
               learning: Learning | None = None) -> FastAPI:
    """The console for ``desk``; ``tokens`` are AdminTokens (or a mapping admin id -> token), or a
    TokenFile read again when it changes. ``session_secret`` signs the session cookies (sessions then
    survive a restart; without it a random one per app). ``trusted_proxies`` are the addresses or
    networks of reverse proxies whose X-Forwarded-For names the client (default: none, the socket peer
    is the client). ``secure_cookie`` marks the session cookie Secure (when served behind HTTPS).
    With ``community``, the community pages (sign-ups, surveys, suggestions, help list) are added."""
    if isinstance(tokens, TokenFile):
        token_list: Callable[[], tuple[AdminToken, ...]] = tokens.current
    else:
        fixed = as_tokens(tokens)

        def token_list() -> tuple[AdminToken, ...]:
            return fixed
    if not token_list():
        raise ValueError("no admin tokens: nobody could log in")
    sessions = Sessions(session_secret if session_secret is not None else secrets.token_bytes(32),
                        idle=session_idle, max_age=session_max_age)
    throttle = throttle or Throttle()
    proxies = parse_networks(trusted_proxies)
    flashes = Flashes()
    tz = desk.roster.tz
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    templates = Jinja2Templates(env=env)
    app = FastAPI(title="锦山壹号管理后台", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.sessions, app.state.throttle = sessions, throttle
    app.add_middleware(_RefreshCookie)

    def now() -> datetime:
        clock = getattr(desk.tickets, "clock", None)
        return clock() if clock else datetime.now(UTC)

    def match(token: str) -> AdminToken | None:
        found = None
        given = token.strip().encode("utf-8", "surrogatepass")
        for t in token_list():      # compare with every token, in constant time each
            if hmac.compare_digest(t.token.encode(), given):
                found = t
        return found

    def admin_by_id(token_id: str) -> str | None:
        found = None
        given = token_id.encode("utf-8", "surrogatepass")
        for t in token_list():
            if hmac.compare_digest(sessions.token_id(t.token).encode(), given):
                found = t.admin
        return found

    def client_of(request: Request) -> str:
        peer = request.client.host if request.client else None
        return client_key(client_address(peer, request.headers.getlist("x-forwarded-for"), proxies))

    def try_token(request: Request, token: str) -> AdminToken | None:
        """The admin token presented, or None (counted as a failure); raises Throttled while this
        client or this token is locked, without looking at the token."""
        client, key = client_of(request), token_key(token)
        locked = throttle.check(client, key)
        if locked is not None:
            raise Throttled(locked)
        found = match(token) if key else None
        if found is None:
            throttle.fail(client, key)
            locked = throttle.check(client, key)
            if locked is not None:
                log.warning("console: wrong tokens, %s locked for %d s (client %s)", locked.who, locked.retry_after,
                            client)
        return found

    def session_of(request: Request) -> tuple[Session, str] | None:
        """The cookie's session and its admin, while the session's token is still in the tokens file."""
        s = sessions.read(request.cookies.get(SESSION_COOKIE))
        if s is None:
            return None
        admin = admin_by_id(s.token_id)
        return (s, admin) if admin is not None else None

    def set_session(resp: Response, s: Session) -> Response:
        resp.set_cookie(SESSION_COOKIE, sessions.dump(s), httponly=True, samesite="strict", secure=secure_cookie,
                        path="/")
        return resp

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
                       PRIORITIES=PRIORITIES, LIMITS=LIMITS, admin_name=admin_name, tzname=str(tz),
                       schedule_pages=schedule is not None,
                       community_nav=community is not None,
                       learning_on=learning is not None)

    # --- authentication ----------------------------------------------------------------

    def current(request: Request) -> Auth:
        header = request.headers.get("authorization", "")
        if header:
            scheme, _, token = header.partition(" ")
            found = try_token(request, token if scheme.lower() == "bearer" else "")
            if found is None:
                raise NeedLogin()
            return Auth(found.admin)
        got = session_of(request)
        if got is None:
            raise NeedLogin()
        s, admin = got
        if sessions.touch(s):           # keep an active session from idling out
            request.state.console_cookie = set_session(Response(), s).headers["set-cookie"]
        return Auth(admin, s, flashes)

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
            flashes = auth.flashes.take(auth.session.id) + flashes if auth.flashes else flashes
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

    @app.exception_handler(Throttled)
    async def _throttled(request: Request, exc: Throttled) -> Response:
        wait = exc.locked.retry_after
        resp = page(request, "error.html", None, 429, title="尝试次数过多",
                    message=f"令牌错误次数过多，请 {wait_text(wait)}后再试。")
        resp.headers["Retry-After"] = str(wait)
        return resp

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
        return page(request, "error.html", None, 500, title="内部错误",
                    message="操作未完成，请稍后再试或联系技术人员。")

    @app.get("/static/console.css", include_in_schema=False)
    def css() -> Response:
        return FileResponse(HERE / "static" / "console.css", media_type="text/css",
                            headers={"Cache-Control": "max-age=3600"})

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/login")
    def login_form(request: Request, next: str = "/tickets", bye: str = "") -> Response:
        if session_of(request) is not None:
            return redirect(_safe_next(next))
        flashes = [("ok", "已退出登录")] if bye else []
        return page(request, "login.html", None, next=_safe_next(next), flashes=flashes)

    @app.post("/login")
    def login(request: Request, token: str = Form(""), next: str = Form("/tickets")) -> Response:
        try:
            found = try_token(request, token)
        except Throttled as exc:
            wait = exc.locked.retry_after
            resp = page(request, "login.html", None, 429, next=_safe_next(next),
                        flashes=[("error", f"登录失败次数过多，请 {wait_text(wait)}后再试")])
            resp.headers["Retry-After"] = str(wait)
            return resp
        if found is None:
            log.info("console login refused")
            return page(request, "login.html", None, 401, next=_safe_next(next),
                        flashes=[("error", "令牌无效，请检查后重试")])
        old = sessions.read(request.cookies.get(SESSION_COOKIE))
        if old is not None:
            sessions.end(old)
        s = sessions.new(sessions.token_id(found.token))
        log.info("console login admin=%s", found.admin)
        return set_session(redirect(_safe_next(next)), s)

    @app.post("/logout")
    def logout(request: Request, auth: Auth = Depends(acting)) -> Response:
        if auth.session is not None:
            sessions.end(auth.session)
            flashes.take(auth.session.id)
        request.state.console_cookie = None
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
        filters: dict[str, Any] = {"status": status.strip(), "category": category.strip(), "unit": unit.strip(),
                                   "assignee": assignee.strip(),
                                   "overdue": overdue.strip() in ("1", "on", "true", "yes")}
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
        except Exception:
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
            return "warn", ("已解决，已请居民评价。居民所在渠道不能直接推送，请把以下消息转给居民："
                            + " / ".join(texts)), t
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
        except Exception:
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

    if schedule is not None:         # posts, notices, the calendar (assistant/console/schedule_pages.py)
        from assistant.console.schedule_pages import add_schedule_pages

        add_schedule_pages(app, schedule, page=page, redirect=redirect, current=current, acting=acting)
    if community is not None:
        from assistant.console.community import add_community_routes

        add_community_routes(app, community, current=current, acting=acting, page=page, redirect=redirect, now=now)
    if learning is not None:         # the knowledge base that learns (assistant/learning): review, hit test, stats
        from assistant.console.learning_pages import add_learning_pages

        add_learning_pages(app, learning, current, acting, page, redirect)
    return app


class _RefreshCookie:
    """Sends the session cookie a route re-signed (``request.state.console_cookie``) with the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                cookie = scope.get("state", {}).get("console_cookie")
                if cookie:
                    message["headers"] = [*message.get("headers", []), (b"set-cookie", cookie.encode("latin-1"))]
            await send(message)

        await self.app(scope, receive, send_cookie)


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
