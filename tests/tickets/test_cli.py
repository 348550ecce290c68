"""The admin CLI, through main()/run() and once as a subprocess."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.desk.tickets import Reporter, open_store
from assistant.cli.tickets import add_parser, run
from assistant.cli.main import main
from assistant.settings import load_settings
from assistant.desk.tickets.store import default_url

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    u = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("ASSISTANT_TICKETS_URL", u)
    monkeypatch.setenv("ASSISTANT_TICKETS_ACTOR", "admin:test")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("ASSISTANT_TICKETS_SLA", raising=False)
    return u


@pytest.fixture
def tid(url: str) -> str:
    with open_store(url) as s:
        s.create(Reporter("wx-bob", "赵四"), "parking", "3栋502", "车位被占 <b>[red]markup[/red]</b>")
        return s.create(Reporter("wx-alice", "王小明"), "noise", "5栋101", "楼上每晚拖椅子").id


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["tickets", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_add_parser_registers_tickets(url: str, tid: str, capsys: pytest.CaptureFixture[str]) -> None:
    top = argparse.ArgumentParser()
    sub = top.add_subparsers(dest="cmd")
    add_parser(sub)
    args = top.parse_args(["tickets", "show", tid, "--json"])
    assert args.run is run and run(args, load_settings()) == 0
    assert json.loads(capsys.readouterr().out)["ticket"]["id"] == tid
    # options before or after the subcommand
    args = top.parse_args(["tickets", "--db", url, "--json", "list"])
    assert args.db == url and args.json
    args = top.parse_args(["tickets", "list", "--db", "sqlite:///x.db"])
    assert args.db == "sqlite:///x.db" and args.json is False


def test_workflow(url: str, tid: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "assign", tid, "李师傅", "-m", "请处理")[0] == 0
    assert cli(capsys, "comment", tid.lower(), "已联系楼上")[0] == 0
    assert cli(capsys, "status", tid, "in_progress")[0] == 0
    assert cli(capsys, "status", tid, "WAITING_RESIDENT")[0] == 0
    code, out, _ = cli(capsys, "resolve", tid, "-m", "已处理", "--json")
    assert code == 0 and json.loads(out)["status"] == "resolved"
    code, out, _ = cli(capsys, "rate", tid, "5", "-m", "满意")
    assert code == 0 and "rated 5/5" in out
    assert cli(capsys, "close", tid)[0] == 0
    assert cli(capsys, "reopen", tid, "-m", "又吵")[0] == 0
    code, out, _ = cli(capsys, "show", tid, "--json")
    data = json.loads(out)
    assert data["ticket"]["status"] == "open"
    actions = [(e["action"], e["actor"]) for e in data["events"]]
    assert actions[1] == ("assigned", "admin:test") and actions[2] == ("commented", "admin:test")
    assert [e["action"] for e in data["events"]].count("status") == 5
    code, out, _ = cli(capsys, "show", tid)
    assert code == 0 and "audit trail" in out and "李师傅" in out and "楼上每晚拖椅子" in out


def test_list_filters_and_tables(url: str, tid: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "list")
    assert code == 0 and tid in out and "tickets (2)" in out
    assert "[red]markup[/red]" in out                     # resident text is printed literally, not as markup
    code, out, _ = cli(capsys, "list", "--json", "--category", "噪音")
    assert [t["id"] for t in json.loads(out)] == [tid]
    code, out, _ = cli(capsys, "list", "--json", "--unit", "3-502")
    assert len(json.loads(out)) == 1 and json.loads(out)[0]["unit"] == "3-502"
    code, out, _ = cli(capsys, "list", "--json", "--status", "open", "--status", "assigned", "--unit", "5栋")
    assert [t["id"] for t in json.loads(out)] == [tid]
    cli(capsys, "assign", tid, "li")
    code, out, _ = cli(capsys, "list", "--json", "--assignee", "li")
    assert [t["id"] for t in json.loads(out)] == [tid]
    code, out, _ = cli(capsys, "list", "--json", "--overdue")
    assert json.loads(out) == []


def test_overdue(url: str, tid: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "overdue", "--json", "--at", "2099-01-01T10:00")
    assert code == 0 and {t["overdue"] for t in json.loads(out)} == {"first_response"} and len(json.loads(out)) == 2
    code, out, _ = cli(capsys, "overdue", "--at", "2099-01-01T10:00+08:00")
    assert code == 0 and "overdue tickets (2)" in out and "LATE" in out
    code, _, err = cli(capsys, "overdue", "--at", "tomorrow")
    assert code == 2 and "not an ISO time" in err


@pytest.mark.parametrize("argv, code, words", [
    (["show", "T-20990101-0042"], 1, "no ticket 'T-20990101-0042'"),
    (["show", "nonsense"], 1, "no ticket"),
    (["close", "{tid}"], 1, "cannot go to closed (allowed from open: assigned)"),
    (["reopen", "{tid}"], 1, "it already is"),
    (["rate", "{tid}", "5"], 1, "once it is resolved"),
    (["status", "{tid}", "finished"], 2, "unknown status 'finished'"),
    (["assign", "{tid}", "x" * 65], 2, "limit is 64"),
    (["comment", "{tid}", "x" * 2001], 2, "2001 characters long; the limit is 2000"),
    (["list", "--category", "ufo"], 2, "unknown category"),
    (["list", "--unit", "楼上"], 2, "cannot read"),
])
def test_errors_are_one_line(url: str, tid: str, capsys: pytest.CaptureFixture[str], argv: list[str], code: int,
                             words: str) -> None:
    got, out, err = cli(capsys, *[a.replace("{tid}", tid) for a in argv])
    assert got == code and words in err and err.startswith("error: ") and err.count("\n") == 1
    assert "Traceback" not in err and out == ""


def test_bad_sla_file_and_unreachable_db(url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "sla.yml"
    bad.write_text("default: {first_response: 4h, resolution: 24h}\ncategoriez: {}\n", encoding="utf-8")
    code, _, err = cli(capsys, "list", "--sla", str(bad))
    assert code == 2 and f"{bad}:2" in err and "unknown key 'categoriez'" in err
    code, _, err = cli(capsys, "list", "--db", "postgresql+psycopg://postgres:secret@127.0.0.1:1/none")
    assert code == 1 and "cannot open" in err and "secret" not in err and "127.0.0.1" in err
    code, _, err = cli(capsys, "list", "--db", "not a url")
    assert code == 1 and "not a database URL" in err


def test_default_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("ASSISTANT_TICKETS_URL", raising=False)
    assert default_url(tmp_path) == f"sqlite:///{tmp_path.resolve() / 'models' / 'tickets.db'}"
    assert load_settings(tmp_path).desk_url == default_url(tmp_path)
    monkeypatch.setenv("ASSISTANT_TICKETS_URL", "sqlite:///elsewhere.db")
    assert load_settings(tmp_path).desk_url == "sqlite:///elsewhere.db"
    assert default_url(tmp_path) != "sqlite:///elsewhere.db"             # the library default reads no variable


def test_subprocess_no_traceback(url: str, tid: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ok = subprocess.run([sys.executable, "-m", "assistant", "tickets", "show", tid], capture_output=True, text=True,
                        env=env, cwd=ROOT, timeout=60)
    assert ok.returncode == 0 and tid in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "assistant", "tickets", "status", tid, "resolved"], capture_output=True,
                         text=True, env=env, cwd=ROOT, timeout=60)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert bad.stderr.strip() == f"error: ticket {tid} is open; it cannot go to resolved (allowed from open: assigned)"
