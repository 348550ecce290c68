"""Console hardening: wrong tokens throttled per client and per token (never locking out other admins),
Bearer tokens throttled too, sessions that survive a restart, revoked tokens ending their sessions."""

from __future__ import annotations

import base64
import os
import stat
import types
from pathlib import Path

import pytest
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient

from assistant.console import create_app
from assistant.console.sessions import Sessions, load_secret, secret_path
from assistant.console.throttle import Throttle, client_address, client_key, parse_networks, token_key
from assistant.console.tokens import TokenFile
from assistant.desk.desk import Desk
from assistant.desk.tickets import Reporter
from assistant.errors import DataError

from .conftest import CSRF_RE, TOKENS, login

WRONG = "wrong-token-0123456789abcdef"


def at(app: FastAPI, address: str) -> TestClient:
    """A client connecting from ``address`` that does not follow redirects."""
    return TestClient(app, follow_redirects=False, client=(address, 40000))


def fail_logins(c: TestClient, n: int = 10, token: str = WRONG) -> None:
    for _ in range(n):
        assert c.post("/login", data={"token": token}).status_code == 401


# --- throttling -------------------------------------------------------------------------------

def test_a_locked_client_cannot_lock_out_another_admin(app: FastAPI) -> None:
    attacker, admin = at(app, "203.0.113.7"), at(app, "198.51.100.20")
    fail_logins(attacker)
    r = attacker.post("/login", data={"token": TOKENS["wang"]})
    assert r.status_code == 429 and "登录失败次数过多" in r.text and "set-cookie" not in r.headers
    assert 590 <= int(r.headers["retry-after"]) <= 600
    # another client logs in with a valid token while the attacker is locked
    r = admin.post("/login", data={"token": TOKENS["wang"]})
    assert r.status_code == 303 and "console_session" in r.headers["set-cookie"]
    assert admin.get("/tickets").status_code == 200
    assert admin.get("/tickets", headers={"Authorization": f"Bearer {TOKENS['li']}"}).status_code == 200
    # and a wrong token from it is an ordinary 401, not a lockout
    assert admin.post("/login", data={"token": "another-wrong-token-0123456789"}).status_code == 401


def test_spoofed_forwarded_for_is_ignored_without_a_trusted_proxy(app: FastAPI) -> None:
    attacker = at(app, "203.0.113.7")
    for i in range(10):
        r = attacker.post("/login", data={"token": WRONG}, headers={"X-Forwarded-For": f"192.0.2.{i}"})
        assert r.status_code == 401
    r = attacker.post("/login", data={"token": TOKENS["wang"]}, headers={"X-Forwarded-For": "192.0.2.99"})
    assert r.status_code == 429


def test_behind_a_trusted_proxy_clients_are_told_apart(desk: Desk) -> None:
    app = create_app(desk, TOKENS, trusted_proxies=["127.0.0.1"])
    proxy = at(app, "127.0.0.1")
    attacker, admin = {"X-Forwarded-For": "203.0.113.7"}, {"X-Forwarded-For": "spoofed, 198.51.100.20"}
    for _ in range(10):
        assert proxy.post("/login", data={"token": WRONG}, headers=attacker).status_code == 401
    assert proxy.post("/login", data={"token": TOKENS["wang"]}, headers=attacker).status_code == 429
    assert proxy.post("/login", data={"token": TOKENS["wang"]}, headers=admin).status_code == 303
    # a client cannot escape its lock by adding its own X-Forwarded-For entries
    spoof = {"X-Forwarded-For": "192.0.2.1, 203.0.113.7"}
    assert proxy.post("/login", data={"token": TOKENS["li"]}, headers=spoof).status_code == 429


def test_the_same_wrong_token_from_many_clients_is_locked(app: FastAPI) -> None:
    for i in range(10):
        assert at(app, f"192.0.2.{i}").post("/login", data={"token": WRONG}).status_code == 401
    fresh = at(app, "192.0.2.200")
    r = fresh.post("/login", data={"token": WRONG})
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert fresh.post("/login", data={"token": TOKENS["li"]}).status_code == 303   # that client is not locked


