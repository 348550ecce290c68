from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant.channels.base import Reply
from assistant.devtools.evaluate import Case, Outcome, entry_metrics, load_cases
from assistant.dialogue import replies
from assistant.dialogue.engine import Engine, State
from assistant.dialogue.router import RouterModel
from assistant.errors import DataError
from assistant.knowledge.fit_answer import Labelled, auc, fit_answer_model, thresholds
from assistant.knowledge.index import build
from assistant.knowledge.kb import load
from assistant.knowledge.rerank import ANSWER_FEATURES, FEATURES, AnswerModel, TermStats, bigrams
from assistant.knowledge.retrieval import Calibration, Retriever

from .conftest import HashEmbedder


def stats() -> TermStats:
    heads = [["车位", "租"], ["垃圾", "投放"]]
    bodies = [["物业", "服务中心"], ["绿色", "桶"]]
    return TermStats.build(heads, bodies, ["车位 租", "垃圾 投放"], ["物业服务中心", "绿色桶"])


def test_coverage_is_the_idf_weighted_share_of_the_query_an_entry_contains() -> None:
    s = stats()
    assert s.coverage(["车位", "租"], 0, title=True) == pytest.approx(1.0)
    assert s.coverage(["车位", "租"], 1, title=False) == 0.0
    assert 0.0 < s.coverage(["车位", "物业", "游泳池"], 0, title=False) < 1.0
    assert s.coverage(["车位", "物业"], 0, title=True) < s.coverage(["车位", "物业"], 0, title=False)


def test_unknown_is_the_share_of_the_query_no_entry_contains() -> None:
    s = stats()
    assert s.unknown(["车位", "租"]) == 0.0
    assert s.unknown(["游泳池"]) == 1.0
    assert 0.3 < s.unknown(["游泳池", "车位"]) < 0.7
    assert s.unknown([]) == 0.0
    assert bigrams("车位租") == {"车位", "位租"}


def test_threshold_is_the_lowest_confidence_with_few_wrong_answers() -> None:
    conf = np.array([0.95, 0.9, 0.8, 0.7, 0.6, 0.5])
    right = np.array([1, 1, 1, 0, 1, 0])
    assert thresholds(conf, right, 0.0) == pytest.approx(0.8)
    assert thresholds(conf, right, 0.25) == pytest.approx(0.6)
    assert auc(conf, right) == pytest.approx(7 / 8)
    assert auc(conf, np.ones(6)) is None


def test_answer_model_round_trips_and_refuses_a_wrong_shape(tmp_path: Path) -> None:
    model = AnswerModel(rerank_coef=[0.1] * len(FEATURES), rerank_mean=[0.0] * len(FEATURES),
                        rerank_scale=[1.0] * len(FEATURES), answer_coef=[1.0] * len(ANSWER_FEATURES),
                        answer_at=0.8)
    path = tmp_path / "answer.json"
    model.save(path)
    again = AnswerModel.load(path)
    assert again is not None and again.answer_at == 0.8 and again.rerank_coef == model.rerank_coef
    path.write_text('{"rerank_coef": [1.0]}', encoding="utf-8")
    assert AnswerModel.load(path) is None


def engine(folder: Path, model: AnswerModel | None) -> Engine:
    kb = load(folder)
    emb = HashEmbedder()
    index, _ = build(kb, emb)
    retriever = Retriever(kb, index, emb, calibration=Calibration(answer_at=0.0), answer_model=model)
    return Engine(kb, retriever, router=RouterModel.default())


def fixed(confidence: float) -> AnswerModel:
    """A reranker that trusts the fused score, and an answer confidence fixed at ``confidence``."""
    coef = [1.0 if f == "fused" else 0.0 for f in FEATURES]
    z = float(np.log(confidence / (1 - confidence)))
    return AnswerModel(rerank_coef=coef, rerank_mean=[0.0] * len(FEATURES), rerank_scale=[1.0] * len(FEATURES),
                       answer_coef=[0.0] * len(ANSWER_FEATURES), answer_intercept=z, answer_at=0.8, related_at=0.3)


def test_a_sure_answer_carries_its_confidence(mini_kb_dir: Path) -> None:
    turn = engine(mini_kb_dir, fixed(0.9)).answer("车位怎么租啊", "faq_parking", State())
    assert turn.route == "answer" and turn.sources[0]["id"] == "parking-rent"
    assert len(turn.sources) == 1 and turn.answer_confidence == pytest.approx(0.9)
    assert turn.meta()["answer_confidence"] == pytest.approx(0.9)


