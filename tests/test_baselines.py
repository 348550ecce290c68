"""The baselines of `bench baselines`: nearest labelled text (BM25, dense) on a small knowledge base,
thresholds fitted without the case file, and the Rasa FAQ-recipe project."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml

from assistant.devtools import baselines as bl
from assistant.knowledge.index import build as build_index
from assistant.knowledge.kb import load as load_kb

NLU = """\
version: "3.1"
nlu:
- intent: faq_parking
  examples: |
    - 车位月租多少
- intent: complain
  examples: |
    - 我要投诉楼上噪音
    - 投诉邻居乱堆杂物
    - 我要投诉保洁不打扫
    - 楼上[5-101](unit)半夜噪音我要投诉
- intent: request_human
  examples: |
    - 转人工
    - 我要找管理员
    - 叫人工客服来
- intent: greet
  examples: |
    - 你好
    - 您好呀
    - 哈喽你好
- intent: out_of_scope
  examples: |
    - 今天股票行情怎么样
    - 帮我写一首诗
    - 股票推荐一只
    - 明天天气预报
- intent: EXTERNAL_csat
  examples: |
    - EXTERNAL_csat
"""


@pytest.fixture
def project(tmp_path: Path, mini_kb_dir: Path) -> Path:
    (tmp_path / "nlu_data").mkdir()
    (tmp_path / "nlu_data" / "nlu.yml").write_text(NLU, encoding="utf-8")
    return tmp_path


def test_labelled_texts_from_knowledge_and_nlu_data(project: Path, mini_kb_dir: Path) -> None:
    kb = load_kb(mini_kb_dir)
    kb_texts = bl.kb_examples(kb)
    assert ("车位怎么租", bl.Label("answer", "parking", "parking-rent")) in kb_texts
    assert len(kb_texts) == sum(1 + len(e.questions) for e in kb.entries)
    nlu = bl.nlu_examples(project)
    routes = {t: lab.route for t, lab in nlu}
    assert routes["转人工"] == "handoff" and routes["你好"] == "chitchat" and routes["帮我写一首诗"] == "fallback"
    assert routes["楼上5-101半夜噪音我要投诉"] == "ticket"        # entity markup stripped
    assert "车位月租多少" not in routes and "EXTERNAL_csat" not in routes   # FAQ and external intents left out


def test_bm25_baseline_routes_and_topics(project: Path, mini_kb_dir: Path) -> None:
    base, fit = bl.bm25_baseline(load_kb(mini_kb_dir), project)
    assert fit["loo_texts"] == len(bl.kb_examples(load_kb(mini_kb_dir))) + 14
    assert 0 <= fit["loo_accuracy"] <= 1
    r = base.ask("地下车位怎么租用")
    assert (r.route, r.topic, r.intent) == ("answer", "parking", "parking-rent")
    assert base.ask("有害垃圾应该扔哪个桶").topic == "garbage"
    assert base.ask("我要投诉楼下噪音").route == "ticket"
    assert base.ask("转人工").route == "handoff"
    assert base.ask("量子计算机原理").route == "fallback"        # no shared term at all
    assert r.confidence is None                                 # BM25 scores are not probabilities


def test_dense_baseline_reuses_the_index_and_caches_nlu_vectors(project: Path, mini_kb_dir: Path,
                                                                hash_embedder, tmp_path: Path) -> None:
    kb = load_kb(mini_kb_dir)
    index, _ = build_index(kb, hash_embedder)
    calls = hash_embedder.calls
    base, fit = bl.dense_baseline(kb, project, index, hash_embedder, tmp_path / "cache")
    assert hash_embedder.calls == calls + 1          # only the NLU examples were encoded
    assert len(base.labels) == len(index.docs) + 14 and 0 <= fit["loo_accuracy"] <= 1
    again, fit2 = bl.dense_baseline(kb, project, index, hash_embedder, tmp_path / "cache")
    assert again.labels == base.labels
    assert hash_embedder.calls == calls + 1 and fit2 == fit   # from the cache
    r = base.ask("厨余垃圾几点扔呢")
    assert (r.route, r.topic) == ("answer", "garbage") and 0 < (r.confidence or 0) <= 1.0001
    assert base.ask("转人工吧").route == "handoff"


def test_threshold_is_fitted_on_leave_one_out() -> None:
    labels = [bl.Label("answer", "parking", "a"), bl.Label("answer", "parking", "a"),
              bl.Label("fallback", None, "out_of_scope"), bl.Label("fallback", None, "out_of_scope")]

    class Fixed:
        def scores(self, queries):
            raise AssertionError("not used")

    base = bl.NearestBaseline("t", labels, Fixed())
    # rows 0/1 (answers) find each other at 0.9; the out-of-scope rows' best other doc is an answer at 0.3
    s = np.array([[1, .9, .1, .1], [.9, 1, .2, .2], [.3, .1, 1, .1], [.3, .2, .1, 1]], dtype=np.float32)
    fit = base.fit_threshold(s, [0, 1, 2, 3])
    assert fit["loo_accuracy"] == 1.0 and 0.3 < base.threshold <= 0.9
    assert base.decide(np.array([.95, .2, .1, .1])).route == "answer"
    assert base.decide(np.array([.25, .2, .1, .1])).route == "fallback"


def test_faq_project_has_a_retrieval_intent_per_entry(project: Path, mini_kb_dir: Path) -> None:
    kb = load_kb(mini_kb_dir)

    class S:            # what faq_project reads of the settings
        root = project

    dest = bl.faq_project(S(), kb, project / "faq")  # type: ignore[arg-type]
    nlu = yaml.safe_load((dest / "nlu.yml").read_text(encoding="utf-8"))["nlu"]
    intents = {b["intent"]: b["examples"] for b in nlu}
    assert {f"faq/{e.id}" for e in kb.entries} <= set(intents)
    assert "- 车位怎么租\n" in intents["faq/parking-rent"] and "- 如何租用小区车位\n" in intents["faq/parking-rent"]
    assert {"complain", "request_human", "greet", "out_of_scope"} <= set(intents)
    assert not any(i.startswith(("faq_", "EXTERNAL")) for i in intents)
    examples = [ln for b in nlu for ln in b["examples"].splitlines()]
    assert len(examples) == len(set(examples))                         # no example under two intents
    domain = yaml.safe_load((dest / "domain.yml").read_text(encoding="utf-8"))
    assert set(domain["responses"]) == {f"utter_faq/{e.id}" for e in kb.entries} and "faq" in domain["intents"]
    config = yaml.safe_load((dest / "config.yml").read_text(encoding="utf-8"))
    names = [c["name"] for c in config["pipeline"]]
    assert "ResponseSelector" in names and "JiebaTokenizer" in names


def test_moderation_in_front_of_a_baseline() -> None:
    from assistant.channels.client import Reply

    seen: list[str] = []

    def ask(text: str) -> Reply:
        seen.append(text)
        return Reply("answer", [], topic="parking")

    front = bl.moderated(ask)
    assert front("高价回收黄金，欢迎私聊 微信 gold888").route == "moderation"
    assert front("车位怎么租").route == "answer" and seen == ["车位怎么租"]


def test_faq_runner_is_plain_python_310() -> None:
    """rasa_parse.py runs in the Rasa environment: no project imports."""
    src = Path(bl.__file__).with_name("rasa_parse.py").read_text(encoding="utf-8")
    assert "from assistant" not in src and "import assistant" not in src
    compile(textwrap.dedent(src), "rasa_parse.py", "exec")
