"""The web console through FastAPI's TestClient: login and CSRF, the ticket list and page, actions, the queue."""

from __future__ import annotations

import html
import re

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from assistant.console.app import STATUS_NAMES
from assistant.desk.desk import Desk
from assistant.desk.push import CSAT
from assistant.desk.tickets import Reporter

from ..pg import FakeClock
from .conftest import TOKENS, FakeResidents, login

PAYLOAD = "<script>alert('x')</script><b>粗体</b>' OR 1=1; DROP TABLE tickets; --"


def new_ticket(desk: Desk, category: str = "noise", unit: str | None = "5-101", text: str = "楼上每晚拖椅子",
               reporter: str = "wx-1"):  # noqa: ANN201
    return desk.tickets.create(Reporter(reporter, "张三"), category, unit, text)


def rows(page: str) -> list[str]:
    """The ids of the ticket rows on a list page."""
    return re.findall(r'<tr class="[^"]*" data-id="([^"]+)"', page)


# --- nothing without a valid token ------------------------------------------------------------

def _routes(app: FastAPI, tid: str, hid: str) -> list[tuple[str, str]]:
    out = []
    for r in app.routes:
        if not isinstance(r, APIRoute):
            continue
        path = r.path.replace("{ticket_id}", tid).replace("{handoff_id}", hid)
        for m in r.methods:
            out.append((m, path))
    return out


def test_every_route_refuses_without_login(app: FastAPI, anon: TestClient, desk: Desk) -> None:
    t = new_ticket(desk, text="机密的描述文字")
    h, _ = desk.handoffs.request("conv-1", "wx-1", "request_human", "想找人工客服")
    before = len(desk.tickets.events(t.id))
    public = {("GET", "/login"), ("POST", "/login"), ("GET", "/static/console.css"), ("GET", "/favicon.ico")}
    forged = TestClient(app, follow_redirects=False, cookies={"console_session": "forged"})
    checked = 0
    for method, path in _routes(app, t.id, h.id):
        if (method, path) in public:
            continue
        checked += 1
        for c in (anon, forged):        # no cookie, or a cookie the server never issued
            r = c.request(method, path, data={"text": "x", "status": "closed", "assignee": "li", "comment": "x",
                                              "csrf": "guess"})
            if method == "GET":
                assert r.status_code == 303 and r.headers["location"].startswith("/login"), path
            else:
                assert r.status_code == 401, (method, path)
            assert "机密" not in r.text and "想找人工" not in r.text and t.id not in r.text
    assert checked >= 12            # /, /tickets, /tickets/ID, 6 ticket actions, /handoffs, take, release, logout
    assert len(desk.tickets.events(t.id)) == before
    assert desk.tickets.get(t.id).status == "open"
    assert desk.handoffs.get(h.id).state == "waiting"


def test_login_redirects_back_and_sets_a_strict_httponly_cookie(anon: TestClient, desk: Desk) -> None:
    t = new_ticket(desk)
    r = anon.get(f"/tickets/{t.id}")
    assert r.status_code == 303
    assert r.headers["location"] == f"/login?next=%2Ftickets%2F{t.id}"
    r = anon.post("/login", data={"token": TOKENS["li"], "next": f"/tickets/{t.id}"})
    assert r.status_code == 303 and r.headers["location"] == f"/tickets/{t.id}"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    page = anon.get(f"/tickets/{t.id}")
    assert page.status_code == 200 and "李主任" in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]


def test_bad_tokens_are_refused(anon: TestClient, desk: Desk) -> None:
    new_ticket(desk, text="不该被看到")
    r = anon.post("/login", data={"token": "wrong-token-0123456789abcdef"})
    assert r.status_code == 401 and "令牌无效" in r.text and "set-cookie" not in r.headers
    r = anon.post("/login", data={"token": TOKENS["wang"][:-1]})
    assert r.status_code == 401
    r = anon.post("/login", data={})
    assert r.status_code == 401
    assert anon.get("/tickets").status_code == 303
    r = anon.get("/tickets", headers={"Authorization": "Bearer nope-nope-nope-nope"})
    assert r.status_code == 401 and "不该被看到" not in r.text
    assert r.headers["www-authenticate"].startswith("Bearer")
    r = anon.get("/tickets", headers={"Authorization": f"Basic {TOKENS['wang']}"})
    assert r.status_code == 401
    r = anon.get("/tickets", headers={"Authorization": f"Bearer {TOKENS['wang']}"})
    assert r.status_code == 200 and "不该被看到" in r.text


