"""Process groups and the supervisor's decisions, without the real servers."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from typing import Any

import pytest

from assistant.desk.admin_notify import format_event
from assistant.runtime.services import GaveUp, Supervisor, group_members, kill_group


def spawn_group() -> subprocess.Popen[bytes]:
    """A leader with two workers in its own process group, like rasa_sdk's sanic."""
    proc = subprocess.Popen(["sh", "-c", "sleep 300 & sleep 300 & wait"], start_new_session=True)
    deadline = time.monotonic() + 10
    while len(group_members(proc.pid)) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(group_members(proc.pid)) == 3
    return proc


def test_kill_group_ends_workers_left_behind_by_a_killed_leader() -> None:
    proc = spawn_group()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert len(group_members(proc.pid)) == 2          # the orphans of today's `serve`
    kill_group(proc, grace=5)
    assert group_members(proc.pid) == []


def test_kill_group_ends_a_stopped_group() -> None:
    proc = spawn_group()
    os.killpg(proc.pid, signal.SIGSTOP)
    start = time.monotonic()
    kill_group(proc, grace=5)
    assert group_members(proc.pid) == [] and proc.returncode is not None
    assert time.monotonic() - start < 5               # SIGCONT lets SIGTERM in: no need to wait for SIGKILL


def test_kill_group_uses_sigkill_after_the_grace_period() -> None:
    proc = subprocess.Popen(["sh", "-c", "trap '' TERM; sleep 300 & trap '' TERM; wait"], start_new_session=True)
    time.sleep(0.3)
    start = time.monotonic()
    kill_group(proc, grace=1)
    assert group_members(proc.pid) == [] and 1 <= time.monotonic() - start < 8


class FakeProc:
    def __init__(self, code: int | None = None) -> None:
        self.returncode = code

    def poll(self) -> int | None:
        return self.returncode


class FakeServices:
    def __init__(self) -> None:
        self.started: list[tuple[str, Any]] = [("actions", FakeProc()), ("rasa", FakeProc())]
        self.health = {"actions": True, "rasa": True}
        self.calls: list[str] = []
        self.fail_restart = False

    def process(self, name: str) -> Any:
        return next((p for n, p in self.started if n == name), None)

    def healthy(self, name: str, timeout: float = 2.0) -> bool:
        return self.health[name]

    def stop(self, only: str | None = None, grace: float = 15.0) -> None:
        self.calls.append(f"stop {only}")
        self.started = [(n, p) for n, p in self.started if n != only]

    def restart(self, name: str) -> None:
        from assistant.errors import ServiceError

        self.calls.append(f"restart {name}")
        if self.fail_restart:
            raise ServiceError("did not answer")
        self.started.append((name, FakeProc()))
        self.health[name] = True


def supervisor(svc: FakeServices, events: list[tuple[str, dict[str, object]]], **kw: Any) -> Supervisor:
    kw = {"every": 0, "backoff": 0.01, "max_backoff": 0.04, **kw}
    return Supervisor(svc, lambda kind, event: events.append((kind, event)), **kw)  # type: ignore[arg-type]


def test_a_crashed_server_is_restarted_and_reported() -> None:
    svc, events = FakeServices(), []
    sup = supervisor(svc, events)
    svc.started[0] = ("actions", FakeProc(-9))
    sup.check_once()
    assert svc.calls == ["stop actions", "restart actions"]
    assert [k for k, _ in events] == ["restarting", "restarted"]
    assert events[0][1]["service"] == "actions" and "code -9" in str(events[0][1]["reason"])
    sup.check_once()                                   # healthy again: nothing to do
    assert len(svc.calls) == 2


def test_a_hung_server_is_restarted_after_missed_health_checks_only() -> None:
    svc, events = FakeServices(), []
    sup = supervisor(svc, events, hung_after=3)
    svc.health["rasa"] = False
    sup.check_once()
    sup.check_once()
    assert svc.calls == []                             # two misses: a busy server, not yet a hung one
    sup.check_once()
    assert svc.calls == ["stop rasa", "restart rasa"] and "health checks" in str(events[0][1]["reason"])


def test_backoff_doubles_and_the_supervisor_gives_up() -> None:
    svc, events = FakeServices(), []
    sup = supervisor(svc, events, max_restarts=3, backoff=0.01, max_backoff=0.02)
    for _ in range(3):
        svc.started = [("actions", FakeProc(1)), ("rasa", FakeProc())]
        sup.check_once()
    delays = [e["delay_s"] for k, e in events if k == "restarting"]
    assert delays == [0.01, 0.02, 0.02]
    svc.started = [("actions", FakeProc(1)), ("rasa", FakeProc())]
    with pytest.raises(GaveUp, match="actions failed 4 times"):
        sup.check_once()
    assert events[-1][0] == "gave_up"


def test_a_failed_restart_is_tried_again_on_the_next_check() -> None:
    svc, events = FakeServices(), []
    sup = supervisor(svc, events)
    svc.fail_restart = True
    svc.started[0] = ("actions", FakeProc(1))
    sup.check_once()
    assert events[-1][0] == "restart_failed" and svc.process("actions") is None
    svc.fail_restart = False
    sup.check_once()
    assert events[-1][0] == "restarted" and svc.process("actions") is not None


def test_admins_are_told_in_words_without_message_text() -> None:
    text, handle = format_event({"event": "service.restarting", "service": "actions",
                                 "reason": "exited with code -9", "restarts": 1})
    assert "动作服务器" in text and "第 1 次重启" in text and handle is None
    text, _ = format_event({"event": "service.gave_up", "service": "rasa", "reason": "x", "restarts": 5})
    assert "已停止全部服务" in text