def test_wrong_bearer_tokens_are_throttled(app: FastAPI) -> None:
    script, other = at(app, "203.0.113.7"), at(app, "198.51.100.20")
    for i in range(10):
        r = script.get("/tickets", headers={"Authorization": f"Bearer guess-{i:02d}-0123456789abcdef"})
        assert r.status_code == 401
    r = script.get("/tickets", headers={"Authorization": f"Bearer {TOKENS['wang']}"})
    assert r.status_code == 429 and "次数过多" in r.text and int(r.headers["retry-after"]) > 0
    r = script.post("/tickets/T-1/comment", data={"text": "x"}, headers={"Authorization": f"Bearer {TOKENS['wang']}"})
    assert r.status_code == 429
    assert script.post("/login", data={"token": TOKENS["wang"]}).status_code == 429     # one lock for both
    r = other.get("/tickets", headers={"Authorization": f"Bearer {TOKENS['wang']}"})
    assert r.status_code == 200


def test_a_logged_in_admin_keeps_working_while_their_address_is_locked(app: FastAPI) -> None:
    admin = at(app, "203.0.113.7")
    login(admin)
    fail_logins(at(app, "203.0.113.7"))
    assert admin.get("/tickets").status_code == 200


def test_growing_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """A client that retries whenever it may: 10 tries in the first ten minutes, 20 in the first hour,
    50 in the first day, and then locks of most of a day."""
    start = now = 1_000_000.0

    def clock() -> float:
        return now

    monkeypatch.setattr("limits.storage.memory.time", types.SimpleNamespace(time=clock))
    t = Throttle(clock=clock)
    tries: list[float] = []
    waits: list[int] = []
    while now < start + 2 * 86400:
        locked = t.check("203.0.113.7", token_key(f"guess-{len(tries)}"))
        if locked is None:
            tries.append(now)
            t.fail("203.0.113.7", token_key(f"guess-{len(tries)}"))
            now += 1
        else:
            assert locked.who == "client"
            waits.append(locked.retry_after)
            now += locked.retry_after
    assert len([x for x in tries if x < start + 600]) == 10
    assert len([x for x in tries if x < start + 3600]) == 20
    assert len([x for x in tries if x < start + 86400]) == 50
    assert waits[0] == 590 and max(waits) > 20 * 3600
    assert t.check("198.51.100.20") is None            # nobody else is locked


def test_client_address_and_key() -> None:
    proxies = parse_networks(["127.0.0.1", "10.0.0.0/8"])
    assert client_address("203.0.113.7", ["192.0.2.1"], proxies) == "203.0.113.7"      # peer not trusted
    assert client_address("127.0.0.1", [], proxies) == "127.0.0.1"
    assert client_address("127.0.0.1", ["192.0.2.1, 198.51.100.2"], proxies) == "198.51.100.2"
    assert client_address("127.0.0.1", ["192.0.2.1", "198.51.100.2, 10.1.2.3"], proxies) == "198.51.100.2"
    assert client_address("127.0.0.1", ["10.1.2.3"], proxies) == "10.1.2.3"
    assert client_address("127.0.0.1", ["192.0.2.1"], ()) == "127.0.0.1"
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::2") == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("::ffff:192.0.2.1") == "192.0.2.1"
    with pytest.raises(ValueError, match="not-an-ip"):
        parse_networks(["not-an-ip"])


# --- sessions that survive a restart ----------------------------------------------------------

def write_tokens(path: Path, tokens: dict[str, str]) -> None:
    path.write_text(yaml.safe_dump([{"admin": a, "token": t} for a, t in tokens.items()]), encoding="utf-8")


@pytest.fixture
def tokens_file(tmp_path: Path) -> Path:
    path = tmp_path / "console_tokens.yml"
    write_tokens(path, TOKENS)
    return path


def start(desk: Desk, tokens_file: Path) -> FastAPI:
    """The console as the command starts it: tokens and session secret from files."""
    return create_app(desk, TokenFile(tokens_file, desk.roster), session_secret=load_secret(secret_path(tokens_file)))


def test_a_session_survives_a_restart(desk: Desk, tokens_file: Path) -> None:
    with TestClient(start(desk, tokens_file), follow_redirects=False) as before:
        csrf = login(before)
        cookie = before.cookies["console_session"]
    key = secret_path(tokens_file)
    assert key.name == "console_tokens.key" and stat.S_IMODE(key.stat().st_mode) == 0o600
    t = desk.tickets.create(Reporter("wx-1", "张三"), "noise", "5-101", "楼上吵")
    with TestClient(start(desk, tokens_file), follow_redirects=False, cookies={"console_session": cookie}) as after:
        page = after.get("/tickets")
        assert page.status_code == 200 and t.id in page.text
        assert CSRF_RE.search(page.text).group(1) == csrf            # type: ignore[union-attr]
        r = after.post(f"/tickets/{t.id}/comment", data={"text": "重启后备注", "csrf": csrf})
        assert r.status_code == 303
    assert desk.tickets.events(t.id)[-1].actor == "wang"
    # a new secret (the file deleted) ends every session
    key.unlink()
    with TestClient(start(desk, tokens_file), follow_redirects=False, cookies={"console_session": cookie}) as fresh:
        assert fresh.get("/tickets").status_code == 303


