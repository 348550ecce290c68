from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from assistant.errors import KnowledgeError
from assistant.knowledge.kb import TOPICS, load

from .conftest import MINI_KB, ROOT, write_kb


def run_check(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "assistant", "kb", "check", "--dir", str(folder)],
                          capture_output=True, text=True, cwd=ROOT, check=False)


def test_the_estate_knowledge_base_is_valid_and_broad() -> None:
    kb = load(ROOT / "knowledge")
    assert len(kb.entries) >= 120
    per_topic = {t: sum(e.topic == t for e in kb.entries) for t in TOPICS}
    assert all(n >= 8 for n in per_topic.values()), per_topic
    assert kb.items is not None and len(kb.items.items) >= 300
    assert all(len(e.questions) >= 3 for e in kb.entries)
    names = {n for it in kb.items.items for n in (it.name, *it.aliases)}
    for item in ("电池", "过期药", "外卖餐盒", "大骨头", "奶茶杯", "猫砂", "榴莲壳"):
        assert item in names, item


def test_contacts_are_placeholders_and_rendered() -> None:
    kb = load(ROOT / "knowledge")
    import re

    numbers = {k: v for k, v in kb.contacts.items() if re.search(r"\d{3,}", v)}
    assert numbers and all("占位" in v for v in numbers.values()), numbers
    assert not any("{{" in kb.render(e.answer) for e in kb.entries)


def test_kb_check_cli_reports_counts() -> None:
    proc = run_check(ROOT / "knowledge")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ok:")


def test_mini_kb_loads_with_bom(tmp_path: Path) -> None:
    folder = write_kb(tmp_path / "kb")
    body = (folder / "repair.yml").read_text(encoding="utf-8")
    (folder / "repair.yml").write_bytes(b"\xef\xbb\xbf" + body.encode("utf-8"))
    kb = load(folder)
    assert {e.id for e in kb.entries} == {"parking-rent", "parking-visitor", "garbage-kitchen",
                                          "garbage-hazardous", "repair-flow"}
    assert "0000-0000001" in kb.render(kb.by_id["repair-flow"].answer)


def _broken(tmp_path: Path, name: str, body: str) -> Path:
    files = dict(MINI_KB)
    files[name] = body
    return write_kb(tmp_path / "kb", files)


@pytest.mark.parametrize(("name", "body", "expected"), [
    ("repair.yml", """
        topic: repair
        entries:
          - id: parking-rent
            title: 另一个
            questions: [a, b]
            answer: x
            updated: 2026-10-01
        """, ["repair.yml:3", "duplicate id 'parking-rent'", "parking.yml:3"]),
    ("repair.yml", """
        topic: repair
        entries:
          - id: repair-flow
            title: 报修流程
            questions: [怎么报修, 找谁修]
            updated: 2026-10-01
        """, ["repair.yml:3", "[answer]", "missing answer"]),
    ("repair.yml", """
        topic: plumbing
        entries:
          - id: repair-flow
            title: 报修流程
            questions: [怎么报修, 找谁修]
            answer: x
            updated: 2026-10-01
        """, ["repair.yml:3", "[topic]", "unknown topic 'plumbing'"]),
    ("repair.yml", "topic: repair\nentries:\n  - id: x\n    title: [unclosed\n", ["repair.yml:", "bad YAML"]),
    ("repair.yml", """
        topic: repair
        entries:
          - id: repair-flow
            title: 报修流程
            questions: [怎么报修, 找谁修]
            answer: 打 {{nobody_phone}}
            updated: 2026-10-01
        """, ["repair.yml:3", "{{nobody_phone}}"]),
    ("repair.yml", """
        topic: repair
        entries:
          - id: repair-flow
            title: 报修流程
            questions: [怎么报修, 找谁修]
            answer: x
            updated: 昨天
            colour: red
        """, ["repair.yml:3", "[updated]", "[colour]", "unknown field 'colour'"]),
    ("garbage_items.yml", """
        id: garbage-items
        title: 速查表
        updated: 2026-10-01
        categories:
          有害垃圾: {bin: 红色桶, how: 轻放}
        items:
          - {name: 电池, category: 有害垃圾}
          - {name: 电池, category: 有害垃圾}
          - {name: 鱼骨, category: 厨房垃圾}
        """, ["garbage_items.yml:8", "also used at line 7", "unknown category '厨房垃圾'"]),
])
def test_kb_check_names_file_line_and_field(tmp_path: Path, name: str, body: str, expected: list[str]) -> None:
    folder = _broken(tmp_path, name, body)
    with pytest.raises(KnowledgeError):
        load(folder)
    proc = run_check(folder)
    assert proc.returncode != 0
    for fragment in expected:
        assert fragment in proc.stderr, (fragment, proc.stderr)


def test_not_utf8_is_reported(tmp_path: Path) -> None:
    folder = write_kb(tmp_path / "kb")
    (folder / "repair.yml").write_bytes("topic: repair\nentries: []\n# 报修".encode("gbk"))
    proc = run_check(folder)
    assert proc.returncode != 0 and "repair.yml" in proc.stderr and "UTF-8" in proc.stderr


def test_missing_folder_is_an_error(tmp_path: Path) -> None:
    proc = run_check(tmp_path / "nope")
    assert proc.returncode != 0 and "not found" in proc.stderr
