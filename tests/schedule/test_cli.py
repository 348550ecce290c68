"""``python -m assistant schedule``: add/list/remove, .ics export, bad input exits 2 naming the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.cli.main import main


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path}/t.db"
    monkeypatch.setenv("ASSISTANT_TICKETS_URL", url)
    return url


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    rc = main(["schedule", *args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_posts_notices_events_round_trip(db: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rc, out, _ = run(capsys, "post", "add", "--name", "周五物业通知", "--cron", "0 18 * * 5", "--days", "workday",
                     "--template", "property_weekly", "--text", "电梯年检", "--json")
    assert rc == 0 and json.loads(out)["rule"] == "cron '0 18 * * 5'，仅工作日"
    rc, out, _ = run(capsys, "post", "list", "--json")
    (post,) = json.loads(out)
    assert post["name"] == "周五物业通知" and post["next"].endswith("18:00") and post["active"]
    assert run(capsys, "post", "remove", str(post["id"]))[0] == 0
    assert json.loads(run(capsys, "post", "list", "--json")[1])[0]["active"] is False
    assert run(capsys, "notice", "add", "--tag", "停水", "--until", "2099-12-05", "5栋停水检修")[0] == 0
    assert run(capsys, "event", "add", "--title", "亲子运动会", "--place", "中心广场", "--start", "2099-12-12 09:00",
               "--end", "2099-12-12 11:00", "--signup", "J1")[0] == 0
    ics = tmp_path / "cal.ics"
    assert run(capsys, "ics", "--out", str(ics))[0] == 0
    assert "SUMMARY:亲子运动会" in ics.read_text(encoding="utf-8")


@pytest.mark.parametrize(("args", "words"), [
    (["post", "add", "--name", "x", "--cron", "0 9 * *"], "[cron]"),
    (["post", "add", "--name", "x", "--at", "明天早上"], "[at] '明天早上' is not a date"),
    (["post", "add", "--name", "x", "--cron", "0 9 * * 1", "--days", "weekend", "--text", "x"], "[days]"),
    (["notice", "add", "--tag", "小道消息", "--until", "2099-01-01", "x"], "[tags] unknown tag #小道消息#"),
    (["notice", "add", "--tag", "停水", "--until", "下周", "x"], "[valid_until]"),
    (["event", "add", "--title", "a", "--place", "b", "--start", "2099-01-02 10:00", "--end", "2099-01-01"],
     "[end]"),
    (["event", "add", "--title", "a", "--place", "b", "--start", "2099-01-02 10:00", "--end", "2099-01-02 12:00",
      "--remind", "一小时"], "[remind]"),
    (["notice", "remove", "99"], "no notice with id '99'"),
])
def test_bad_input_exits_2_naming_the_field(db: str, capsys: pytest.CaptureFixture[str], args: list[str],
                                            words: str) -> None:
    rc, _, err = run(capsys, *args)
    assert rc == 2 and words in err, err
