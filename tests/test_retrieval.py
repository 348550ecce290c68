from __future__ import annotations

from pathlib import Path

import numpy as np

from assistant.knowledge.calibrate import calibrate, held_out
from assistant.knowledge.index import DenseIndex, build
from assistant.knowledge.kb import load
from assistant.knowledge.retrieval import Calibration, ItemMatcher, Retriever

from .conftest import HashEmbedder


def _retriever(folder: Path, emb: HashEmbedder, index_dir: Path | None = None) -> Retriever:
    kb = load(folder)
    index, _ = build(kb, emb, index_dir)
    return Retriever(kb, index, emb)


def test_hybrid_finds_the_right_entry(mini_kb_dir: Path, hash_embedder: HashEmbedder) -> None:
    r = _retriever(mini_kb_dir, hash_embedder)
    assert r.search("车位可以租吗").top.entry.id == "parking-rent"
    assert r.search("湿垃圾几点丢").top.entry.id == "garbage-kitchen"
    assert r.search("水龙头坏了怎么办").top.entry.id == "repair-flow"


def test_modes_differ_and_bm25_uses_jieba_terms(mini_kb_dir: Path, hash_embedder: HashEmbedder) -> None:
    r = _retriever(mini_kb_dir, hash_embedder)
    dense, lex = r.raw_scores("访客车辆怎么登记")
    assert lex.argmax() == r._row["parking-visitor"]
    assert r.rank(dense, lex, None, mode="bm25").top.entry.id == "parking-visitor"
    assert r.seg.terms("访客车辆怎么登记") and "怎么" not in r.seg.terms("访客车辆怎么登记")


def test_topic_hint_boosts_its_entries(mini_kb_dir: Path, hash_embedder: HashEmbedder) -> None:
    r = _retriever(mini_kb_dir, hash_embedder)
    dense, lex = r.raw_scores("在哪里")
    plain = r.rank(dense, lex, None, k=5)
    boosted = r.rank(dense, lex, "repair", k=5)
    assert boosted.top.entry.topic == "repair"
    assert boosted.hits[0].score >= plain.hits[0].score


def test_index_is_persisted_and_rebuilt_incrementally(tmp_path: Path, mini_kb_dir: Path) -> None:
    emb = HashEmbedder()
    kb = load(mini_kb_dir)
    index, encoded = build(kb, emb, tmp_path / "idx")
    assert encoded == len(index.docs) and (tmp_path / "idx" / "dense.faiss").exists()
    again, encoded2 = build(kb, HashEmbedder(), tmp_path / "idx")
    assert encoded2 == 0 and np.allclose(again.vectors, index.vectors)
    # Change one answer: only that passage is encoded again.
    path = mini_kb_dir / "repair.yml"
    path.write_text(path.read_text(encoding="utf-8").replace("或在小程序报修", "或到前台报修"), encoding="utf-8")
    emb3 = HashEmbedder()
    changed, encoded3 = build(load(mini_kb_dir), emb3, tmp_path / "idx")
    assert encoded3 == 1 and "前台" in emb3.encoded[0]
    assert DenseIndex.load(tmp_path / "idx").docs == changed.docs


def test_a_different_model_reencodes_everything(tmp_path: Path, mini_kb_dir: Path) -> None:
    kb = load(mini_kb_dir)
    build(kb, HashEmbedder(), tmp_path / "idx")
    other = HashEmbedder()
    other.name = "other-model"
    _, encoded = build(kb, other, tmp_path / "idx")
    assert encoded > 0


def test_item_matcher_prefers_the_longest_name(mini_kb_dir: Path) -> None:
    kb = load(mini_kb_dir)
    m = ItemMatcher(kb.items)
    assert m.match("大骨头是什么垃圾", "garbage").name == "大骨头"
    assert m.match("鸡骨头扔哪个桶", None).name == "骨头"
    assert m.match("干电池属于什么", "garbage").name == "电池"
    # Without a garbage intent or a disposal cue, an item word is not a garbage question.
    assert m.match("电池车在哪停", "parking") is None


def test_calibration_holds_out_questions_and_fits(mini_kb_dir: Path, hash_embedder: HashEmbedder) -> None:
    kb = load(mini_kb_dir)
    sub, asked = held_out(kb)
    assert len(asked) == len(kb.entries)
    for q, eid, _ in asked:
        assert q not in sub.by_id[eid].questions
    index, _ = build(kb, hash_embedder)
    cal = calibrate(kb, index, hash_embedder, ["今天天气怎么样", "讲个笑话", "股票什么时候涨"])
    assert cal.report["held_out_questions"] == len(asked)
    assert 0.0 <= cal.probability([0.9, 0.3, 0.95, 0.5]) <= 1.0
    path = mini_kb_dir.parent / "cal.json"
    cal.save(path)
    assert Calibration.load(path).coef == cal.coef
