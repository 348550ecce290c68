"""The console's pages for the group's routines (``assistant/schedule``): scheduled posts, notices
and 辟谣, the activity calendar (with its .ics download). Added by ``create_app(..., schedule=store)``.

Every form goes through the schedule store's own checks; bad input comes back on the same page,
status 400, with the field named and nothing stored."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from fastapi import Depends, FastAPI, Form, Request
from fastapi.responses import Response

from assistant.schedule.errors import NotFound, ScheduleInputError, ScheduleUnavailable
from assistant.schedule.models import TAGS
from assistant.schedule.rules import DAYS, DAYS_NAMES, DEFAULT_TZ, Rule, parse_time, zone
from assistant.schedule.store import ScheduleStore
from assistant.schedule.templates import TEMPLATE_NAMES

log = logging.getLogger("assistant.console.schedule")

FIELD_NAMES = {"cron": "规则", "at": "时间", "days": "节假日处理", "template": "模板", "text": "内容", "name": "名称",
               "target": "发送对象", "tags": "标签", "body": "内容", "rumour": "谣言", "source": "来源",
               "valid_until": "有效期", "title": "活动名称", "place": "地点", "start": "开始时间", "end": "结束时间",
               "remind": "提醒", "signup_id": "接龙编号", "id": "编号", "month": "月份"}


def problem(exc: Exception) -> tuple[int, str]:
    if isinstance(exc, NotFound):
        return 404, "没有找到该条目（可能已删除）"
    if isinstance(exc, ScheduleInputError):
        return 400, f"{FIELD_NAMES.get(exc.field or '', exc.field or '输入')}有误：{exc}"
    return 503, "数据库暂不可用，请稍后再试"


def add_schedule_pages(app: FastAPI, store: ScheduleStore, *, page: Callable[..., Response],
                       redirect: Callable[[str], Response], current: Any, acting: Any) -> None:
    tz = zone(DEFAULT_TZ)
    errors = (ScheduleInputError, ScheduleUnavailable)

    def local(t: datetime | None) -> str:
        return t.astimezone(tz).strftime("%Y-%m-%d %H:%M") if t else "-"

    def act(auth: Any, fn: Callable[[], Any], done: str, back: str,
            again: Callable[[int, str], Response]) -> Response:
        try:
            fn()
        except (*errors, NotFound) as exc:
            log.info("console schedule action refused: %s", type(exc).__name__)
            status, text = problem(exc)
            return again(status, text)
        auth.flash("ok", done)
        return redirect(back)

    # --- posts ------------------------------------------------------------------------------
    def posts_page(request: Request, auth: Any, status: int = 200, error: str = "",
                   form: dict[str, str] | None = None) -> Response:
        now = store.now()
        rows = []
        try:
            for p in store.posts():
                runs = store.runs(p.job)
                nxt = local(p.rule.next_after(now)) if p.active else "-"
                rows.append({"p": p, "rule": p.rule.describe(), "next": nxt,
                             "posted": sum(r.status == "posted" for r in runs),
                             "missed": sum(r.status == "missed" for r in runs),
                             "last": local(runs[-1].due_at) if runs else "-"})
        except errors as exc:
            status, error = problem(exc)
        flashes = [("error", error)] if error else []
        return page(request, "schedule_posts.html", auth, status, rows=rows, flashes=flashes, form=form or {},
                    TEMPLATE_NAMES=TEMPLATE_NAMES, DAYS=DAYS, DAYS_NAMES=DAYS_NAMES, local=local)

    @app.get("/schedule/posts")
    def posts(request: Request, auth: Any = Depends(current)) -> Response:
        return posts_page(request, auth)

    @app.post("/schedule/posts")
    def add_post(request: Request, name: str = Form(""), when: str = Form("cron"), cron: str = Form(""),
                 at: str = Form(""), days: str = Form("any"), template: str = Form("text"), text: str = Form(""),
                 target: str = Form("group"), auth: Any = Depends(acting)) -> Response:
        form = {"name": name, "when": when, "cron": cron, "at": at, "days": days, "template": template, "text": text}

        def add() -> None:
            rule = Rule.once(at, days) if when == "at" else Rule.parse(cron, days)
            store.add_post(name, rule, template, text, target=target, actor=auth.admin)
        return act(auth, add, "已添加定时发布", "/schedule/posts",
                   lambda s, e: posts_page(request, auth, s, e, form))

    @app.post("/schedule/posts/{post_id}/remove")
    def remove_post(request: Request, post_id: str, auth: Any = Depends(acting)) -> Response:
        return act(auth, lambda: store.remove_post(post_id), "已停用", "/schedule/posts",
                   lambda s, e: posts_page(request, auth, s, e))

    # --- notices ----------------------------------------------------------------------------
    def notices_page(request: Request, auth: Any, status: int = 200, error: str = "",
                     form: dict[str, str] | None = None) -> Response:
        now = store.now()
        try:
            items = store.notices()
        except errors as exc:
            items, (status, error) = [], problem(exc)
        flashes = [("error", error)] if error else []
        return page(request, "schedule_notices.html", auth, status, items=items, now=now, flashes=flashes,
                    form=form or {}, TAGS=TAGS, local=local)

    @app.get("/schedule/notices")
    def notices(request: Request, auth: Any = Depends(current)) -> Response:
        return notices_page(request, auth)

    @app.post("/schedule/notices")
    def add_notice(request: Request, tag: str = Form(""), body: str = Form(""), rumour: str = Form(""),
                   source: str = Form(""), until: str = Form(""), auth: Any = Depends(acting)) -> Response:
        form = {"tag": tag, "body": body, "rumour": rumour, "source": source, "until": until}

        def add() -> None:
            from assistant.schedule.routines import parse_when

            tags = [t for t in tag.replace("，", ",").replace(" ", ",").split(",") if t.strip()]
            valid = parse_when(until, store.now().astimezone(tz)) if until.strip() else store.now() + timedelta(days=7)
            store.add_notice(tags, body, valid_until=valid, rumour=rumour, source=source, actor=auth.admin)
        return act(auth, add, "已发布通知", "/schedule/notices", lambda s, e: notices_page(request, auth, s, e, form))

    @app.post("/schedule/notices/{notice_id}/remove")
    def remove_notice(request: Request, notice_id: str, auth: Any = Depends(acting)) -> Response:
        return act(auth, lambda: store.remove_notice(notice_id), "已撤下通知", "/schedule/notices",
                   lambda s, e: notices_page(request, auth, s, e))

    # --- the calendar -----------------------------------------------------------------------
    def calendar_page(request: Request, auth: Any, status: int = 200, error: str = "",
                      form: dict[str, str] | None = None) -> Response:
        month = request.query_params.get("month", "")
        try:
            if month and not re.fullmatch(r"20\d\d-(0[1-9]|1[0-2])", month):
                raise ScheduleInputError("month", f"{month[:20]!r} is not a month like 2026-12")
            first = parse_time(f"{month}-01", tz, "month") if month else store.now().astimezone(tz).replace(
                day=1, hour=0, minute=0, second=0, microsecond=0)
        except ScheduleInputError as exc:
            first = store.now().astimezone(tz).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
            status, error = problem(exc)
        nxt = (first + timedelta(days=32)).replace(day=1)
        prev = (first - timedelta(days=1)).replace(day=1)
        try:
            items = store.events(first, nxt)
        except errors as exc:
            items, (status, error) = [], problem(exc)
        flashes = [("error", error)] if error else []
        return page(request, "schedule_calendar.html", auth, status, items=items, flashes=flashes, form=form or {},
                    month=f"{first:%Y年%m月}", prev=f"{prev:%Y-%m}", next=f"{nxt:%Y-%m}", local=local)

    @app.get("/schedule/calendar")
    def calendar(request: Request, auth: Any = Depends(current)) -> Response:
        return calendar_page(request, auth)

    @app.post("/schedule/calendar")
    def add_event(request: Request, title: str = Form(""), place: str = Form(""), start: str = Form(""),
                  end: str = Form(""), signup: str = Form(""), remind: str = Form("1440,60"),
                  auth: Any = Depends(acting)) -> Response:
        form = {"title": title, "place": place, "start": start, "end": end, "signup": signup, "remind": remind}

        def add() -> None:
            try:
                minutes = [int(x) for x in remind.replace("，", ",").split(",") if x.strip()]
            except ValueError:
                raise ScheduleInputError("remind", f"{remind!r} is not minutes like 1440,60") from None
            store.add_event(title, place, parse_time(start.replace("T", " "), tz, "start"),
                            parse_time(end.replace("T", " "), tz, "end"), signup_id=signup or None,
                            remind=minutes, actor=auth.admin)
        return act(auth, add, "已添加活动", "/schedule/calendar", lambda s, e: calendar_page(request, auth, s, e, form))

    @app.post("/schedule/calendar/{event_id}/remove")
    def remove_event(request: Request, event_id: str, auth: Any = Depends(acting)) -> Response:
        return act(auth, lambda: store.remove_event(event_id), "已取消活动", "/schedule/calendar",
                   lambda s, e: calendar_page(request, auth, s, e))

    @app.get("/schedule/calendar.ics")
    def calendar_ics(auth: Any = Depends(current)) -> Response:
        from assistant.schedule.ics import export_ics

        try:
            data = export_ics(store.events())
        except errors:
            return Response("数据库暂不可用", status_code=503, media_type="text/plain; charset=utf-8")
        return Response(data, media_type="text/calendar; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="jinshan1-events.ics"',
                                 "Cache-Control": "no-store"})
