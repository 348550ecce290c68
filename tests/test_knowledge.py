from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from assistant.errors import KnowledgeError
from assistant.knowledge.consistency import check
from assistant.knowledge.kb import EXAMPLE_NOTE, TOPICS, KnowledgeBase, load

from .conftest import DATA, MINI_KB, ROOT, write_kb

FIXTURES = DATA / "kb_contradictions"
# a phone as residents dial it: landline with area code, mobile, or a short service number (95xxx, 12345)
PHONE = re.compile(r"(?<!\d)(0\d{2,3}-?\d{7,8}|1[3-9]\d{9}|\d{4}-\d{7}|9\d{4,5}|12\d{3})(?!\d)")


@pytest.fixture(scope="module")
def shipped() -> KnowledgeBase:
    return load(ROOT / "knowledge")


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


def test_contacts_have_a_phone_shape_and_everything_renders() -> None:
    kb = load(ROOT / "knowledge")
    phones = {k: v for k, v in kb.contacts.items() if k.endswith(("_phone", "_hotline", "_service"))}
    assert len(phones) >= 20
    for key, value in phones.items():
        assert PHONE.search(value), (key, value)
    assert not any("{{" in kb.render(e.answer) or "{{" in kb.render(e.title) for e in kb.entries)


def _real_estate(tmp_path: Path) -> Path:
    """The shipped knowledge base after an estate filled in its own data: real numbers, no marks."""
    folder = tmp_path / "kb"
    shutil.copytree(ROOT / "knowledge", folder)
    n = iter(range(10_000))
    contacts = folder / "contacts.yml"
    text = re.sub(r'"0000-00000(\d\d)（[^"]*）"', lambda m: f'"021-5{next(n):03d}{m.group(1)}00"',
                  contacts.read_text(encoding="utf-8"))
    text = re.sub(r"\{value: (\"[^\"]*\"), example: true\}", r"\1", text)
    contacts.write_text(re.sub(r"（[^（）\n]*占位[^（）\n]*）", "", text), encoding="utf-8")
    facts = folder / "facts.yml"
    facts.write_text(facts.read_text(encoding="utf-8").replace("    example: true\n", ""), encoding="utf-8")
    return folder


def test_real_numbers_pass_and_examples_are_listed_until_replaced(tmp_path: Path) -> None:
    shipped = check(load(ROOT / "knowledge"))
    listed = {f.key for f in shipped.of("example")}
    assert {"property_phone", "property_address", "official_app", "official_account"} <= listed
    assert any(f.entry == "merchants-locksmith" for f in shipped.of("example"))

    kb = load(_real_estate(tmp_path))
    assert not any("占位" in v for k, v in kb.contacts.items() if k not in kb.facts)
    assert kb.contacts["property_phone"].startswith("021-5")
    report = check(kb)
    assert not report.of("contradiction") and not report.of("stale")
    left = report.of("example")          # only the entries naming made-up merchants stay marked
    assert len(left) >= 18 and all(f.key == "" and kb.by_id[f.entry].example for f in left), left


def test_the_shipped_knowledge_base_contradicts_itself_nowhere_and_is_current() -> None:
    report = check(load(ROOT / "knowledge"))
    assert report.of("contradiction") == [] and report.of("stale") == []
    raw = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "knowledge").glob("*.yml")
                    if p.name not in ("facts.yml",))
    answers = [e.answer for e in load(ROOT / "knowledge").entries]
    assert not any("3号楼一楼" in a for a in answers)
    assert "公安备案" not in raw


@pytest.mark.parametrize(("fixture", "key"), [
    ("neighborhood-center", "neighborhood_center"),
    ("oily-kitchen-paper", "item:厨房纸"),
    ("payment-channels", "payment_channels"),
    ("verify-collector-call", "verify_payment_call"),
    ("square-activity-hours", "square_activity_hours"),
    ("unregistered-visitor-car", "visitor_car_unregistered"),
    ("charging-bay", "charging_bay_rule"),
    ("ground-stop", "ground_stop_limit"),
    ("tenant-nickname", "nickname_format"),
    ("removal-steps", "group_rule_steps"),
    ("access-card-fee", "access_card_fee"),
    ("property-hours", "property_hours"),
])
def test_each_kind_of_contradiction_is_caught_when_reintroduced(tmp_path: Path, shipped: KnowledgeBase,
                                                                fixture: str, key: str) -> None:
    # the fixture's entry beside the shipped facts, contacts and item table (as if added to knowledge/)
    folder = tmp_path / "kb"
    folder.mkdir()
    for name in ("contacts.yml", "facts.yml"):
        shutil.copy(ROOT / "knowledge" / name, folder / name)
    shutil.copy(FIXTURES / f"{fixture}.yml", folder / "zz-fixture.yml")
    added = load(folder).entries
    kb = KnowledgeBase(entries=[*shipped.entries, *added], items=shipped.items, contacts=shipped.contacts,
                       facts=shipped.facts)
    found = check(kb).of("contradiction")
    assert [(f.entry, f.key) for f in found] == [(f"fixture-{fixture}", key)], found
    assert found[0].path.endswith("zz-fixture.yml") and found[0].line == 4