def test_repeated_failed_logins_are_throttled(anon: TestClient) -> None:
    for _ in range(10):
        assert anon.post("/login", data={"token": "bad-bad-bad-bad-bad"}).status_code == 401
    r = anon.post("/login", data={"token": TOKENS["wang"]})
    assert r.status_code == 429 and "次数过多" in r.text


def test_next_cannot_leave_the_site(anon: TestClient) -> None:
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        r = anon.post("/login", data={"token": TOKENS["wang"], "next": target})
        assert r.headers["location"] == "/tickets"


def test_bearer_token_acts_as_its_admin_without_csrf(anon: TestClient, desk: Desk) -> None:
    t = new_ticket(desk)
    r = anon.post(f"/tickets/{t.id}/comment", data={"text": "脚本备注"},
                  headers={"Authorization": f"Bearer {TOKENS['li']}"})
    assert r.status_code == 303
    assert desk.tickets.events(t.id)[-1].actor == "li"


def test_posts_need_the_session_csrf_token(client: TestClient, desk: Desk) -> None:
    t = new_ticket(desk)
    before = len(desk.tickets.events(t.id))
    for data in ({"text": "无令牌"}, {"text": "错令牌", "csrf": "x" * 43}, {"text": "空令牌", "csrf": ""}):
        r = client.post(f"/tickets/{t.id}/comment", data=data)
        assert r.status_code == 403 and "CSRF" in r.text
    r = client.post(f"/tickets/{t.id}/assign", data={"assignee": "li"})
    assert r.status_code == 403
    r = client.post("/logout", data={})
    assert r.status_code == 403
    assert len(desk.tickets.events(t.id)) == before
    r = client.post(f"/tickets/{t.id}/comment", data={"text": "有令牌", "csrf": client.csrf})
    assert r.status_code == 303
    assert desk.tickets.events(t.id)[-1].comment == "有令牌"


def test_sessions_have_their_own_csrf_token(app: FastAPI, client: TestClient, desk: Desk) -> None:
    t = new_ticket(desk)
    with TestClient(app, follow_redirects=False) as other:
        other_csrf = login(other, TOKENS["li"])
        assert other_csrf != client.csrf
        r = other.post(f"/tickets/{t.id}/comment", data={"text": "x", "csrf": client.csrf})
        assert r.status_code == 403


def test_logout_ends_the_session(client: TestClient) -> None:
    r = client.post("/logout", data={"csrf": client.csrf})
    assert r.status_code == 303 and r.headers["location"] == "/login?bye=1"
    assert client.get("/tickets").status_code == 303
    assert "已退出登录" in client.get("/login?bye=1").text


# --- the list -------------------------------------------------------------------------------

def test_list_shows_chinese_columns_in_shanghai_time(client: TestClient, desk: Desk) -> None:
    t = new_ticket(desk, "pets", "5-101", "狗不拴绳")
    page = client.get("/tickets").text
    for head in ("编号", "类别", "单元", "状态", "优先级", "处理人", "创建时间", "SLA 截止"):
        assert f"<th>{head}</th>" in page
    row = page[page.index(f'data-id="{t.id}"'):]
    row = row[:row.index("</tr>")]
    assert "宠物" in row and "5-101" in row and "待处理" in row and "普通" in row
    assert "11-23 10:00" in row            # created Monday 10:00 Shanghai (02:00 UTC)
    assert "响应 11-23 15:00" in row       # 4 business hours: 10-12 and 13-15


