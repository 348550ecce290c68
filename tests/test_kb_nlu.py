"""The FAQ examples Rasa trains on, made from knowledge/: a capped spread of each entry's phrasings."""

from __future__ import annotations

from pathlib import Path

import yaml

from assistant.knowledge.kb import load
from assistant.runtime.setup import FAQ_EXAMPLES_PER_ENTRY, spread, write_kb_nlu
from assistant.settings import load_settings

from .conftest import ROOT


def test_spread_keeps_the_first_and_drops_near_repeats_before_other_wordings() -> None:
    texts = ["如何租用小区月租车位", "车位怎么租？", "怎么租车位", "月租车位还有空的伐",
             "我刚搬进来，想长期停车要办啥手续"]
    kept = spread(texts, 4)
    assert kept == ["如何租用小区月租车位", "车位怎么租？", "月租车位还有空的伐", "我刚搬进来，想长期停车要办啥手续"]
    assert spread(texts, 10) == texts          # fewer than n: all, in order
    assert spread(texts, 1) == texts[:1]
    assert spread([], 3) == []


def test_spread_is_in_original_order_and_has_no_duplicates() -> None:
    texts = [f"问题{i}" + "啊" * (i % 3) for i in range(12)] + ["问题0"]
    kept = spread(texts, 6)
    assert len(kept) == len(set(kept)) == 6 and kept[0] == texts[0]
    assert [texts.index(t) for t in kept] == sorted(texts.index(t) for t in kept)


def _examples(path: Path) -> dict[str, list[str]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {b["intent"]: [ln[2:] for ln in b["examples"].splitlines()] for b in data["nlu"]}


def test_each_entry_gives_at_most_the_cap_and_never_its_held_out_question() -> None:
    settings = load_settings(ROOT)
    kb = load(settings.knowledge_dir)
    examples = _examples(write_kb_nlu(settings))
    for e in kb.entries:
        pool = set(examples[f"faq_{e.topic}"])
        mine = {q for q in (e.title, *e.questions[:-1]) if " ".join(q.split()) in pool}
        assert 2 <= len(mine) <= FAQ_EXAMPLES_PER_ENTRY, (e.id, mine)
        assert e.questions[-1] not in pool or e.questions[-1] in e.questions[:-1] or e.questions[-1] == e.title, e.id


def test_train_breakdown_reads_the_component_spans_and_the_gaps_of_a_rasa_log() -> None:
    from assistant.runtime.setup import train_breakdown

    hook = "INFO     rasa.engine.training.hooks  - "
    log = (f"2026-12-01 19:03:38 INFO     rasa.cli.train  - Started validating domain and training data...\n"
           f"2026-12-01 19:04:03 {hook}Starting to train component 'JiebaTokenizer'.\n"
           f"2026-12-01 19:04:04 {hook}Finished training component 'JiebaTokenizer'.\n"
           "Epochs: 100%|██████████| 40/40\n"
           f"2026-12-01 19:04:35 {hook}Starting to train component 'DIETClassifier'.\n"
           f"2026-12-01 19:08:09 {hook}Finished training component 'DIETClassifier'.\n")
    steps = train_breakdown(log, total=300.0)
    assert steps == [("start", 25.0), ("JiebaTokenizer", 1.0), ("before DIETClassifier", 31.0),
                     ("DIETClassifier", 214.0), ("start-up and end", 300.0 - 246.0 - 25.0)]
    assert train_breakdown("no timestamps here", total=12.0) == [("rasa train", 12.0)]
