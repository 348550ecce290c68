"""Settings: one typed object, checked once at start; the environment is read only where allowed."""

from __future__ import annotations

import ast
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from assistant.errors import ConfigError
from assistant.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent

# Every setting whose value is checked, with a bad value each.
BAD = [
    ("ASSISTANT_RASA_PORT", "abc"), ("ASSISTANT_RASA_PORT", "70000"), ("ASSISTANT_ACTION_PORT", "0"),
    ("ASSISTANT_WEBCHAT_PORT", "eighty"), ("ASSISTANT_CONSOLE_PORT", "http"),
    ("ASSISTANT_DEDUP_HOURS", "a day"), ("ASSISTANT_HANDOFF_TIMEOUT", "abc"), ("ASSISTANT_HANDOFF_TIMEOUT", "0"),
    ("ASSISTANT_HANDOFF_TIMEOUT", "-5"), ("ASSISTANT_HANDOFF_TIMEOUT", "20000"), ("ASSISTANT_SWEEP_SECONDS", "often"),
    ("ASSISTANT_SWEEP_SECONDS", "nan"), ("ASSISTANT_SENSITIVE_CATEGORIES", "费用"),
    ("ASSISTANT_TELEGRAM_BASE_URL", "api.telegram.org/bot"),
]


@pytest.mark.parametrize(("name", "value"), BAD)
def test_a_bad_value_names_the_variable_and_the_value(name: str, value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert name in str(err.value) and value in str(err.value)


def test_the_handoff_timeout_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_HANDOFF_TIMEOUT", "abc")
    with pytest.raises(ConfigError, match=r"^ASSISTANT_HANDOFF_TIMEOUT='abc' is not a number of minutes"):
        load_settings()


def test_built_directly_the_same_checks_apply() -> None:
    with pytest.raises(ConfigError, match="ASSISTANT_DEDUP_HOURS"):
        Settings(dedup_hours="soon")
    assert Settings(handoff_minutes=5).handoff_timeout == timedelta(minutes=5)


def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [str(f.validation_alias) for f in Settings.model_fields.values()]:
        if name != "ASSISTANT_HOME":
            monkeypatch.delenv(name, raising=False)


def test_defaults_and_blank_values(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _clean(monkeypatch)
    s = load_settings(tmp_path)
    assert (s.root, s.rasa_url, s.action_url, s.webchat_url) == (tmp_path.resolve(), "http://127.0.0.1:5005",
                                                                  "http://127.0.0.1:5055", "http://127.0.0.1:8088")
    assert s.desk_url == f"sqlite:///{tmp_path.resolve() / 'models' / 'tickets.db'}"
    assert (s.dedup_window, s.handoff_timeout, s.sweep_every) == (timedelta(hours=24), timedelta(minutes=30), 60.0)
    assert s.sensitive_categories == {"fees"} and s.console_port == 8090
    assert (s.query_prefix, s.passage_prefix) == ("query: ", "passage: ")
    assert s.console_tokens_path == tmp_path.resolve() / "models" / "console_tokens.yml"
    for name in ("ASSISTANT_HANDOFF_TIMEOUT", "ASSISTANT_RASA_PORT", "ASSISTANT_DEDUP_HOURS", "ASSISTANT_TICKETS_URL"):
        monkeypatch.setenv(name, "  ")                  # blank: the default, as before
    monkeypatch.setenv("ASSISTANT_QUERY_PREFIX", "")    # but an empty prefix means no prefix
    monkeypatch.setenv("ASSISTANT_EMBED_MODEL", "BAAI/bge-small-zh")
    s = load_settings(tmp_path)
    assert s.handoff_minutes == 30 and s.rasa_port == 5005 and s.dedup_hours == 24 and s.tickets_url is None
    assert (s.query_prefix, s.passage_prefix) == ("", "")
    monkeypatch.setenv("ASSISTANT_SENSITIVE_CATEGORIES", "fees, safety")
    monkeypatch.setenv("ASSISTANT_SWEEP_SECONDS", "0.2")
    monkeypatch.setenv("ASSISTANT_DEDUP_HOURS", "-3")
    s = load_settings(tmp_path)
    assert s.sensitive_categories == {"fees", "safety"} and s.sweep_every == 1.0 and s.dedup_window == timedelta(0)


def test_secrets_are_hidden_and_options_name_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    _clean(monkeypatch)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456:secret-token-abcdefghijklmn")
    monkeypatch.setenv("ASSISTANT_TICKETS_URL", "postgresql+psycopg://u:pw-secret@db/x")
    monkeypatch.setenv("MY_SECRET", "0123456789abcdef")
    s = load_settings()
    assert "secret-token" not in repr(s) and "pw-secret" not in repr(s) and "pw-secret" not in str(s)
    assert s.desk_url.endswith("pw-secret@db/x")
    assert s.secret_from("MY_SECRET") == SecretStr("0123456789abcdef")
    assert s.secret_from("TELEGRAM_BOT_TOKEN") == s.telegram_bot_token
    assert s.secret_from("NOT_SET") is None
    monkeypatch.setenv("MY_SECRET", "changed later")           # read once, at load
    assert s.with_ports(rasa_port=9).secret_from("MY_SECRET") == SecretStr("0123456789abcdef")


def test_a_scratch_database_reaches_the_action_server(monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant.runtime.app import scratch_settings

    _clean(monkeypatch)
    s = load_settings().with_ports(6005, 6055)
    assert scratch_settings(s, is_running=True) is s             # the running servers keep their database
    scratch = scratch_settings(s, is_running=False)
    assert scratch.tickets_url is not None and scratch.desk_url.endswith("/tickets.db")
    assert "assistant-eval-" in scratch.desk_url and s.tickets_url is None
    env = scratch.child_env()
    assert env["ASSISTANT_TICKETS_URL"] == scratch.desk_url and env["ASSISTANT_RASA_PORT"] == "6005"
    assert load_settings().model_copy(update={}).tickets_url is None      # nothing written to os.environ
    monkeypatch.setenv("ASSISTANT_TICKETS_URL", "sqlite:///elsewhere.db")
    named = load_settings()
    assert scratch_settings(named, is_running=False) is named


def test_cli_fails_at_start_on_a_bad_setting(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "ASSISTANT_HANDOFF_TIMEOUT": "abc",
           "ASSISTANT_RASA_PORT": "1"}          # nothing listens there: had it started anything, it would hang or fail
    start = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "assistant", "ask", "x"], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 1 and time.monotonic() - start < 30
    assert "ASSISTANT_HANDOFF_TIMEOUT='abc' is not a number of minutes" in r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""


# -- where the environment is read ---------------------------------------------------------------

# settings.py; the code that spawns child processes; the Rasa process's own entry (Python 3.10, no settings object)
ALLOWED = {"assistant/settings.py", "assistant/runtime/services.py", "assistant/runtime/setup.py",
           "assistant/rasa_server/rasa_main.py"}


def _reads_environment(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb", "getenvb"):
            lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            lines += [node.lineno for a in node.names if a.name in ("environ", "getenv", "environb", "getenvb")]
        elif isinstance(node, ast.Name) and node.id in ("environ", "getenv"):
            lines.append(node.lineno)
    return lines


def test_environment_is_read_only_in_settings_and_process_spawning() -> None:
    found: dict[str, Any] = {}
    for folder in ("assistant", "actions"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            lines = _reads_environment(ast.parse(path.read_text(encoding="utf-8"), rel))
            if lines and rel not in ALLOWED:
                found[rel] = lines
    assert found == {}, f"os.environ / getenv outside {sorted(ALLOWED)}: {found}"
    assert _reads_environment(ast.parse("import os\nx = os.environ.get('A')\n")) == [2]   # the check can fail
    assert _reads_environment(ast.parse("from os import getenv\n")) == [1]


def test_open_desk_takes_the_settings_and_closes_its_stores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant.runtime.app import open_desk

    _clean(monkeypatch)
    url = f"sqlite:///{tmp_path / 'desk.db'}"
    monkeypatch.setenv("ASSISTANT_TICKETS_URL", url)
    monkeypatch.setenv("ASSISTANT_DEDUP_HOURS", "2")
    monkeypatch.setenv("ASSISTANT_HANDOFF_TIMEOUT", "45")
    disposed: list[object] = []
    with open_desk(load_settings(tmp_path)) as desk:
        assert (desk.dedup_window, desk.handoff_timeout) == (timedelta(hours=2), timedelta(minutes=45))
        assert str(desk.tickets.engine.url) == url == str(desk.handoffs.engine.url)  # type: ignore[attr-defined]
        for store in (desk.tickets, desk.handoffs):
            real = store.dispose  # type: ignore[attr-defined]
            monkeypatch.setattr(store, "dispose", lambda real=real, store=store: (disposed.append(store), real()))
    assert desk.tickets in disposed and desk.handoffs in disposed


def test_rasa_token_is_made_once_private_and_overridable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _clean(monkeypatch)
    s = load_settings(tmp_path)
    token = s.rasa_api_token()
    assert len(token) >= 32 and s.rasa_api_token() == token == load_settings(tmp_path).rasa_api_token()
    assert (s.rasa_token_path.stat().st_mode & 0o777) == 0o600
    assert [p.name for p in s.rasa_token_path.parent.iterdir()] == ["rasa_token"]   # no temporary left
    monkeypatch.setenv("ASSISTANT_RASA_TOKEN", "from-the-env")
    s = load_settings(tmp_path)
    assert s.rasa_api_token() == "from-the-env" and "from-the-env" not in repr(s)


def test_rasa_command_has_the_token_and_the_web_chat_origins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from assistant.runtime.services import Services

    _clean(monkeypatch)
    monkeypatch.setenv("ASSISTANT_RASA_TOKEN", "tok-1")
    monkeypatch.setenv("ASSISTANT_WEBCHAT_PORT", "8089")
    (tmp_path / ".venv" / "rasa" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "rasa" / "bin" / "python").touch()
    svc = Services(load_settings(tmp_path))
    cmd = svc._rasa_cmd(tmp_path / "m.tar.gz")
    assert "tok-1" not in " ".join(cmd) and svc._rasa_env()["RASA_API_TOKEN"] == "tok-1"   # not in `ps`
    cors = cmd[cmd.index("--cors") + 1:cmd.index("--endpoints")]
    assert cors == ["http://127.0.0.1:8089", "http://localhost:8089"]
    assert svc._rasa_env()["PYTHONPATH"].split(":")[0] == str(tmp_path.resolve())