def test_filters(client: TestClient, desk: Desk, clock: FakeClock) -> None:
    a = new_ticket(desk, "noise", "5-101", "噪音 A", reporter="r1")
    b = new_ticket(desk, "pets", "5-202", "宠物 B", reporter="r2")
    c = new_ticket(desk, "noise", "7-101", "噪音 C", reporter="r3")
    desk.tickets.assign(b.id, "li", actor="wang")
    desk.tickets.assign(c.id, "zhang", actor="wang")
    desk.tickets.resolve(c.id, actor="zhang")

    assert set(rows(client.get("/tickets").text)) == {a.id, b.id, c.id}
    assert rows(client.get("/tickets?category=noise").text) == [c.id, a.id]
    assert rows(client.get("/tickets?category=噪音").text) == [c.id, a.id]
    assert rows(client.get("/tickets?unit=5栋").text) == [b.id, a.id]
    assert rows(client.get("/tickets?unit=5-202").text) == [b.id]
    assert rows(client.get("/tickets?status=open").text) == [a.id]
    assert rows(client.get("/tickets?status=active").text) == [b.id, a.id]
    assert rows(client.get("/tickets?status=resolved").text) == [c.id]
    assert rows(client.get("/tickets?assignee=li").text) == [b.id]
    assert rows(client.get("/tickets?category=noise&status=open&unit=5").text) == [a.id]
    # selected filters stay selected
    page = client.get("/tickets?category=pets&assignee=li").text
    assert '<option value="pets" selected>' in page and '<option value="li" selected>' in page

    clock.advance(hours=3)             # 13:00: a (noise, 2h first response) is late; b was answered
    page = client.get("/tickets?overdue=1").text
    assert rows(page) == [a.id]


def test_bad_filters_give_a_chinese_message_and_400(client: TestClient, desk: Desk) -> None:
    new_ticket(desk)
    r = client.get("/tickets?unit=' OR 1=1 --")
    assert r.status_code == 400 and "无法识别的单元" in r.text and rows(r.text) == []
    r = client.get("/tickets?category=<b>x</b>")
    assert r.status_code == 400 and "类别" in r.text and "<b>x</b>" not in r.text
    r = client.get("/tickets?status=deleted")
    assert r.status_code == 400 and "未知的状态" in r.text


def test_overdue_tickets_are_highlighted(client: TestClient, desk: Desk, clock: FakeClock) -> None:
    late = new_ticket(desk, "noise", text="晚")            # first response due 12:00 (2 business hours)
    clock.advance(hours=1)
    on_time = new_ticket(desk, "pets", reporter="wx-2", text="准时")   # due 16:00 (4h: 11-12, 13-16)
    clock.advance(hours=2, minutes=30)                      # 13:30
    page = client.get("/tickets").text
    assert f'<tr class="overdue" data-id="{late.id}">' in page
    assert f'<tr class="" data-id="{on_time.id}">' in page
    assert "首次响应超时" in page
    ticket_page = client.get(f"/tickets/{late.id}").text
    assert 'id="ticket-late">首次响应超时' in ticket_page
    # answering stops the first-response clock
    desk.tickets.comment(late.id, "已联系", actor="wang")
    assert f'<tr class="" data-id="{late.id}">' in client.get("/tickets").text


# --- the ticket page ------------------------------------------------------------------------

def test_sql_and_html_are_shown_literally(client: TestClient, desk: Desk) -> None:
    t = desk.tickets.create(Reporter("wx-<i>1</i>", "<b>王</b>"), "other", None, PAYLOAD)
    r = client.post(f"/tickets/{t.id}/comment", data={"text": PAYLOAD, "csrf": client.csrf})
    assert r.status_code == 303
    for page in (client.get("/tickets").text, client.get(f"/tickets/{t.id}").text):
        assert "<script>" not in page and "<b>粗体</b>" not in page and "<i>1</i>" not in page
        assert "&lt;script&gt;" in page
    page = client.get(f"/tickets/{t.id}").text
    desc = re.search(r'<pre class="desc" id="description">(.*?)</pre>', page, re.S)
    assert desc and html.unescape(desc.group(1)) == PAYLOAD
    comment = re.findall(r'<td class="comment">(.*?)</td>', page, re.S)
    assert html.unescape(comment[-1]) == PAYLOAD
    assert desk.tickets.get(t.id).description == PAYLOAD   # stored as given, table still there


