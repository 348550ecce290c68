"""Notifiers; the webhook one against a real HTTP server on a free loopback port."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from assistant.desk.handoff import Admin, Handoff, LogNotifier, MultiNotifier, WebhookNotifier, handoff_event, open_handoffs

MOBILE = "13812345678"
CARD = "6222 0212 3456 7890 128"   # Luhn-valid


class Hook:
    """A webhook endpoint that answers ``fail_with`` to the first ``failures`` requests, then 200."""

    def __init__(self, failures: int = 0, fail_with: int = 503) -> None:
        self.failures, self.fail_with = failures, fail_with
        self.requests: list[dict[str, Any]] = []
        self.times: list[float] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                hook.requests.append({"body": json.loads(body), "headers": dict(self.headers)})
                hook.times.append(time.monotonic())
                code = hook.fail_with if len(hook.requests) <= hook.failures else 200
                self.send_response(code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook_factory() -> Iterator[Any]:
    made: list[Hook] = []

    def make(**kw: Any) -> Hook:
        h = Hook(**kw)
        made.append(h)
        return h

    yield make
    for h in made:
        h.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def a_handoff(summary: str = f"电话 {MOBILE} 卡号 {CARD} 想找人工") -> Handoff:
    with open_handoffs("sqlite://") as q:
        return q.request("conv-9", "wx-9", "sensitive_category", summary)[0]


ADMIN = Admin("wang", "王管家", {"wecom": "wang-placeholder"}, frozenset({"fees"}))


def test_event_shape() -> None:
    h = a_handoff()
    ev = handoff_event("handoff.requested", h, ADMIN, at=datetime(2026, 11, 23, 2, tzinfo=timezone.utc))
    assert ev["handoff_id"] == h.id and ev["conversation_id"] == "conv-9" and ev["reason"] == "sensitive_category"
    assert ev["admin"] == {"id": "wang", "name": "王管家", "contacts": {"wecom": "wang-placeholder"},
                           "sensitive_categories": ["fees"]}
    assert ev["at"] == "2026-11-23T02:00:00+00:00" and len(ev["event_id"]) == 32
    assert MOBILE not in ev["summary"] and "7890" not in ev["summary"]


def test_webhook_retries_5xx_then_delivers(hook_factory: Any, caplog: pytest.LogCaptureFixture) -> None:
    hook = hook_factory(failures=2)
    event = handoff_event("handoff.requested", a_handoff(), ADMIN)
    event["summary"] = f"后来加的 {MOBILE}"                    # unredacted text slipped in by a caller
    n = WebhookNotifier(hook.url, attempts=4, base_delay=0.05, headers={"X-Token": "t"})
    with caplog.at_level(logging.INFO, logger="assistant.desk.handoff.notify"):
        n.notify(event)
    assert len(hook.requests) == 3
    gaps = [b - a for a, b in zip(hook.times, hook.times[1:])]
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1                    # exponential backoff
    body = hook.requests[-1]["body"]
    assert body["handoff_id"] == event["handoff_id"] and body["event"] == "handoff.requested"
    assert body["summary"] == "后来加的 [手机号已隐藏]" and hook.requests[-1]["headers"]["X-Token"] == "t"
    assert all(r["body"]["event_id"] == event["event_id"] for r in hook.requests)   # receivers can dedup
    assert "delivered (attempt 3)" in caplog.text
    assert MOBILE not in caplog.text and "后来加的" not in caplog.text   # logs carry ids only


def test_webhook_gives_up_and_never_raises(hook_factory: Any, caplog: pytest.LogCaptureFixture) -> None:
    hook = hook_factory(failures=99, fail_with=502)
    n = WebhookNotifier(hook.url, attempts=3, base_delay=0.01)
    with caplog.at_level(logging.WARNING, logger="assistant.desk.handoff.notify"):
        n.notify(handoff_event("handoff.expired", a_handoff()))
    assert len(hook.requests) == 3
    assert "gave up after attempt 3: HTTP 502" in caplog.text


def test_webhook_does_not_retry_4xx(hook_factory: Any, caplog: pytest.LogCaptureFixture) -> None:
    hook = hook_factory(failures=99, fail_with=400)
    with caplog.at_level(logging.ERROR, logger="assistant.desk.handoff.notify"):
        assert WebhookNotifier(hook.url, attempts=5, base_delay=0.01).send({"event": "x"}) is False
    assert len(hook.requests) == 1 and "HTTP 400" in caplog.text


def test_webhook_retries_connection_errors(caplog: pytest.LogCaptureFixture) -> None:
    slept: list[float] = []
    n = WebhookNotifier(f"http://127.0.0.1:{free_port()}/hook", attempts=4, base_delay=0.5, max_delay=1.0,
                        sleep=slept.append)
    with caplog.at_level(logging.ERROR, logger="assistant.desk.handoff.notify"):
        n.notify(handoff_event("handoff.requested", a_handoff()))      # nobody listens: no exception
    assert slept == [0.5, 1.0, 1.0]                                      # capped at max_delay
    assert "gave up after attempt 4: ConnectError" in caplog.text


def test_webhook_background(hook_factory: Any) -> None:
    hook = hook_factory(failures=1)
    n = WebhookNotifier(hook.url, base_delay=2.0, background=True)
    n.notify(handoff_event("handoff.taken", a_handoff(), ADMIN))
    assert len(hook.requests) < 2        # the conversation does not wait for the retry (2 s after the failure)
    n.flush(10)
    assert len(hook.requests) == 2 and hook.requests[-1]["body"]["event"] == "handoff.taken"


def test_webhook_bad_url_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="assistant.desk.handoff.notify"):
        WebhookNotifier("not a url", attempts=1).notify({"event": "handoff.requested", "handoff_id": "H-1"})
    assert "H-1" in caplog.text


def test_log_notifier_logs_ids_only(caplog: pytest.LogCaptureFixture) -> None:
    h = a_handoff("住5栋101，很生气")
    with caplog.at_level(logging.INFO, logger="assistant.desk.handoff.notify"):
        LogNotifier().notify(handoff_event("handoff.requested", h, ADMIN))
    assert h.id in caplog.text and "conv-9" in caplog.text and "admin=wang" in caplog.text
    assert "5栋101" not in caplog.text and "王管家" not in caplog.text


def test_multi_notifier_keeps_going() -> None:
    got: list[str] = []

    class Broken:
        def notify(self, event: dict[str, Any]) -> None:
            raise RuntimeError("boom")

    class Recorder:
        def notify(self, event: dict[str, Any]) -> None:
            got.append(event["handoff_id"])

    MultiNotifier([Broken(), LogNotifier(), Recorder()]).notify({"event": "handoff.requested", "handoff_id": "H-7"})
    assert got == ["H-7"]
