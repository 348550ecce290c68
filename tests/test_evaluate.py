from __future__ import annotations

from pathlib import Path

import pytest

from assistant.channels.client import Reply
from assistant.errors import DataError
from assistant.devtools.evaluate import load_cases, run
from assistant.text.normalize import prepare

from .conftest import DATA


def test_own_eval_set_is_large_and_independent_of_training_data() -> None:
    import yaml

    from .conftest import ROOT

    cases = load_cases(DATA / "eval_cases.yml")
    assert len(cases) >= 250
    from assistant.settings import load_settings
    from assistant.runtime.setup import kb_nlu_path, write_kb_nlu

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
