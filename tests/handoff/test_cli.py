"""The handoff admin CLI, through main()/run() and once as a subprocess."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from assistant.desk.handoff import open_handoffs
from assistant.cli.handoff import add_parser, run
from assistant.cli.main import main
from assistant.settings import load_settings
from assistant.desk.handoff.roster import EXAMPLE

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    u = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("ASSISTANT_TICKETS_URL", u)
    monkeypatch.setenv("ASSISTANT_HANDOFF_ADMIN", "wang")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("ASSISTANT_HANDOFF_ROSTER", raising=False)
    return u


@pytest.fixture
def hid(url: str) -> str:
    with open_handoffs(url) as q:
        q.request("conv-other", "wx-bob", "abusive", "[red]markup[/red] 骂人")
        return q.request("conv-1", "wx-alice", "request_human", "想找人工 13812345678")[0].id


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["handoff", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_add_parser_registers_handoff(url: str, hid: str, capsys: pytest.CaptureFixture[str]) -> None:
    top = argparse.ArgumentParser()
    add_parser(top.add_subparsers(dest="cmd"))
    args = top.parse_args(["handoff", "list", "--json"])
    assert args.run is run and run(args, load_settings()) == 0
    assert [h["id"] for h in json.loads(capsys.readouterr().out)["handoffs"]][-1] == hid
    args = top.parse_args(["handoff", "--db", url, "--json", "take", hid])
    assert args.db == url and args.json and args.id == hid


def test_workflow(url: str, hid: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "list")
    assert code == 0 and hid in out and "[手机号已隐藏]" in out and "13812345678" not in out
    assert "[red]markup[/red]" in out                      # printed literally, not as Rich markup
    code, out, _ = cli(capsys, "take", hid.lower())
    assert code == 0 and f"{hid} taken by wang" in out
    code, _, err = cli(capsys, "take", hid, "--admin", "li")
    assert code == 1 and err.strip() == f"error: handoff {hid} is already taken by wang"
    code, out, _ = cli(capsys, "--json", "release", hid)
    assert code == 0 and json.loads(out)["state"] == "released"
    code, out, _ = cli(capsys, "list", "--json")
    assert [h["conversation_id"] for h in json.loads(out)["handoffs"]] == ["conv-other"]
    code, out, _ = cli(capsys, "list", "--all", "--json")
    assert len(json.loads(out)["handoffs"]) == 2
    code, out, _ = cli(capsys, "list", "--state", "released", "--json")
    assert [h["id"] for h in json.loads(out)["handoffs"]] == [hid]


def test_expire(url: str, hid: str, capsys: pytest.CaptureFixture[str]) -> None:
    at = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()
    code, out, _ = cli(capsys, "expire", "--timeout", "30", "--at", at, "--json")
    assert code == 0 and {h["state"] for h in json.loads(out)} == {"expired"} and len(json.loads(out)) == 2
    code, out, _ = cli(capsys, "expire", "--timeout", "30")
    assert code == 0 and "0 handoff(s) expired" in out
    code, _, err = cli(capsys, "take", hid)
    assert code == 1 and "expired" in err


@pytest.mark.parametrize(("argv", "code", "words"), [
    (["take", "H-20990101-0042"], 1, "no handoff 'H-20990101-0042'"),
    (["release", "garbage"], 1, "no handoff"),
    (["list", "--state", "done"], 2, "state: 'done' is not one of"),
    (["expire", "--timeout", "soon"], 2, "--timeout"),
    (["expire", "--timeout", "-5"], 2, "--timeout"),
    (["expire", "--timeout", "5", "--at", "tomorrow"], 2, "--at"),
    (["take", "H-20990101-0042", "--admin", "x" * 65], 2, "admin: longer than 64"),
    (["list", "--db", "postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2"], 1, "cannot open"),
    (["list", "--db", "::bad::"], 1, "not a database URL"),
])
def test_errors(url: str, hid: str, capsys: pytest.CaptureFixture[str], argv: list[str], code: int,
                words: str) -> None:
    got, out, err = cli(capsys, *argv)
    assert got == code and words in err and "Traceback" not in err + out


def test_roster(url: str, hid: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "list", "--roster", str(EXAMPLE), "--json")
    assert code == 0 and json.loads(out)["on_duty"]["id"] in ("wang", "li", "zhang")
    code, out, _ = cli(capsys, "list", "--roster", str(EXAMPLE))
    assert code == 0 and "on duty:" in out
    code, _, err = cli(capsys, "take", hid, "--admin", "stranger", "--roster", str(EXAMPLE))
    assert code == 2 and "'stranger' is not in the roster" in err
    assert cli(capsys, "take", hid, "--admin", "li", "--roster", str(EXAMPLE))[0] == 0
    bad = tmp_path / "bad.yml"
    bad.write_text("admins: []\nrotation: {order: [x]}\n", encoding="utf-8")
    code, _, err = cli(capsys, "list", "--roster", str(bad))
    assert code == 2 and f"{bad}:1 [admins]" in err


def test_subprocess(url: str, hid: str) -> None:
    env = {**os.environ, "ASSISTANT_TICKETS_URL": url, "ASSISTANT_HANDOFF_ADMIN": "zhang"}
    r = subprocess.run([sys.executable, "-m", "assistant", "handoff", "take", hid, "--json"], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["admin"] == "zhang"
    r = subprocess.run([sys.executable, "-m", "assistant", "handoff", "take", hid, "--admin", "li"], cwd=ROOT,
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and r.stderr.strip() == f"error: handoff {hid} is already taken by zhang"
