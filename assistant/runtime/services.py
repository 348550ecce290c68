"""Start, check and stop the Rasa server and the action server on loopback."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from assistant.settings import Settings
from assistant.errors import ServiceError

log = logging.getLogger(__name__)
MODEL_NAME = "assistant"
# No model hub is reachable: load local folders only, without progress bars (this process and its children).
QUIET_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1",
             "TRANSFORMERS_VERBOSITY": "error", "TOKENIZERS_PARALLELISM": "false"}
WARMUP = ("你好", "车位怎么租")


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


def _up(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


class Services:
    """Context manager: starts whichever service is not already running, stops what it started."""

    def __init__(self, settings: Settings, *, warmup: bool = True) -> None:
        self.settings = settings
        self.warmup = warmup
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
        s = self.settings
        s.run_dir.mkdir(parents=True, exist_ok=True)
        try:
            if not self.actions_up():
                # the action server loads the same settings (ports, scratch database) from its environment
                self._spawn("actions", self._action_cmd(), s.run_dir / f"actions-{s.action_port}.log",
                            {"SANIC_HOST": s.host, "PYTHONPATH": str(s.root), **QUIET_ENV, **s.child_env()})
            if not self.rasa_up():
                model = rasa_model(s)
                if not model.exists():
                    raise ServiceError(f"no trained Rasa model at {model}; run `make setup` first")
                self._spawn("rasa", self._rasa_cmd(model), s.run_dir / f"rasa-{s.rasa_port}.log",
                            {"RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "3",
                             "SQLALCHEMY_SILENCE_UBER_WARNING": "1", **self._rasa_env()})
            self._wait("actions", f"{s.action_url}/health")
            self._wait("rasa", f"{s.rasa_url}/status?token={s.rasa_api_token()}")   # the model is loaded
            if self.warmup and self.started:
                self._warm()
        except BaseException:
            self.stop()
            raise

    def stop(self, only: str | None = None) -> None:
        """Stop what this object started (or only the service named ``rasa`` / ``actions``)."""
        for name, proc in reversed(self.started):
            if only and name != only:
                continue
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
            log.info("stopped %s (pid %d)", name, proc.pid)
        self.started = [(n, p) for n, p in self.started if only and n != only]

    def wait(self) -> None:
        """Block until a started service exits (for `serve`)."""
        while self.started and all(p.poll() is None for _, p in self.started):
            time.sleep(0.5)

    # -- internals ------------------------------------------------------------------------------
    def _action_cmd(self) -> list[str]:
        return [sys.executable, "-m", "rasa_sdk", "--actions", "actions", "-p", str(self.settings.action_port)]

    def _rasa_cmd(self, model: Path) -> list[str]:
        s = self.settings
        python = s.rasa_python
        if not python.exists():
            raise ServiceError(f"Rasa environment not found at {python.parent.parent}; run `make setup` first")
        # the API (trackers, trigger_intent) needs the token (channels.rasa_main passes $RASA_API_TOKEN as
        # --auth-token, out of the process list); the channels (REST, our socket.io) do not
        return [str(python), "-m", "channels.rasa_main", "run", "--enable-api", "-m", str(model), "-i", s.host,
                "-p", str(s.rasa_port), "--cors", *webchat_origins(s),
                "--endpoints", str(self._endpoints()), "--credentials", str(s.root / "credentials.yml"),
                "--logging-config-file", str(s.root / "channels" / "logging.yml")]

    def _rasa_env(self) -> dict[str, str]:
        """The API token, and the project on the path: the web chat's channel imports its moderation and text code."""
        s = self.settings
        path = os.pathsep.join(p for p in (str(s.root), os.environ.get("PYTHONPATH", "")) if p)
        return {"PYTHONPATH": path, "RASA_API_TOKEN": s.rasa_api_token(), **s.child_env()}

    def _endpoints(self) -> Path:
        s = self.settings
        if s.action_port == 5055 and s.host == "127.0.0.1":
            return s.root / "endpoints.yml"
        path = s.run_dir / f"endpoints-{s.action_port}.yml"
        path.write_text(f'action_endpoint:\n  url: "{s.action_url}/webhook"\n', encoding="utf-8")
        return path

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
        from assistant.channels.client import RasaClient

        client = RasaClient(self.settings.rasa_url, timeout=120)
        try:
            for text in WARMUP:
                client.send("__warmup__", text)
        except httpx.HTTPError as exc:
            log.warning("warm-up request failed: %s", type(exc).__name__)
        finally:
            client.close()