def test_ticket_page_shows_fields_audit_and_only_valid_moves(client: TestClient, desk: Desk) -> None:
    t = new_ticket(desk, "fees", "3-1-502", "物业费多收了")
    page = client.get(f"/tickets/{t.id}").text
    for text in ("费用账单", "3-1-502", "张*", "wx-1", "物业费多收了", "处理记录", "创建"):
        assert text in page
    assert 'id="status-select"' not in page                # open: only assigning moves it on
    assert 'id="assign-form"' in page and 'id="resolve-form"' not in page
    client.post(f"/tickets/{t.id}/assign", data={"assignee": "li", "comment": "请跟进", "csrf": client.csrf})
    page = client.get(f"/tickets/{t.id}").text
    select = re.search(r'<select name="status" id="status-select">(.*?)</select>', page, re.S).group(1)
    assert re.findall(r'value="(\w+)"', select) == ["in_progress", "resolved"]
    assert 'id="resolve-form"' in page and 'id="reopen-form"' not in page
    assert "指派给 李主任（占位）（li）" in page and "请跟进" in page and "已指派" in page


def test_unknown_ticket_is_a_404_with_a_message(client: TestClient) -> None:
    for tid in ("T-20990101-0001", "nonsense", "<script>"):
        r = client.get(f"/tickets/{tid}")
        assert r.status_code == 404 and "没有工单" in r.text and "<script>" not in r.text
    r = client.post("/tickets/T-20990101-0001/comment", data={"text": "x", "csrf": client.csrf})
    assert r.status_code == 404 and "没有工单 T-20990101-0001" in r.text
    r = client.post("/tickets/T-20990101-0001/resolve", data={"csrf": client.csrf})
    assert r.status_code == 404
    assert client.get("/no-such-page").status_code == 404


def test_refused_changes_show_a_chinese_reason_with_4xx(client: TestClient, desk: Desk) -> None:
    t = new_ticket(desk)
    r = client.post(f"/tickets/{t.id}/status", data={"status": "closed", "csrf": client.csrf})
    assert r.status_code == 409
    assert f"工单 {t.id} 当前为「待处理」，不能改为「已关闭」" in r.text
    assert 'id="description"' in r.text                   # still on the ticket page
    r = client.post(f"/tickets/{t.id}/status", data={"status": "deleted", "csrf": client.csrf})
    assert r.status_code == 400 and "未知的状态" in r.text
    r = client.post(f"/tickets/{t.id}/status", data={"status": "", "csrf": client.csrf})
    assert r.status_code == 400 and "状态：不能为空" in r.text
    r = client.post(f"/tickets/{t.id}/resolve", data={"csrf": client.csrf})
    assert r.status_code == 409 and "不能改为「已解决」" in r.text
    r = client.post(f"/tickets/{t.id}/comment", data={"text": "  ", "csrf": client.csrf})
    assert r.status_code == 400 and "备注：不能为空" in r.text
    r = client.post(f"/tickets/{t.id}/comment", data={"text": "长" * 2001, "csrf": client.csrf})
    assert r.status_code == 400 and "太长（2001 字，上限 2000 字）" in r.text
    r = client.post(f"/tickets/{t.id}/assign", data={"assignee": "nobody", "csrf": client.csrf})
    assert r.status_code == 400 and "处理人" in r.text
    r = client.post(f"/tickets/{t.id}/reopen", data={"csrf": client.csrf})
    assert r.status_code == 409
    r = client.post(f"/tickets/{t.id}/status", data={"status": "assigned", "csrf": client.csrf})
    assert r.status_code == 409 and "请用「指派」表单" in r.text
    assert [e.action for e in desk.tickets.events(t.id)] == ["created"]


