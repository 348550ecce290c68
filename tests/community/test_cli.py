"""``python -m assistant community …``: what admins do from the shell, and bad input refused with exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook
from PIL import Image

from assistant.cli.main import main


@pytest.fixture(autouse=True)
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ASSISTANT_HOME", str(tmp_path))
    monkeypatch.setenv("ASSISTANT_TICKETS_URL", f"sqlite:///{tmp_path}/t.db")
    return tmp_path


def test_signups_surveys_and_contacts_from_the_shell(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["community", "signups", "start", "group-1", "植树活动 限1人 截止12月20日"]) == 0
    assert "【接龙 #1】植树活动" in capsys.readouterr().out
    assert main(["community", "signups", "export", "1", "--format", "xlsx", "-o", str(db / "a.xlsx")]) == 0
    assert load_workbook(db / "a.xlsx").active["B2"].value == "房号"
    assert main(["community", "surveys", "create"]) == 0
    assert main(["community", "surveys", "results", "1", "--plot", str(db / "p.png")]) == 0
    assert Image.open(db / "p.png").format == "PNG"
    assert main(["community", "contacts", "add", "--unit", "3栋1单元502", "--resident", "王奶奶", "--name", "王小明",
                 "--relation", "儿子", "--phone", "13812345678", "--consent", "王奶奶本人口头同意登记"]) == 0
    capsys.readouterr()
    assert main(["community", "contacts", "list"]) == 0
    assert "3-1-502\t王奶奶\t王小明（儿子）\t13812345678" in capsys.readouterr().out


@pytest.mark.parametrize("argv, says", [
    (["community", "signups", "start", "g", "植树 限0人"], "人数上限"),
    (["community", "signups", "start", "g", "植树 截止2月30日"], "2月30日"),
    (["community", "contacts", "add", "--unit", "五号楼", "--resident", "a", "--name", "b", "--relation", "c",
      "--phone", "13812345678", "--consent", "本人同意登记联系人"], "看不懂房号"),
    (["community", "contacts", "add", "--unit", "5-101", "--resident", "a", "--name", "b", "--relation", "c",
      "--phone", "13812345678", "--consent", "同意"], "同意"),
    (["community", "help", "list", "--category", "游泳"], "unknown category"),
])
def test_bad_input_exits_2_with_the_reason(argv: list[str], says: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert says in capsys.readouterr().err


def test_a_bad_template_names_file_and_line(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = db / "s.yml"
    bad.write_text("survey:\n  title: T\n  questions:\n    - text: 好吗\n      kind: stars\n", encoding="utf-8")
    assert main(["community", "surveys", "check", str(bad)]) == 2
    assert f"{bad}:4 [kind]" in capsys.readouterr().err
