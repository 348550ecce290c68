"""The console's tokens file and its ``console`` command."""

from __future__ import annotations

import stat
import types
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from assistant.cli.console import check_loopback, port_from
from assistant.console.tokens import AdminToken, TokenFileError, create_tokens, load_tokens
from assistant.errors import ConfigError
from assistant.desk.handoff import load_roster
from assistant.desk.handoff.roster import EXAMPLE


@pytest.fixture
def roster():  # noqa: ANN201
    return load_roster(EXAMPLE)


def test_create_tokens_writes_a_private_file_with_one_token_per_admin(tmp_path: Path, roster) -> None:  # noqa: ANN001
    path = tmp_path / "sub" / "console_tokens.yml"
    made = create_tokens(path, roster)
    assert [t.admin for t in made] == ["wang", "li", "zhang"]
    assert len({t.token for t in made}) == 3 and all(len(t.token) >= 24 for t in made)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_tokens(path, roster) == made
    with pytest.raises(FileExistsError):
        create_tokens(path, roster)
    assert made[0].token not in repr(made[0])


@pytest.mark.parametrize(("text", "problem"), [
    ("- admin: nobody\n  token: 0123456789abcdefXYZ\n", "unknown admin 'nobody'"),
    ("- admin: wang\n  token: short\n", "at least 16 characters"),
    ("- admin: wang\n  token: 0123456789abcdefXYZ\n- admin: li\n  token: 0123456789abcdefXYZ\n", "twice"),
    ("admin: wang\n", "must be a list"),
    ("[]\n", "no tokens"),
    ("- admin: wang\n  token: 0123456789abcdefXYZ\n  role: root\n", "unknown key"),
    ("- [wang]\n", "must be a mapping"),
    ("- admin: wang\n  token: [unclosed\n", "bad YAML"),
])
def test_bad_token_files_name_file_and_problem(tmp_path: Path, roster, text: str, problem: str) -> None:  # noqa: ANN001
    path = tmp_path / "tokens.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TokenFileError) as err:
        load_tokens(path, roster)
    assert problem in str(err.value) and str(path) in str(err.value)


def test_unknown_admin_names_the_line(tmp_path: Path, roster) -> None:  # noqa: ANN001
    path = tmp_path / "tokens.yml"
    path.write_text("- admin: wang\n  token: 0123456789abcdefXYZ\n- admin: ghost\n  token: 0123456789abcdefXYZ2\n")
    with pytest.raises(TokenFileError, match=r"tokens.yml:3 \[\[1\]\.admin\]"):
        load_tokens(path, roster)


def test_console_is_a_subcommand() -> None:
    from assistant.cli.main import _parser

    args = _parser().parse_args(["console", "--port", "9123", "--tokens", "/tmp/t.yml"])
    assert args.cmd == "console" and args.port == 9123 and args.host == "127.0.0.1"
    assert args.tokens == Path("/tmp/t.yml") and callable(args.run)


def test_port_and_host(monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant.settings import load_settings

    ns = types.SimpleNamespace(port=None)
    monkeypatch.delenv("ASSISTANT_CONSOLE_PORT", raising=False)
    assert port_from(ns, load_settings()) == 8090
    monkeypatch.setenv("ASSISTANT_CONSOLE_PORT", "8111")
    assert port_from(ns, load_settings()) == 8111
    assert port_from(types.SimpleNamespace(port=8222), load_settings()) == 8222
    monkeypatch.setenv("ASSISTANT_CONSOLE_PORT", "http")
    with pytest.raises(ConfigError, match="ASSISTANT_CONSOLE_PORT='http'"):
        load_settings()
    assert check_loopback("127.0.0.1") == "127.0.0.1"
    assert check_loopback("::1") == "::1"
    assert check_loopback("localhost") == "127.0.0.1"
    for host in ("0.0.0.0", "192.168.1.2", "example.com"):
        with pytest.raises(ConfigError, match="loopback"):
            check_loopback(host)


def test_main_refuses_a_public_host(capsys: pytest.CaptureFixture[str]) -> None:
    from assistant.cli.main import main

    assert main(["console", "--host", "0.0.0.0"]) == 1
    assert "loopback" in capsys.readouterr().err


def test_run_creates_the_tokens_file_and_serves_the_desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    import uvicorn

    from assistant.cli.console import run

    served: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.update(app=app, **kw))
    monkeypatch.setenv("ASSISTANT_TICKETS_URL", f"sqlite:///{tmp_path / 'tickets.db'}")
    monkeypatch.setenv("ASSISTANT_HANDOFF_ROSTER", str(EXAMPLE))
    monkeypatch.setenv("ASSISTANT_CONSOLE_TOKENS", str(tmp_path / "tokens.yml"))
    args = types.SimpleNamespace(port=None, host="127.0.0.1", tokens=None)
    monkeypatch.delenv("ASSISTANT_CONSOLE_PORT", raising=False)
    from assistant.settings import load_settings

    settings = load_settings(tmp_path).with_ports(rasa_port=9)

    assert run(args, settings) == 0
    out = capsys.readouterr().out
    assert str(tmp_path / "tokens.yml") in out and "0600" in out and "http://127.0.0.1:8090/" in out
    assert served["host"] == "127.0.0.1" and served["port"] == 8090
    assert served["log_config"] is None              # uvicorn logs through the app's redacting handler
    assert served["proxy_headers"] is False          # uvicorn must not rewrite the client from X-Forwarded-For
    assert oct((tmp_path / "tokens.key").stat().st_mode & 0o777) == "0o600"
    tokens = load_tokens(tmp_path / "tokens.yml")
    assert all(t.token not in out for t in tokens)           # the tokens are not printed

    with TestClient(served["app"], follow_redirects=False) as c:
        assert c.get("/tickets").status_code == 303
        r = c.get("/tickets", headers={"Authorization": f"Bearer {tokens[1].token}"})
        assert r.status_code == 200 and "李主任" in r.text

    # a second start reads the same file
    (tmp_path / "tokens.yml").chmod(0o644)
    assert run(args, settings) == 0
    assert "readable by other users" in capsys.readouterr().err
    assert load_tokens(tmp_path / "tokens.yml") == tokens


def test_admin_token_mapping_is_accepted() -> None:
    from assistant.console.tokens import as_tokens

    assert as_tokens({"wang": "x" * 20}) == (AdminToken("wang", "x" * 20),)


def test_trusted_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant.cli.console import proxies_from
    from assistant.cli.main import _parser
    from assistant.settings import load_settings

    monkeypatch.delenv("ASSISTANT_CONSOLE_TRUSTED_PROXIES", raising=False)
    assert proxies_from(_parser().parse_args(["console"]), load_settings()) == []
    monkeypatch.setenv("ASSISTANT_CONSOLE_TRUSTED_PROXIES", "127.0.0.1, ::1")
    assert proxies_from(_parser().parse_args(["console"]), load_settings()) == ["127.0.0.1", "::1"]
    args = _parser().parse_args(["console", "--trusted-proxy", "10.0.0.0/8", "--trusted-proxy", "127.0.0.1"])
    assert proxies_from(args, load_settings()) == ["10.0.0.0/8", "127.0.0.1"]
    with pytest.raises(ConfigError, match="proxy.example"):
        proxies_from(_parser().parse_args(["console", "--trusted-proxy", "proxy.example"]), load_settings())
    monkeypatch.setenv("ASSISTANT_CONSOLE_TRUSTED_PROXIES", "proxy.example")
    with pytest.raises(ConfigError, match="ASSISTANT_CONSOLE_TRUSTED_PROXIES"):
        load_settings()
