"""Start, check and stop the Rasa server and the action server on loopback."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from assistant.errors import ServiceError
from assistant.settings import Settings

log = logging.getLogger(__name__)
MODEL_NAME = "assistant"
# No model hub is reachable: load local folders only, without progress bars (this process and its children).
QUIET_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1",
             "TRANSFORMERS_VERBOSITY": "error", "TOKENIZERS_PARALLELISM": "false"}
WARMUP = ("你好", "车位怎么租")
KILL_WAIT = 10.0     # seconds to wait for a process group to vanish after SIGKILL
# TensorFlow in Rasa (DIET, TED) on one thread each: its inputs are one message, and its spinning pool threads
# cost CPU the other server needs (read by Rasa at start; the caller's environment wins)
TF_THREADS = {k: os.environ.get(k, "1") for k in ("TF_INTRA_OP_PARALLELISM_THREADS", "TF_INTER_OP_PARALLELISM_THREADS")}


def quiet_model_libraries() -> None:
    """Set QUIET_ENV in this process (where not set already), before any model library loads."""
    os.environ.update({k: v for k, v in QUIET_ENV.items() if k not in os.environ})


def rasa_model(settings: Settings) -> Path:
    return settings.rasa_model_dir / f"{MODEL_NAME}.tar.gz"


def webchat_origins(settings: Settings) -> list[str]:
    """The origins Rasa's CORS lets in: the web chat page on its port (one setting), by address and by name."""
    origins = [settings.webchat_url]
    if settings.host in ("127.0.0.1", "localhost"):
        origins = [f"http://127.0.0.1:{settings.webchat_port}", f"http://localhost:{settings.webchat_port}"]
    return origins


def _up(url: str, timeout: float = 1.0) -> bool:
    try:
        return httpx.get(url, timeout=timeout, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


# What the supervisor and restarts check: Rasa's root (open even with an auth token) and the action server's /health.
HEALTH: dict[str, Callable[[Settings], str]] = {
    "rasa": lambda s: f"{s.rasa_url}/",
    "actions": lambda s: f"{s.action_url}/health",
}


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes in the process group ``pgid``, from /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()     # after "pid (comm) ": state ppid pgrp ...
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def kill_group(proc: subprocess.Popen[bytes], grace: float = 15.0) -> None:
    """End ``proc`` and every process in its group (it leads one: ``start_new_session``), also when
    the leader already died and left workers behind: SIGTERM (and SIGCONT, for a stopped group),
    SIGKILL for whatever is left after ``grace`` s; returns when the group is gone."""
    pgid = proc.pid
    _signal_group(pgid, signal.SIGTERM)
    _signal_group(pgid, signal.SIGCONT)
    deadline, killed = time.monotonic() + grace, False
    while True:
        proc.poll()                      # reap the leader, or the group never looks empty
        if not group_members(pgid):
            break
        if time.monotonic() >= deadline:
            if killed:
                log.error("pid %d: process group still there %.0f s after SIGKILL", pgid, KILL_WAIT)
                break
            log.warning("pid %d: process group still running after %.0f s, killing it", pgid, grace)
            _signal_group(pgid, signal.SIGKILL)
            deadline, killed = time.monotonic() + KILL_WAIT, True
        time.sleep(0.1)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=KILL_WAIT)     # the leader may have turned zombie after the last poll