def test_an_unsure_answer_lists_the_alternatives(mini_kb_dir: Path) -> None:
    turn = engine(mini_kb_dir, fixed(0.5)).answer("车位怎么租啊", "faq_parking", State())
    assert turn.route == "answer" and turn.sources[0]["id"] == "parking-rent"
    assert len(turn.sources) == 3 and "也可能是" in turn.replies[-1]


def test_what_the_guide_does_not_contain_is_said_not_answered(mini_kb_dir: Path) -> None:
    eng = engine(mini_kb_dir, fixed(0.5))
    turn = eng.answer("小区游泳池夏天几点开放", "faq_community", State())
    assert turn.route == "fallback" and turn.replies[0].startswith(replies.NOT_IN_GUIDE[:10])
    assert len(turn.state.pending) == 3 and turn.state.misses == 1
    # the same words the guide does contain are answered with alternatives instead
    assert eng.answer("车位怎么租", "faq_parking", State()).route == "answer"


def test_a_two_part_question_gets_both_answers(mini_kb_dir: Path) -> None:
    eng = engine(mini_kb_dir, fixed(0.95))
    turn = eng.answer("车位怎么租？另外访客车辆要登记吗", "faq_parking", State())
    ids = [s["id"] for s in turn.sources]
    assert turn.route == "answer" and set(ids) == {"parking-rent", "parking-visitor"}
    assert any(r.startswith(replies.ALSO[:5]) for r in turn.replies)
    single = eng.answer("车位怎么租", "faq_parking", State())
    assert [s["id"] for s in single.sources] == ["parking-rent"]


def test_cases_take_an_expected_entry(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text("cases:\n- {text: 车位怎么租, route: answer, topic: parking, entry: parking-rent}\n"
                    "- {text: 有游泳池吗, route: fallback, entry: none}\n"
                    "- {text: 访客, route: answer, entry: [parking-visitor, parking-rent]}\n"
                    "- {text: 你好, route: chitchat}\n", encoding="utf-8")
    cases = load_cases(path)
    assert [c.entries for c in cases] == [("parking-rent",), (), ("parking-visitor", "parking-rent"), None]
    path.write_text("cases:\n- {text: a, route: answer, entry: [1]}\n", encoding="utf-8")
    with pytest.raises(DataError, match="entry"):
        load_cases(path)


def test_entry_metrics_count_wrong_answers_and_the_auc() -> None:
    def outcome(expected: tuple[str, ...], got: str | None, conf: float | None, n: int = 1) -> Outcome:
        route = "answer" if got else "fallback"
        sources = [{"id": got}] * n if got else []
        return Outcome(Case("q", ("answer",), (), 1, expected), Reply(route, [], sources=sources,
                                                                      answer_confidence=conf))

    out = [outcome(("a",), "a", 0.9), outcome(("a",), "b", 0.4), outcome(("a",), "a", 0.8, n=3),
           outcome(("a",), None, None), outcome((), "c", 0.3), outcome((), None, None)]
    m = entry_metrics(out)["entry"]
    assert m["answerable"] == 4 and m["top1_accuracy"] == 0.5 and m["answered"] == 0.75
    assert m["wrong_when_answered"] == pytest.approx(1 / 3, abs=1e-4)
    assert m["wrong_when_sure"] == 0.5 and m["answer_confidence_auc"] == 1.0
    assert m["unanswerable"] == 2 and m["unanswerable_answered"] == 0.5
    assert entry_metrics([outcome(("a",), "a", 0.9)][:0]) == {}


@pytest.mark.model
def test_the_reranker_fitted_on_the_guide_beats_the_fused_ranking() -> None:
    """On the shipped knowledge base and model: reranking the held-out phrasings (fold by fold) finds
    more right entries than the fused scores, and the answer confidence separates right from wrong."""
    from assistant.knowledge.build import load_retriever
    from assistant.settings import load_settings

    retriever = load_retriever(load_settings())
    kb = retriever.kb
    cases = [Labelled(e.questions[0], frozenset({e.id}), e.topic) for e in kb.entries[::3]]
    cases += [Labelled(t, frozenset(), None) for t in ("今天股市怎么样", "推荐一部电影", "个税怎么退")]
    model = fit_answer_model(kb, retriever.index, retriever.embedder, retriever, cases)
    assert model.ready
    assert model.report["kb_top1_reranked"] >= model.report["kb_top1_fused"]
    assert model.report["auc"] > 0.7