def test_actions_record_the_logged_in_admin(client: TestClient, desk: Desk) -> None:
    t = new_ticket(desk)
    post = lambda path, **data: client.post(f"/tickets/{t.id}/{path}", data={**data, "csrf": client.csrf})  # noqa: E731
    assert post("assign", assignee="li").status_code == 303
    assert post("status", status="in_progress", comment="上门查看").status_code == 303
    assert post("status", status="waiting_resident").status_code == 303
    assert post("comment", text="等居民回复").status_code == 303
    events = desk.tickets.events(t.id)
    assert [e.actor for e in events[1:]] == ["wang"] * 4
    assert desk.tickets.get(t.id).status == "waiting_resident"
    page = client.get(f"/tickets/{t.id}").text
    audit = page[page.index('id="audit"'):]
    assert audit.count("王管家（占位）（wang）") == 4
    assert "处理中 → 等待居民" in audit and "上门查看" in audit
    assert "居民（wx-1）" in audit                          # the creation event
    assert "状态已改为「等待居民」" in page or "已添加备注" in page


def test_resolve_asks_the_resident_for_a_score(client: TestClient, desk: Desk, residents: FakeResidents) -> None:
    t = new_ticket(desk, reporter="conv-42")
    desk.tickets.assign(t.id, "wang", actor="wang")
    r = client.post(f"/tickets/{t.id}/resolve", data={"comment": "已协调楼上住户", "csrf": client.csrf})
    assert r.status_code == 303 and r.headers["location"] == f"/tickets/{t.id}"
    assert residents.calls == [("conv-42", CSAT, {"ticket_id": t.id})]
    page = client.get(f"/tickets/{t.id}").text
    assert "已解决，已请居民评价" in page
    assert desk.tickets.get(t.id).status == "resolved"
    events = desk.tickets.events(t.id)
    assert (events[-2].actor, events[-2].to_status, events[-2].comment) == ("wang", "resolved", "已协调楼上住户")
    assert events[-1].actor == "system" and "请居民评价" in (events[-1].comment or "")
    assert "系统" in page and 'id="close-form"' in page and 'id="reopen-form"' in page
    # the flash is shown once
    assert "已解决，已请居民评价" not in client.get(f"/tickets/{t.id}").text


def test_resolve_through_the_status_form_also_asks(client: TestClient, desk: Desk,
                                                    residents: FakeResidents) -> None:
    t = new_ticket(desk)
    desk.tickets.assign(t.id, "li", actor="li")
    r = client.post(f"/tickets/{t.id}/status", data={"status": "resolved", "csrf": client.csrf})
    assert r.status_code == 303
    assert [c[1] for c in residents.calls] == [CSAT]


def test_resolve_when_the_survey_cannot_be_delivered(client: TestClient, desk: Desk,
                                                     residents: FakeResidents) -> None:
    residents.reachable = False
    t = new_ticket(desk)
    desk.tickets.assign(t.id, "li", actor="li")
    r = client.post(f"/tickets/{t.id}/resolve", data={"csrf": client.csrf})
    assert r.status_code == 303
    page = client.get(f"/tickets/{t.id}").text
    assert "满意度调查未能送达" in page and "flash-warn" in page
    assert desk.tickets.get(t.id).status == "resolved"
    assert "未能送达" in (desk.tickets.events(t.id)[-1].comment or "")


def test_resolve_shows_texts_the_admin_must_forward(client: TestClient, desk: Desk,
                                                    residents: FakeResidents) -> None:
    residents.texts = ["请为本次处理打分（1-5）"]
    t = new_ticket(desk)
    desk.tickets.assign(t.id, "li", actor="li")
    client.post(f"/tickets/{t.id}/resolve", data={"csrf": client.csrf})
    assert "请为本次处理打分（1-5）" in client.get(f"/tickets/{t.id}").text