def test_kb_check_cli_fails_on_a_contradiction_naming_file_line_and_fact(tmp_path: Path) -> None:
    folder = tmp_path / "kb"
    shutil.copytree(ROOT / "knowledge", folder)
    shutil.copy(FIXTURES / "square-activity-hours.yml", folder / "zz-fixture.yml")
    proc = run_check(folder)
    assert proc.returncode == 1
    assert "zz-fixture.yml:4 [square_activity_hours]" in proc.stderr and "19:00-21:00" in proc.stderr
    assert "1 contradiction(s)" in proc.stderr


STALE = """
    topic: community
    entries:
      - id: autumn-fair
        title: 秋季市集
        questions: [秋季市集哪天, 市集在哪]
        answer: 10月11日（周日）9:00-11:30 秋季市集，中心广场。
        updated: 2026-10-01
      - id: winter-fair
        title: 冬季市集
        questions: [冬季市集哪天, 冬天有市集吗]
        answer: 12月13日（周日）9:00-11:30 冬季市集，中心广场。
        updated: 2026-11-20
        valid_until: 2026-12-13
      - id: spring-fair
        title: 春季市集
        questions: [春季市集哪天, 春天有市集吗]
        answer: 2027年3月14日 春季市集，中心广场。
        updated: 2026-11-20
        valid_from: 2027-02-01
        valid_until: 2027-03-14
    """


def test_stale_entries_are_flagged_and_never_answered(tmp_path: Path) -> None:
    folder = _broken(tmp_path, "community.yml", STALE)
    kb = load(folder, today=dt.date(2026, 12, 1))
    assert "winter-fair" in kb.by_id and "spring-fair" not in kb.by_id     # not yet valid: not answered
    stale = {f.entry: f.message for f in check(kb, today=dt.date(2026, 12, 1)).of("stale")}
    assert set(stale) == {"autumn-fair"} and "10月11日" in stale["autumn-fair"]

    later = load(folder, today=dt.date(2026, 12, 14))                       # past valid_until
    assert "winter-fair" not in later.by_id and "winter-fair" in {e.id for e in later.stale}
    assert "winter-fair" in {f.entry for f in check(later, today=dt.date(2026, 12, 14)).of("stale")}
    proc = subprocess.run([sys.executable, "-m", "assistant", "kb", "check", "--dir", str(folder),
                           "--today", "2026-12-14"], capture_output=True, text=True, cwd=ROOT, check=False)
    assert proc.returncode == 1 and "winter-fair" in proc.stderr and "valid_until 2026-12-13" in proc.stderr


def test_example_entries_tell_residents_they_are_examples() -> None:
    kb = load(ROOT / "knowledge")
    merchants = [e for e in kb.entries if e.topic == "merchants" and e.id != "merchants-join"]
    assert merchants and all(e.example and kb.render(e.answer).endswith(EXAMPLE_NOTE) for e in merchants)
    assert kb.by_id["parking-car-wash"].example           # a made-up merchant outside merchants.yml
    assert not any(EXAMPLE_NOTE in e.answer for e in kb.entries if not e.example)


NEW_GUIDE = ("community-fixed-time-notices", "community-group-tags", "community-offline-meeting",
             "community-member-cleanup", "community-quarterly-evaluation", "safety-children-emergency-contacts",
             "safety-fake-prize-scam", "safety-investment-scam")
COLLOQUIAL = re.compile(r"[咋啥伐啊呀嘛呢吧咯]|整|娃|扯皮|不咋|登级")


def test_the_missing_guide_entries_exist_with_colloquial_phrasings() -> None:
    kb = load(ROOT / "knowledge")
    for eid in NEW_GUIDE:
        qs = kb.by_id[eid].questions
        informal = [q for q in qs if COLLOQUIAL.search(q) or len(q) > 21]
        assert len(qs) >= 8 and len(informal) * 3 >= len(qs), (eid, informal)


def test_kb_check_cli_reports_counts() -> None:
    proc = run_check(ROOT / "knowledge")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ok:") and "0 contradictions, 0 stale entries" in proc.stdout


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


def test_a_fact_written_out_alike_is_a_restatement_and_a_negated_category_no_contradiction(
        tmp_path: Path, shipped: KnowledgeBase) -> None:
    folder = tmp_path / "kb"
    folder.mkdir()
    for name in ("contacts.yml", "facts.yml"):
        shutil.copy(ROOT / "knowledge" / name, folder / name)
    (folder / "x.yml").write_text(textwrap.dedent("""
        topic: community
        entries:
          - id: alike
            title: 写法相同
            questions: [问题一, 问题二]
            answer: |
              中心广场的广场舞时间为每天 7:00-8:30 和 19:00-21:00。
              大骨头不属于厨余垃圾，榴莲壳也不是湿垃圾；用过的厨房纸扔进其他垃圾桶。
            updated: 2026-12-01
        """), encoding="utf-8")
    kb = KnowledgeBase(entries=[*shipped.entries, *load(folder).entries], items=shipped.items,
                       contacts=shipped.contacts, facts=shipped.facts)
    report = check(kb)
    assert report.of("contradiction") == []
    assert [(f.entry, f.key) for f in report.of("restated") if f.entry == "alike"] == [
        ("alike", "square_activity_hours")]