def test_a_removed_token_ends_its_sessions_at_once(desk: Desk, tokens_file: Path) -> None:
    app = start(desk, tokens_file)
    with TestClient(app, follow_redirects=False) as li, TestClient(app, follow_redirects=False) as wang:
        login(li, TOKENS["li"])
        login(wang, TOKENS["wang"])
        assert li.get("/tickets").status_code == 200
        write_tokens(tokens_file, {"wang": TOKENS["wang"], "zhang": "zhang-token-0123456789abcdef"})
        r = li.get("/tickets")
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
        assert li.post("/logout", data={"csrf": "x"}).status_code == 401
        assert li.get("/tickets", headers={"Authorization": f"Bearer {TOKENS['li']}"}).status_code == 401
        assert wang.get("/tickets").status_code == 200           # other admins stay logged in
        assert login(TestClient(app, follow_redirects=False), "zhang-token-0123456789abcdef")   # a new token works


def test_a_broken_tokens_file_lets_nobody_in(desk: Desk, tokens_file: Path) -> None:
    app = start(desk, tokens_file)
    with TestClient(app, follow_redirects=False) as wang:
        login(wang)
        tokens_file.write_text("- admin: [oops\n", encoding="utf-8")
        assert wang.get("/tickets").status_code == 303
        write_tokens(tokens_file, TOKENS)
        assert wang.get("/tickets").status_code == 200


def test_logout_refuses_the_old_cookie(app: FastAPI) -> None:
    with TestClient(app, follow_redirects=False) as c:
        csrf = login(c)
        cookie = c.cookies["console_session"]
        assert c.post("/logout", data={"csrf": csrf}).status_code == 303
    with TestClient(app, follow_redirects=False, cookies={"console_session": cookie}) as replay:
        assert replay.get("/tickets").status_code == 303


def test_forged_and_tampered_cookies_are_refused(app: FastAPI) -> None:
    other = Sessions("another-secret-0123456789abcdefghijkl")
    forged = other.dump(other.new(app.state.sessions.token_id(TOKENS["wang"])))
    with TestClient(app, follow_redirects=False) as c:
        login(c)
        good = c.cookies["console_session"]
    for cookie in (forged, good[:-2] + ("AA" if not good.endswith("AA") else "BB"), "x.y", "%" * 5000):
        with TestClient(app, follow_redirects=False, cookies={"console_session": cookie}) as c:
            assert c.get("/tickets").status_code == 303


def test_the_cookie_holds_no_token(app: FastAPI) -> None:
    with TestClient(app, follow_redirects=False) as c:
        login(c)
        cookie = c.cookies["console_session"]
    assert TOKENS["wang"] not in cookie
    payload = cookie.split(".")[0]
    assert TOKENS["wang"].encode() not in base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))


def test_the_secret_file(tmp_path: Path) -> None:
    path = tmp_path / "console_tokens.key"
    secret = load_secret(path)
    assert len(secret) >= 32 and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_secret(path) == secret                 # kept, not made again
    path.write_text("short\n")
    with pytest.raises(DataError, match="at least 32"):
        load_secret(path)
    assert secret_path("models/console_tokens.yml") == Path("models/console_tokens.key")


def test_an_active_session_is_signed_again(app: FastAPI) -> None:
    sessions = app.state.sessions
    s = sessions.new(sessions.token_id(TOKENS["wang"]))
    s.issued = s.seen = s.seen - 3600                       # last used an hour ago
    with TestClient(app, follow_redirects=False, cookies={"console_session": sessions.dump(s)}) as c:
        r = c.get("/tickets")
        assert r.status_code == 200
        cookie = r.headers["set-cookie"].lower()
        assert cookie.startswith("console_session=") and "httponly" in cookie and "samesite=strict" in cookie
        fresh = sessions.read(r.cookies["console_session"])
        assert fresh is not None and fresh.id == s.id and fresh.seen > s.seen + 3000
        assert "set-cookie" not in c.get("/tickets").headers          # at most once a minute