def test_close_and_reopen(client: TestClient, desk: Desk) -> None:
    t = new_ticket(desk)
    desk.tickets.assign(t.id, "li", actor="li")
    desk.tickets.resolve(t.id, actor="li")
    assert client.post(f"/tickets/{t.id}/close", data={"csrf": client.csrf}).status_code == 303
    assert desk.tickets.get(t.id).status == "closed"
    assert "已关闭工单" in client.get(f"/tickets/{t.id}").text
    r = client.post(f"/tickets/{t.id}/reopen", data={"comment": "居民说又吵了", "csrf": client.csrf})
    assert r.status_code == 303
    t2 = desk.tickets.get(t.id)
    assert t2.status == "open" and t2.assignee is None
    assert desk.tickets.events(t.id)[-1].comment == "居民说又吵了"


# --- the handoff queue ----------------------------------------------------------------------

def test_handoff_queue_take_and_release(app: FastAPI, client: TestClient, desk: Desk) -> None:
    h1, _ = desk.handoffs.request("conv-1", "wx-1", "request_human", "想找人工<b>客服</b>")
    h2, _ = desk.handoffs.request("conv-2", "wx-2", "low_confidence", "问了三次没答上")
    page = client.get("/handoffs").text
    assert h1.id in page and h2.id in page and "居民要求人工" in page and "等待接手" in page
    assert "&lt;b&gt;客服&lt;/b&gt;" in page
    assert '今日值班：<span id="duty">李主任（占位）（li）</span>' in page    # November: li

    r = client.post(f"/handoffs/{h1.id}/take", data={"csrf": client.csrf})
    assert r.status_code == 303 and r.headers["location"] == "/handoffs"
    assert desk.handoffs.get(h1.id).admin == "wang"
    page = client.get("/handoffs").text
    assert f"已接手 {h1.id}" in page and "已接手" in page

    with TestClient(app, follow_redirects=False) as li:
        csrf = login(li, TOKENS["li"])
        r = li.post(f"/handoffs/{h1.id}/take", data={"csrf": csrf})
        assert r.status_code == 409 and f"转人工 {h1.id} 已被 wang 接手" in r.text

    assert client.post(f"/handoffs/{h1.id}/release", data={"csrf": client.csrf}).status_code == 303
    assert desk.handoffs.get(h1.id).state == "released"
    r = client.post(f"/handoffs/{h1.id}/take", data={"csrf": client.csrf})
    assert r.status_code == 409 and "已交还助手" in r.text and "不能接手" in r.text
    assert h1.id not in rows_h(client.get("/handoffs").text)
    assert h1.id in rows_h(client.get("/handoffs?state=all").text)
    assert rows_h(client.get("/handoffs?state=released").text) == [h1.id]
    r = client.post("/handoffs/H-20990101-0001/take", data={"csrf": client.csrf})
    assert r.status_code == 404 and "没有转人工记录" in r.text
    r = client.get("/handoffs?state=bogus")
    assert r.status_code == 400


def rows_h(page: str) -> list[str]:
    return re.findall(r'<tr data-id="([^"]+)"', page)


def test_status_names_cover_every_status() -> None:
    from assistant.desk.tickets.models import STATUSES

    assert set(STATUS_NAMES) == set(STATUSES)


@pytest.mark.parametrize("path", ["/static/console.css"])
def test_the_stylesheet_is_public_and_holds_no_data(anon: TestClient, path: str) -> None:
    r = anon.get(path)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/css")


def test_sessions_expire_when_idle_or_old() -> None:
    from assistant.console.sessions import Sessions

    now = [0.0]
    sessions = Sessions("s" * 32, idle=600, max_age=1200, clock=lambda: now[0])
    s = sessions.new("token-id")
    first = sessions.dump(s)
    now[0] = 599
    got = sessions.read(first)
    assert got is not None and got.token_id == "token-id" and got.csrf == s.csrf
    assert sessions.touch(got)                 # a request keeps it alive: the cookie is signed again ...
    second = sessions.dump(got)
    now[0] = 1100
    assert sessions.read(first) is None        # ... the old cookie idled out
    assert sessions.read(second) is not None
    now[0] = 1201
    assert sessions.read(second) is None       # however busy, a session ends max_age after login
    assert sessions.read("") is None and sessions.read(None) is None
