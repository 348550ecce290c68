from __future__ import annotations

from pathlib import Path

import pytest

from assistant.channels.client import Reply
from assistant.devtools.evaluate import load_cases, run
from assistant.errors import DataError
from assistant.text.normalize import prepare

from .conftest import DATA


def test_own_eval_set_is_large_and_independent_of_training_data() -> None:
    import yaml

    from .conftest import ROOT

    cases = load_cases(DATA / "eval_cases.yml")
    assert len(cases) >= 250
    from assistant.runtime.setup import kb_nlu_path, write_kb_nlu
    from assistant.settings import load_settings

    settings = load_settings(ROOT)
    write_kb_nlu(settings)
    training = set()
    for path in (ROOT / "nlu_data" / "nlu.yml", kb_nlu_path(settings)):  # hand-written and from knowledge/
        nlu = yaml.safe_load(path.read_text(encoding="utf-8"))
        training |= {prepare(ln.strip()[2:].strip()) for b in nlu["nlu"] for ln in b["examples"].splitlines()
                     if ln.strip()}
    copied = [c.text for c in cases if prepare(c.text) in training]
    assert not copied, copied
    assert len({c.text for c in cases}) == len(cases)


def test_bad_cases_file_names_line_and_field(tmp_path: Path) -> None:
    p = tmp_path / "cases.yml"
    p.write_text("cases:\n- {text: 你好, route: chitchat}\n- {text: 车位, route: answr}\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        load_cases(p)
    assert "cases.yml:3" in str(err.value) and "route" in str(err.value) and "answr" in str(err.value)
    p.write_text("cases:\n- {text: [unclosed\n", encoding="utf-8")
    with pytest.raises(DataError, match="bad YAML"):
        load_cases(p)


def test_metrics(tmp_path: Path) -> None:
    p = tmp_path / "cases.yml"
    p.write_text(
        "cases:\n"
        "- {text: a, route: answer, topic: parking}\n"
        "- {text: b, route: answer, topic: [garbage, safety]}\n"
        "- {text: c, route: fallback}\n"
        "- {text: d, route: [fallback, chitchat]}\n", encoding="utf-8")
    answers = {"a": Reply("answer", ["x"], topic="parking", latency_ms=10),
               "b": Reply("answer", ["x"], topic="repair", latency_ms=20),
               "c": Reply("answer", ["x"], topic="repair", latency_ms=30),
               "d": Reply("chitchat", ["x"], latency_ms=40)}
    m = run(load_cases(p), lambda t: answers[t]).metrics()
    assert m["route_accuracy"] == 0.75 and m["topic_accuracy"] == 0.5
    assert m["out_of_scope_answered"] == 0.5
    assert m["per_route"]["answer"] == {"precision": pytest.approx(2 / 3, abs=1e-3), "recall": 1.0, "support": 2}
    assert m["confusions"] == [{"expected": "fallback", "got": "answer", "count": 1}]
    assert m["latency_ms"]["p50"] == 25.0


def test_topic_is_not_checked_when_another_accepted_route_was_taken(tmp_path: Path) -> None:
    p = tmp_path / "cases.yml"
    p.write_text("cases:\n- {text: a, route: [answer, ticket], topic: repair}\n"
                 "- {text: b, route: [answer, ticket], topic: repair}\n"
                 "- {text: c, route: answer, topic: repair}\n", encoding="utf-8")
    answers = {"a": Reply("ticket", ["x"]), "b": Reply("answer", ["x"], topic="parking"),
               "c": Reply("fallback", ["x"], topic="repair")}
    m = run(load_cases(p), lambda t: answers[t]).metrics()
    assert m["topic_cases"] == 2 and m["topic_accuracy"] == 0.5


# -- dialogues ------------------------------------------------------------------------------------

from assistant.devtools.evaluate import (  # noqa: E402
    DialogueReport,
    calibration,
    check_turn,
    load_eval_file,
    run_dialogues,
)

DIALOGUES = """\
dialogues:
- name: form
  turns:
  - {text: 我要投诉, expect: {route: ticket, ticket: false}}
  - {text: 3号楼, expect: {route: ticket, reply_contains: [3号楼, 三号楼]}}
  - {text: 是的, expect: {route: ticket, ticket: true}}
  - {text: 又来了, expect: {route: ticket, ticket: same}}
- name: question
  turns:
  - {text: 电池扔哪, expect: {route: [answer, ticket], topic: garbage}}
  - {text: 我电话13812345678, expect: {reply_not_contains: ["13812345678"]}}
- name: quiet
  turns:
  - {text: 转人工, expect: {route: handoff, quiet: false}}
  - {text: 人呢, expect: {quiet: true}}
"""


class Scripted:
    """A fake answerer: per sender, the next scripted reply; records who said what."""

    def __init__(self, replies: dict[str, list[Reply]]) -> None:
        self.replies = replies
        self.seen: list[tuple[str, str]] = []
        self.by_text: dict[str, Reply] = {}

    def __call__(self, text: str, sender: str) -> Reply:
        self.seen.append((sender, text))
        return self.by_text[text]


def _dialogue_file(tmp_path: Path, body: str = DIALOGUES) -> Path:
    p = tmp_path / "dialogues.yml"
    p.write_text(body, encoding="utf-8")
    return p


def test_dialogues_all_right_and_each_one_from_its_own_sender(tmp_path: Path) -> None:
    f = load_eval_file(_dialogue_file(tmp_path))
    assert [d.name for d in f.dialogues] == ["form", "question", "quiet"] and not f.cases
    fake = Scripted({})
    fake.by_text = {"我要投诉": Reply("ticket", ["哪一类？"]), "3号楼": Reply("ticket", ["地点：三号楼，对吗"]),
                    "是的": Reply("ticket", ["已登记 T-1"], ticket_id="T-1"),
                    "又来了": Reply("ticket", ["已追加到 T-1"], ticket_id="T-1"),
                    "电池扔哪": Reply("answer", ["有害垃圾"], topic="garbage", confidence=0.9),
                    "我电话13812345678": Reply("moderation", ["请勿发送手机号[手机号已隐藏]"]),
                    "转人工": Reply("handoff", ["已通知值班管理员"]), "人呢": Reply("handoff", [])}
    senders = iter(["s1", "s2", "s3"])
    m = run_dialogues(f.dialogues, fake, sender=lambda: next(senders)).metrics()
    assert m["dialogues"] == 3 and m["dialogue_success"] == 1.0 and m["turn_accuracy"] == 1.0, m["failures"]
    assert [s for s, _ in fake.seen] == ["s1"] * 4 + ["s2"] * 2 + ["s3"] * 2
    assert m["per_key"]["ticket"] == {"checked": 3, "accuracy": 1.0}
    assert m["calibration"]["scored"] == 1 and m["calibration"]["unscored"] == 5


@pytest.mark.parametrize("text, reply, failed", [
    ("我要投诉", Reply("answer", ["车位"], topic="parking"), "route: answer"),
    ("我要投诉", Reply("ticket", ["哪一类"], ticket_id="T-9"), "ticket: one was opened"),
    ("3号楼", Reply("ticket", ["请说一下发生了什么"]), "reply_contains: none found"),
    ("是的", Reply("ticket", ["好的"]), "ticket: none"),
    ("又来了", Reply("ticket", ["已登记 T-2"], ticket_id="T-2"), "ticket: a different one"),
    ("电池扔哪", Reply("answer", ["x"], topic="parking"), "topic: parking"),
    ("我电话13812345678", Reply("answer", ["您的电话13812345678已记下"]), "reply_not_contains: 1 found"),
    ("转人工", Reply("handoff", []), "quiet: no reply"),
    ("人呢", Reply("fallback", ["抱歉，我没有理解您的问题，请换个说法试试"]), "quiet: the bot spoke"),
])
def test_each_expect_key_fails_its_turn_and_its_dialogue(tmp_path: Path, text: str, reply: Reply,
                                                         failed: str) -> None:
    f = load_eval_file(_dialogue_file(tmp_path))
    fake = Scripted({})
    fake.by_text = {"我要投诉": Reply("ticket", ["哪一类？"]), "3号楼": Reply("ticket", ["三号楼"]),
                    "是的": Reply("ticket", ["已登记"], ticket_id="T-1"),
                    "又来了": Reply("ticket", ["已追加"], ticket_id="T-1"),
                    "电池扔哪": Reply("answer", ["有害垃圾"], topic="garbage"),
                    "我电话13812345678": Reply("moderation", ["请勿发送手机号"]),
                    "转人工": Reply("handoff", ["已通知"]), "人呢": Reply("handoff", [])}
    fake.by_text[text] = reply
    m = run_dialogues(f.dialogues, fake).metrics()
    assert m["dialogue_success"] == pytest.approx(2 / 3, abs=1e-3)
    # a wrong ticket on turn 1 or 3 also makes turn 4's `ticket: same` wrong: one or two turns missed
    assert m["turn_accuracy"] == pytest.approx((8 - len(m["failures"])) / 8, abs=1e-3) and len(m["failures"]) <= 2
    miss = m["failures"][0]
    assert miss["text"] == text and failed in miss["failed"] and miss["line"] > 2


def test_topic_not_checked_when_another_accepted_route_was_taken() -> None:
    from assistant.devtools.evaluate import Expect

    expect = Expect(routes=("answer", "ticket"), topics=("repair",))
    assert check_turn(expect, Reply("ticket", ["x"]), None) == []
    assert check_turn(expect, Reply("answer", ["x"], topic="parking"), None) == ["topic: parking"]
    assert check_turn(Expect(topics=("repair",)), Reply("ticket", ["x"]), None) == ["topic: None"]
    # a short holding line with route handoff still counts as quiet; a long one does not
    assert check_turn(Expect(quiet=True), Reply("handoff", ["管理员马上联系您"]), None) == []
    assert check_turn(Expect(quiet=True), Reply("handoff", ["管" * 200]), None) == ["quiet: the bot spoke"]
    assert check_turn(Expect(ticket="same"), Reply("ticket", ["x"], ticket_id="T-1"), None) == \
        ["ticket: no earlier ticket"]


def test_a_dialogue_that_errors_fails_with_its_reason(tmp_path: Path) -> None:
    f = load_eval_file(_dialogue_file(tmp_path))

    def ask(text: str, sender: str) -> Reply:
        if text == "3号楼":
            raise ConnectionError("rasa went away")
        return Reply("ticket", ["x"]) if text != "人呢" else Reply("handoff", [])

    report = run_dialogues(f.dialogues[:1], ask)
    m = report.metrics()
    assert m["dialogue_success"] == 0.0 and m["errored"] == 1 and m["turn_accuracy"] == 0.25
    assert "ConnectionError: rasa went away" in m["failures"][0]["error"]
    assert [x["turn"] for x in m["failures"]] == [2, 3, 4]      # the errored turn and those not run
    assert isinstance(report, DialogueReport)


@pytest.mark.parametrize("body, where, what", [
    ("dialogues:\n- name: a\n  turns:\n  - {text: 你好, expect: {route: chitchatt}}\n", ":4", "route"),
    ("dialogues:\n- name: a\n  turns:\n  - {text: 你好, expect: {reply_contain: [好]}}\n", ":4", "reply_contain"),
    ("dialogues:\n- name: a\n  turns:\n  - {text: 你好, expect: {ticket: maybe}}\n", ":4", "ticket"),
    ("dialogues:\n- name: a\n  turns:\n  - {text: 你好, expect: {quiet: 1}}\n", ":4", "quiet"),
    ("dialogues:\n- name: a\n  turns:\n  - {text: 你好}\n  - {expect: {route: chitchat}}\n", ":5", "text"),
    ("dialogues:\n- name: a\n  turns: []\n", ":2", "turns"),
    ("dialogues:\n- name: a\n  turns:\n  - {text: 你好, expect: {topic: weather}}\n", ":4", "topic"),
    ("dialogues:\n- name: a\n  turns:\n  - {text: 你好, expect: {reply_not_contains: []}}\n", ":4",
     "reply_not_contains"),
    ("dialogues: {a: 1}\n", ":1", "dialogues"),
    ("turns:\n- {text: 你好}\n", ":1", "cases:` or `dialogues:"),
])
def test_bad_dialogue_file_names_file_line_and_field(tmp_path: Path, body: str, where: str, what: str) -> None:
    p = _dialogue_file(tmp_path, body)
    with pytest.raises(DataError) as err:
        load_eval_file(p)
    assert f"dialogues.yml{where}" in str(err.value) and what in str(err.value)


def test_one_file_may_hold_cases_and_dialogues(tmp_path: Path) -> None:
    p = _dialogue_file(tmp_path, "cases:\n- {text: 你好, route: chitchat}\n" + DIALOGUES)
    f = load_eval_file(p)
    assert len(f.cases) == 1 and len(f.dialogues) == 3


def test_shared_dev_files_load() -> None:
    shared = Path("/work/shared/eval")
    if not shared.exists():
        pytest.skip("no shared dev files on this machine")
    assert load_eval_file(shared / "dev_dialogues.yml").dialogues
    assert load_eval_file(shared / "dev_cases.yml").cases


def test_calibration_bins_and_ece() -> None:
    # 10 replies at 0.95 of which 5 right, 10 at 0.15 of which 1 right: |0.5-0.95|/2 + |0.1-0.15|/2
    pairs = [(0.95, i < 5) for i in range(10)] + [(0.15, i < 1) for i in range(10)] + [(None, True)]
    cal = calibration(pairs)
    assert cal["scored"] == 20 and cal["unscored"] == 1
    assert cal["ece"] == pytest.approx((0.45 + 0.05) / 2, abs=1e-4)
    by_lo = {b["lo"]: b for b in cal["bins"]}
    assert len(cal["bins"]) == 10 and by_lo[0.9]["count"] == 10 and by_lo[0.9]["accuracy"] == 0.5
    assert by_lo[0.1]["mean_confidence"] == pytest.approx(0.15) and by_lo[0.5]["count"] == 0
    assert calibration([(1.0, True), (0.0, False)])["ece"] == 0.0      # the edges fall in the end bins
    assert calibration([])["ece"] is None


def test_single_turn_metrics_carry_calibration(tmp_path: Path) -> None:
    p = tmp_path / "cases.yml"
    p.write_text("cases:\n- {text: a, route: answer, topic: parking}\n- {text: b, route: ticket}\n",
                 encoding="utf-8")
    answers = {"a": Reply("answer", ["x"], topic="parking", confidence=0.8),
               "b": Reply("answer", ["x"], topic="repair", confidence=0.8)}
    m = run(load_cases(p), lambda t: answers[t]).metrics()
    assert m["calibration"]["ece"] == pytest.approx(0.3) and m["calibration"]["scored"] == 2


@pytest.mark.services
def test_eval_runs_dialogues_against_the_real_servers(served, tmp_path: Path) -> None:
    """Two dialogues; the first leaves its sender with a human admin, so the second is only answered
    because each dialogue has its own sender."""
    import json
    import subprocess
    import sys

    from .conftest import ROOT

    p = _dialogue_file(tmp_path, """\
dialogues:
- name: human
  turns:
  - {text: 我要找人工客服, expect: {route: handoff, quiet: false}}
  - {text: 在吗在吗, expect: {quiet: true}}
- name: garbage
  turns:
  - {text: 厨余垃圾什么时候可以扔, expect: {route: answer, topic: garbage, ticket: false}}
  - {text: 谢谢你, expect: {route: chitchat}}
""")
    settings = served[0]
    base = [sys.executable, "-m", "assistant", "--rasa-port", str(settings.rasa_port), "--action-port",
            str(settings.action_port), "eval"]
    proc = subprocess.run([*base, "--json", str(p)], capture_output=True, text=True, cwd=ROOT, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    m = json.loads(proc.stdout)
    d = m["dialogue"]
    assert (d["dialogues"], d["turns"]) == (2, 4), d
    assert d["dialogue_success"] == 1.0 and d["turn_accuracy"] == 1.0, d["failures"]
    assert m["cases"] == 0 and m["files"][0]["dialogue"]["dialogue_success"] == 1.0
    assert len(d["calibration"]["bins"]) == 10
    text = subprocess.run([*base, str(p)], capture_output=True, text=True, cwd=ROOT, timeout=300, check=False)
    assert text.returncode == 0 and "dialogue success" in text.stdout and "turn accuracy" in text.stdout
    bad = _dialogue_file(tmp_path, "dialogues:\n- name: x\n  turns:\n  - {text: 你好, expect: {rout: chitchat}}\n")
    proc = subprocess.run([*base, str(bad)], capture_output=True, text=True, cwd=ROOT, timeout=300, check=False)
    assert proc.returncode == 2 and "dialogues.yml:4" in proc.stderr and "rout" in proc.stderr
