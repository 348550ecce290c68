"""The console's community pages (社区活动): sign-ups with their lists and exports, surveys with
their results and plot, anonymous suggestions, the mutual-help list and emergency contacts.
Mounted by ``create_app(..., community=…)`` with the app's own login, CSRF and page helpers."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import Depends, FastAPI, Form, Request
from fastapi.responses import Response

from assistant.community.errors import BadInput, CommunityError, CommunityUnavailable, NotFound
from assistant.community.helplist import CATEGORY_NAMES, KIND_NAMES
from assistant.community.service import Community
from assistant.community.signups import STATUS_NAMES as ENTRY_NAMES
from assistant.community.surveys import KINDS, TEMPLATES
from assistant.community.when import format_when
from assistant.text.units import normalize_unit

log = logging.getLogger("assistant.console")
DOWNLOAD = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def _status(exc: CommunityError) -> int:
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, BadInput):
        return 400
    if isinstance(exc, CommunityUnavailable):
        return 503
    return 409


def add_community_routes(app: FastAPI, c: Community, *, current: Callable[..., Any], acting: Callable[..., Any],
                         page: Callable[..., Response], redirect: Callable[[str], Response],
                         now: Callable[[], datetime]) -> None:
    """The /community/… pages on ``app``: reading needs a login, changing a login and the CSRF token."""
    def refused(handler: Callable[..., Response]) -> Callable[..., Response]:
        """``handler`` with a CommunityError shown as the error page (FastAPI passes every argument by name)."""
        @functools.wraps(handler)
        def run(**kw: Any) -> Response:
            try:
                return handler(**kw)
            except CommunityError as exc:
                log.info("console community action refused: %s", type(exc).__name__)
                return page(kw["request"], "error.html", kw["auth"], _status(exc), title="操作未完成",
                            message=str(exc))
        return run

    # -- sign-ups --------------------------------------------------------------------------------

    @app.get("/community/signups")
    @refused
    def signups(request: Request, auth: Any = Depends(current)) -> Response:
        rows = []
        for s in c.signups.list():
            entries = c.signups.entries(s.id)
            rows.append({"s": s, "in": sum(e.status == "in" for e in entries),
                         "waiting": sum(e.status == "waiting" for e in entries),
                         "state": "已结束" if s.closed_at else ("进行中" if s.is_open(now()) else "已截止"),
                         "deadline": format_when(s.deadline) if s.deadline else "-"})
        return page(request, "community_signups.html", auth, rows=rows)

    @app.get("/community/signups/{signup_id}")
    @refused
    def signup(request: Request, signup_id: int, auth: Any = Depends(current)) -> Response:
        s = c.signups.get(signup_id)
        entries = c.signups.entries(signup_id)
        return page(request, "community_signup.html", auth, s=s, entries=entries, names=ENTRY_NAMES,
                    deadline=format_when(s.deadline) if s.deadline else "不限",
                    state="已结束" if s.closed_at else ("进行中" if s.is_open(now()) else "已截止"))

    @app.get("/community/signups/{signup_id}/export.csv")
    @refused
    def export_csv(request: Request, signup_id: int, auth: Any = Depends(current)) -> Response:
        body = c.signups.export_csv(signup_id).encode("utf-8")
        return Response(body, media_type="text/csv; charset=utf-8", headers={
            **DOWNLOAD, "Content-Disposition": f"attachment; filename=signup-{signup_id}.csv"})

    @app.get("/community/signups/{signup_id}/export.xlsx")
    @refused
    def export_xlsx(request: Request, signup_id: int, auth: Any = Depends(current)) -> Response:
        body = c.signups.export_xlsx(signup_id)
        return Response(body, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={**DOWNLOAD, "Content-Disposition": f"attachment; filename=signup-{signup_id}.xlsx"})

    @app.post("/community/signups/{signup_id}/close")
    @refused
    def close_signup(request: Request, signup_id: int, auth: Any = Depends(acting)) -> Response:
        c.signups.close(signup_id)
        auth.flash("ok", f"接龙 #{signup_id} 已结束")
        return redirect(f"/community/signups/{signup_id}")

    # -- surveys ---------------------------------------------------------------------------------

    templates = sorted(p.stem for p in TEMPLATES.glob("*.yml"))

    @app.get("/community/surveys")
    @refused
    def surveys(request: Request, auth: Any = Depends(current)) -> Response:
        rows = [{"s": s, "n": c.surveys.results(s.id).responses} for s in c.surveys.list()]
        return page(request, "community_surveys.html", auth, rows=rows, templates=templates)

    @app.post("/community/surveys")
    @refused
    def create_survey(request: Request, template: str = Form(""), title: str = Form(""),
                      auth: Any = Depends(acting)) -> Response:
        if template not in templates:
            raise BadInput("template", f"没有模板“{template[:40]}”")
        s = c.surveys.from_template(template, auth.admin, title.strip() or None)
        auth.flash("ok", f"已发布问卷 #{s.id}：居民私聊助手回复“问卷 {s.id}”填写")
        return redirect(f"/community/surveys/{s.id}")

    @app.get("/community/surveys/{survey_id}")
    @refused
    def survey(request: Request, survey_id: int, auth: Any = Depends(current)) -> Response:
        res = c.surveys.results(survey_id)
        return page(request, "community_survey.html", auth, res=res, kinds=KINDS)

    @app.get("/community/surveys/{survey_id}/plot.png")
    @refused
    def survey_plot(request: Request, survey_id: int, auth: Any = Depends(current)) -> Response:
        from assistant.community.plot import plot_results

        png = plot_results(c.surveys.results(survey_id))
        return Response(png, media_type="image/png", headers=DOWNLOAD)

    @app.post("/community/surveys/{survey_id}/close")
    @refused
    def close_survey(request: Request, survey_id: int, auth: Any = Depends(acting)) -> Response:
        c.surveys.close(survey_id)
        auth.flash("ok", f"问卷 #{survey_id} 已结束，不再接受作答")
        return redirect(f"/community/surveys/{survey_id}")

    # -- anonymous suggestions -------------------------------------------------------------------

    @app.get("/community/feedback")
    @refused
    def feedback(request: Request, open: str = "", auth: Any = Depends(current)) -> Response:
        only_open = open.strip() in ("1", "on", "true")
        items = c.feedback.list(include_handled=not only_open)
        return page(request, "community_feedback.html", auth, items=items, only_open=only_open)

    @app.post("/community/feedback/{feedback_id}/done")
    @refused
    def feedback_done(request: Request, feedback_id: str, auth: Any = Depends(acting)) -> Response:
        c.feedback.mark_handled(feedback_id)
        auth.flash("ok", "已标记为已处理")
        return redirect("/community/feedback")

    # -- mutual help and emergency contacts ------------------------------------------------------

    @app.get("/community/help")
    @refused
    def helplist(request: Request, auth: Any = Depends(current)) -> Response:
        posts, contacts = c.help.list(), c.help.contacts()
        return page(request, "community_help.html", auth, posts=posts, contacts=contacts,
                    categories=CATEGORY_NAMES, kinds=KIND_NAMES)

    @app.post("/community/contacts")
    @refused
    def add_contact(request: Request, unit: str = Form(""), resident: str = Form(""), contact_name: str = Form(""),
                    relation: str = Form(""), phone: str = Form(""), consent: str = Form(""),
                    auth: Any = Depends(acting)) -> Response:
        norm = normalize_unit(unit)
        if norm is None:
            raise BadInput("unit", f"看不懂房号“{unit[:20]}”（例如 5-101、5-1-101）")
        c.help.add_contact(norm, resident, contact_name, relation, phone, consent, auth.admin)
        auth.flash("ok", f"已登记 {norm} 的紧急联系人（同意内容已记录）")
        return redirect("/community/help#contacts")

    @app.post("/community/contacts/{contact_id}/remove")
    @refused
    def remove_contact(request: Request, contact_id: int, auth: Any = Depends(acting)) -> Response:
        c.help.remove_contact(contact_id)
        auth.flash("ok", "已删除紧急联系人")
        return redirect("/community/help#contacts")