class Services:
    """Context manager: starts whichever service is not already running, stops what it started."""

    def __init__(self, settings: Settings, *, warmup: bool = True, endpoints: Path | None = None,
                 rasa_env: dict[str, str] | None = None) -> None:
        self.settings = settings
        self.warmup = warmup
        self.endpoints = endpoints            # another endpoints file (the cluster's profile)
        self.extra_rasa_env = rasa_env or {}  # variables that file names
        self.started: list[tuple[str, subprocess.Popen[bytes]]] = []

    def rasa_up(self) -> bool:
        return _up(f"{self.settings.rasa_url}/")

    def actions_up(self) -> bool:
        return _up(f"{self.settings.action_url}/health")

    def __enter__(self) -> Services:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self.settings.run_dir.mkdir(parents=True, exist_ok=True)
        try:
            if not self.actions_up():
                self._launch("actions")
            if not self.rasa_up():
                self._launch("rasa")
            self._wait("actions", f"{self.settings.action_url}/health")
            # /status needs the API token; it answers once the model is loaded
            self._wait("rasa", f"{self.settings.rasa_url}/status?token={self.settings.rasa_api_token()}")
            if self.warmup and self.started:
                self._warm()
        except BaseException:
            self.stop()
            raise

    def restart(self, name: str) -> None:
        """Stop the service ``name`` (``rasa`` / ``actions``, its whole process group) and start it again;
        returns when it answers (and, with warm-up, has answered the warm-up messages)."""
        self.stop(only=name)
        self.settings.run_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._launch(name)
            self._wait(name, HEALTH[name](self.settings))
            if self.warmup:
                self._warm()
        except BaseException:
            self.stop(only=name)
            raise

    def stop(self, only: str | None = None, grace: float = 15.0) -> None:
        """Stop what this object started (or only the service named ``rasa`` / ``actions``): SIGTERM to the
        whole process group (workers included, even when the leader is gone), SIGKILL after ``grace`` s."""
        for name, proc in reversed(self.started):
            if only and name != only:
                continue
            kill_group(proc, grace)
            log.info("stopped %s (pid %d)", name, proc.pid)
        self.started = [(n, p) for n, p in self.started if only and n != only]

    def process(self, name: str) -> subprocess.Popen[bytes] | None:
        """The process of the service ``name`` this object started, if any."""
        return next((p for n, p in self.started if n == name), None)

    def healthy(self, name: str, timeout: float = 2.0) -> bool:
        """True when the service answers its health check within ``timeout`` s."""
        return _up(HEALTH[name](self.settings), timeout)

    def wait(self) -> None:
        """Block until a started service exits."""
        while self.started and all(p.poll() is None for _, p in self.started):
            time.sleep(0.5)

    # -- internals ------------------------------------------------------------------------------
    def _action_cmd(self) -> list[str]:
        return [sys.executable, "-m", "assistant.runtime.action_server", "--actions", "actions",
                "--host", self.settings.host, "-p", str(self.settings.action_port)]

    def _rasa_cmd(self, model: Path) -> list[str]:
        s = self.settings
        python = s.rasa_python
        if not python.exists():
            raise ServiceError(f"Rasa environment not found at {python.parent.parent}; run `make setup` first")
        # the API (trackers, trigger_intent) needs the token (assistant.rasa_server.rasa_main passes
        # $RASA_API_TOKEN as --auth-token, out of the process list); the channels (REST, our socket.io) do not
        return [str(python), "-m", "assistant.rasa_server.rasa_main", "run", "--enable-api", "-m", str(model),
                "-i", s.host,
                "-p", str(s.rasa_port), "--cors", *webchat_origins(s),
                "--endpoints", str(self._endpoints()), "--credentials", str(s.root / "credentials.yml"),
                "--logging-config-file", str(Path(__file__).resolve().parents[1] / "rasa_server" / "logging.yml")]

    def _rasa_env(self) -> dict[str, str]:
        """The API token, and the project on the path: the web chat's channel imports its moderation and text code."""
        s = self.settings
        path = os.pathsep.join(p for p in (str(s.root), os.environ.get("PYTHONPATH", "")) if p)
        return {"PYTHONPATH": path, "RASA_API_TOKEN": s.rasa_api_token(), **s.child_env(), **self.extra_rasa_env}

    def _endpoints(self) -> Path:
        s = self.settings
        if self.endpoints is not None:
            return self.endpoints
        if s.action_port == 5055 and s.host == "127.0.0.1":
            return s.root / "endpoints.yml"
        path = s.run_dir / f"endpoints-{s.action_port}.yml"
        path.write_text(f'action_endpoint:\n  url: "{s.action_url}/webhook"\n', encoding="utf-8")
        return path

    def _launch(self, name: str) -> None:
        s = self.settings
        if name == "actions":
            # the action server loads the same settings (ports, scratch database) from its environment
            self._spawn("actions", self._action_cmd(), s.run_dir / f"actions-{s.action_port}.log",
                        {"PYTHONPATH": str(s.root), **QUIET_ENV, **s.child_env()})
            return
        model = rasa_model(s)
        if not model.exists():
            raise ServiceError(f"no trained Rasa model at {model}; run `make setup` first")
        self._spawn("rasa", self._rasa_cmd(model), s.run_dir / f"rasa-{s.rasa_port}.log",
                    {"RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "3",
                     "SQLALCHEMY_SILENCE_UBER_WARNING": "1", **TF_THREADS, **self._rasa_env()})

    def _spawn(self, name: str, cmd: list[str], logfile: Path, env: dict[str, str]) -> None:
        with open(logfile, "ab") as out:
            proc = subprocess.Popen(cmd, cwd=self.settings.root, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, env=os.environ | env, start_new_session=True)
        proc.logfile = logfile  # type: ignore[attr-defined]
        self.started.append((name, proc))
        log.info("started %s (pid %d), log %s", name, proc.pid, logfile)

    def _wait(self, name: str, url: str, timeout: float = 180.0) -> None:
        proc = next((p for n, p in self.started if n == name), None)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if _up(url):
                return
            if proc is not None and proc.poll() is not None:
                tail = Path(proc.logfile).read_text(errors="replace")[-2000:]  # type: ignore[attr-defined]
                raise ServiceError(f"{name} exited with code {proc.returncode} while starting:\n{tail}")
            time.sleep(0.3)
        raise ServiceError(f"{name} did not answer at {url} within {timeout:.0f} s")

    def _warm(self) -> None:
        from assistant.channels.client import RasaClient  # not at the top: the CLI imports this module at start

        client = RasaClient(self.settings.rasa_url, timeout=120)
        try:
            for text in WARMUP:
                client.send("__warmup__", text)
        except httpx.HTTPError as exc:
            log.warning("warm-up request failed: %s", type(exc).__name__, exc_info=log.isEnabledFor(logging.DEBUG))
        finally:
            client.close()


