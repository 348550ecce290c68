"""`serve` under a crash, a freeze and SIGTERM: the real servers on free ports, in a `serve` subprocess.
Run with -s to see the measured figures."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.channels.client import Assistant, RasaClient, Reply
from assistant.dialogue import replies
from assistant.runtime.services import group_members
from assistant.settings import Settings, load_settings

from .conftest import ROOT, free_port

pytestmark = pytest.mark.services


def listeners(port: int) -> set[int]:
    """Pids with a listening TCP socket on ``port`` (from /proc)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            f = line.split()
            if int(f[1].rsplit(":", 1)[1], 16) == port and f[3] == "0A":
                inodes.add(f"socket:[{f[9]}]")
    pids = set()
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if any(os.readlink(fd) in inodes for fd in (proc / "fd").iterdir()):
                    pids.add(int(proc.name))
            except OSError:
                continue
    return pids


def pgid_of_port(port: int, timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        groups = {os.getpgid(pid) for pid in listeners(port) if _alive(pid)}
        if len(groups) == 1:
            return groups.pop()
        time.sleep(0.5)
    raise AssertionError(f"no single process group listens on {port}")


def _alive(pid: int) -> bool:
    try:
        os.getpgid(pid)
        return True
    except ProcessLookupError:
        return False


class Serve:
    def __init__(self, tmp: Path) -> None:
        self.settings: Settings = load_settings().with_ports(free_port(), free_port())
        env = os.environ | {"ASSISTANT_TICKETS_URL": f"sqlite:///{tmp / 'tickets.db'}"}
        self.stderr = tmp / "serve.stderr"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "assistant", "serve", "--rasa-port", str(self.settings.rasa_port),
             "--action-port", str(self.settings.action_port)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=open(self.stderr, "wb"), text=True)  # noqa: SIM115
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()             # printed once both servers answer
        assert "Ctrl-C to stop" in line, self.stderr.read_text()
        s = self.settings
        self.bot = Assistant(RasaClient(s.rasa_url, health_url=f"{s.action_url}/health"))

    def ask(self, text: str = "车位怎么租") -> tuple[Reply, float]:
        start = time.monotonic()
        reply = self.bot.ask(text, sender=f"supervise-{uuid.uuid4().hex[:8]}")
        return reply, time.monotonic() - start

    def recovered(self, since: float, limit: float = 60) -> float:
        """Seconds from ``since`` until a normal answer comes back (asking every second)."""
        while time.monotonic() - since < limit + 30:
            reply, _ = self.ask()
            if reply.route == "answer":
                return time.monotonic() - since
            time.sleep(1)
        raise AssertionError(f"not back within {limit + 30} s:\n{self.stderr.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    s = Serve(tmp_path_factory.mktemp("serve"))
    yield s
    if s.proc.poll() is None:
        s.proc.send_signal(signal.SIGTERM)
        s.proc.wait(120)
    s.bot.close()


def test_kill_9_of_the_action_server_polite_reply_restart_no_orphans(serve: Serve) -> None:
    assert serve.ask()[0].route == "answer"
    old = pgid_of_port(serve.settings.action_port)
    os.kill(old, signal.SIGKILL)                      # the leader only: its workers are left behind
    killed = time.monotonic()
    reply, took = serve.ask()
    print(f"\nkill -9: first reply after {took:.2f} s (route {reply.route})")
    assert took < 5 and reply.replies
    assert reply.route == "answer" or reply.replies == [replies.SERVICE_DOWN]
    while "action server is back" not in serve.stderr.read_text():   # the orphan workers may still answer
        assert time.monotonic() - killed < 90, serve.stderr.read_text()
        time.sleep(0.5)
    back = serve.recovered(killed)
    print(f"kill -9: restarted and answering {back:.1f} s after the kill")
    assert back < 60
    assert group_members(old) == []                   # no orphan of the old action server
    assert pgid_of_port(serve.settings.action_port) != old
    assert "action server exited with code -9" in serve.stderr.read_text()


def test_sigstop_of_the_action_server_polite_reply_then_restart(serve: Serve) -> None:
    old = pgid_of_port(serve.settings.action_port)
    os.killpg(old, signal.SIGSTOP)
    frozen = time.monotonic()
    reply, took = serve.ask()
    print(f"\nSIGSTOP: polite reply after {took:.2f} s")
    assert reply.route == "fallback" and reply.replies == [replies.SERVICE_DOWN] and took < 5
    back = serve.recovered(frozen)
    print(f"SIGSTOP: normal answers again {back:.1f} s after the freeze")
    assert back < 60
    assert group_members(old) == []
    assert "health checks" in serve.stderr.read_text()


def test_sigterm_stops_everything_and_exits_0(serve: Serve) -> None:
    s = serve.settings
    groups = {pgid_of_port(s.action_port), pgid_of_port(s.rasa_port)}
    serve.proc.send_signal(signal.SIGTERM)
    start = time.monotonic()
    code = serve.proc.wait(120)
    print(f"\nSIGTERM: serve exited {code} after {time.monotonic() - start:.1f} s")
    assert code == 0
    assert all(group_members(g) == [] for g in groups)
    assert not listeners(s.action_port) and not listeners(s.rasa_port)