class GaveUp(ServiceError):
    """A service failed too often: the supervisor stopped."""


class Supervisor:
    """Keeps the servers a ``Services`` started running (``serve``). Every ``every`` s it checks each
    one; a server that exited, or missed ``hung_after`` health checks in a row (``probe_timeout`` s
    each), is killed (its whole process group) and started again after a backoff of ``backoff * 2**n``
    s (at most ``max_backoff``), n = its restarts in the last ``window`` s. More than ``max_restarts``
    in the window: ``run`` raises ``GaveUp``. ``report(kind, event)`` hears of each step: kind is
    ``restarting``, ``restarted``, ``restart_failed`` or ``gave_up``; the event holds the service's
    name, the reason and counts, never message text."""

    def __init__(self, services: Services, report: Callable[[str, dict[str, object]], None], *,
                 every: float = 2.0, probe_timeout: float = 2.0, hung_after: int = 3, max_restarts: int = 5,
                 window: float = 600.0, backoff: float = 1.0, max_backoff: float = 30.0, grace: float = 5.0) -> None:
        self.services, self.report = services, report
        self.every, self.probe_timeout, self.hung_after = every, probe_timeout, hung_after
        self.max_restarts, self.window = max_restarts, window
        self.backoff, self.max_backoff, self.grace = backoff, max_backoff, grace
        self.names = [name for name, _ in services.started]
        self.failures = dict.fromkeys(self.names, 0)
        self.restarts: dict[str, list[float]] = {name: [] for name in self.names}

    def run(self, stop: threading.Event | None = None) -> None:
        """Supervise until ``stop`` is set (or forever); raises ``GaveUp``."""
        stop = stop or threading.Event()
        while not stop.wait(self.every):
            self.check_once(stop)

    def check_once(self, stop: threading.Event | None = None) -> None:
        for name in self.names:
            reason = self._problem(name)
            if reason is not None:
                self._restart(name, reason, stop or threading.Event())

    def _problem(self, name: str) -> str | None:
        proc = self.services.process(name)
        if proc is None:
            return "not running"
        if proc.poll() is not None:
            return f"exited with code {proc.returncode}"
        if self.services.healthy(name, self.probe_timeout):
            self.failures[name] = 0
            return None
        self.failures[name] += 1
        log.warning("%s missed a health check (%d in a row)", name, self.failures[name])
        if self.failures[name] >= self.hung_after:
            return f"no answer to {self.failures[name]} health checks in a row"
        return None

    def _restart(self, name: str, reason: str, stop: threading.Event) -> None:
        now = time.monotonic()
        recent = [t for t in self.restarts[name] if now - t < self.window]
        event: dict[str, object] = {"service": name, "reason": reason, "restarts": len(recent),
                                    "window_s": self.window}
        if len(recent) >= self.max_restarts:
            self.report("gave_up", event)
            raise GaveUp(f"{name} failed {len(recent) + 1} times within {self.window:.0f} s ({reason}); giving up")
        delay = min(self.backoff * 2 ** len(recent), self.max_backoff)
        recent.append(now)
        self.restarts[name] = recent
        self.failures[name] = 0
        event |= {"restarts": len(recent), "delay_s": delay}
        self.report("restarting", event)
        self.services.stop(only=name, grace=self.grace)
        if stop.wait(delay):
            return
        started = time.monotonic()
        try:
            self.services.restart(name)
        except ServiceError as exc:
            log.error("%s did not come back: %s", name, exc)
            self.report("restart_failed", event | {"error": type(exc).__name__})
            return                          # the next check finds it not running and tries again
        self.report("restarted", event | {"took_s": round(time.monotonic() - started, 1)})
