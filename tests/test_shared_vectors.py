"""The action server takes the e5 query vector Rasa sent for the message's text, only for that text."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import actions
from assistant.dialogue.complaint import CategoryGuesser
from assistant.dialogue.engine import Engine, State
from assistant.dialogue.router import NLU, RouterModel
from assistant.knowledge.index import build
from assistant.knowledge.kb import load
from assistant.knowledge.rerank import DEFAULT_PATH, AnswerModel
from assistant.knowledge.retrieval import Calibration, Retriever
from assistant.knowledge.shared import (
    KEY,
    SharedEmbedder,
    given_by_rasa,
    pack,
    retrieval_text,
    searched_texts,
    unpack,
)
from assistant.text.normalize import prepare

from .conftest import HashEmbedder

MODEL = "m-test"


class NoE5:
    """An inner embedder that must not run."""

    name = "hash-test"

    def encode_queries(self, texts):
        raise AssertionError(f"e5 ran for {len(texts)} query texts")

    def encode_passages(self, texts):
        raise AssertionError(f"e5 ran for {len(texts)} passages")


def unit(seed: int, dim: int = 512) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=dim).astype(np.float32)
    return v / np.linalg.norm(v)


# -- the wire format ------------------------------------------------------------------------------

def test_pack_round_trip_is_close_and_bound_to_text_and_model() -> None:
    v, w = unit(1, 384), unit(7, 384)
    data = pack({"车位怎么租": v, "车位": w}, MODEL)
    got = unpack(data, ["车位怎么租", "车位"], MODEL, dim=384)
    assert set(got) == {"车位怎么租", "车位"}
    assert float(np.abs(got["车位怎么租"] - v).max()) < 1e-5 and float(np.abs(got["车位"] - w).max()) < 1e-5
    assert unpack(data, ["车位怎么租?"], MODEL) == {}          # another text
    assert unpack(data, ["车位怎么租"], "other-model") == {}     # another export or prefix
    assert unpack(data, ["车位怎么租"], None) == {}              # the action server runs another embedder
    assert unpack(data, ["车位怎么租"], MODEL, dim=512) == {}
    bad = {"model": MODEL, "vectors": [{**data["vectors"][0], "v": "not base64!"}, {**data["vectors"][1], "s": "x"}]}
    assert unpack(bad, ["车位怎么租", "车位"], MODEL) == {}


def test_given_by_rasa_keys_the_vectors_by_the_texts_retrieval_embeds() -> None:
    text = "垃圾几点扔😀" + "啊" * 200          # emoji and longer than retrieval reads
    target = retrieval_text(text)
    assert target != text and "😀" not in target and len(target) <= 160
    v = unit(2)
    assert set(given_by_rasa({"text": text, KEY: pack({target: v}, MODEL)}, MODEL)) == {target}
    assert given_by_rasa({"text": text, KEY: pack({text: v}, MODEL)}, MODEL) == {}   # the DIET text is not searched
    assert given_by_rasa({"text": text}, MODEL) == {}
    # a two-part question's parts and a follow-up's subject are searched too
    assert searched_texts("能按年交吗，有没有折扣") == ["能按年交吗,有没有折扣", "能按年交吗", "有没有折扣"]
    assert searched_texts("那废灯泡呢？") == ["那废灯泡呢?", "废灯泡"]
    assert searched_texts("车位怎么租") == ["车位怎么租"]


def test_retrieval_text_is_what_the_retriever_embeds(mini_kb_dir: Path) -> None:
    kb = load(mini_kb_dir)
    emb = HashEmbedder()
    retriever = Retriever(kb, build(kb, emb)[0], emb)
    for text in ("车位怎么租", "垃圾几点扔😀😀", "我想问一下，" * 40 + "车位怎么租？", "ｃｈｅｗｅｉ　怎么租"):
        emb.encoded.clear()
        retriever.query(prepare(text))          # what the engine does with a message
        assert emb.encoded == [retrieval_text(text)]


# -- the embedder ---------------------------------------------------------------------------------

def test_given_vectors_replace_e5_for_exactly_those_texts() -> None:
    inner = HashEmbedder()
    shared = SharedEmbedder(inner, MODEL)
    v = unit(3)
    with shared.given({"车位怎么租": v}, "resident-1"):
        assert np.array_equal(shared.encode_queries(["车位怎么租"])[0], v)
        assert inner.encoded == []
        both = shared.encode_queries(["车位怎么租", "那停车费呢"])
        assert np.array_equal(both[0], v) and np.allclose(both[1], inner._vec("那停车费呢"))
        assert inner.encoded == ["那停车费呢"]     # only the text Rasa did not embed
    inner.encoded.clear()
    shared.encode_queries(["车位怎么租"])          # outside the turn: nothing given
    assert inner.encoded == ["车位怎么租"]


def test_kept_passages_serve_the_category_guesser_without_e5(tmp_path: Path) -> None:
    path = tmp_path / "passages.npz"
    first = SharedEmbedder(HashEmbedder(), MODEL, path)
    assert first.keep(CategoryGuesser.passages()) == len(set(CategoryGuesser.passages()))
    assert first.keep(CategoryGuesser.passages()) == 0
    later = SharedEmbedder(NoE5(), MODEL, path)      # a new action server: its e5 never runs at start
    CategoryGuesser(later).warm()
    words = CategoryGuesser.passages()[:3]
    assert np.allclose(later.encode_passages(words), HashEmbedder().encode_passages(words), atol=1e-6)
    other = HashEmbedder()
    other.name = "another-model"
    fresh = SharedEmbedder(other, MODEL, path)        # vectors of another model are not taken
    fresh.encode_passages(words)
    assert other.encoded == words


# -- the action server ------------------------------------------------------------------------------

@pytest.fixture
def shared_engine(mini_kb_dir: Path):
    kb = load(mini_kb_dir)
    inner = HashEmbedder()
    index, _ = build(kb, inner)
    inner.encoded.clear()
    shared = SharedEmbedder(inner, MODEL)
    engine = Engine(kb, Retriever(kb, index, shared, calibration=Calibration(answer_at=0.0)),
                    router=RouterModel.default())
    searched: list[np.ndarray] = []
    search = engine.retriever.index.search

    def record(qvec: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        searched.append(np.array(qvec))
        return search(qvec, k)

    engine.retriever.index.search = record  # type: ignore[method-assign]
    actions.set_engine(engine)
    yield engine, inner, searched
    actions.set_engine(None)


def tracker(text: str, shared: dict | None) -> Tracker:
    message = {"text": text, "intent": {"name": "faq_parking", "confidence": 0.9}, "entities": [],
               "intent_ranking": [{"name": "faq_parking", "confidence": 0.9}]}
    if shared is not None:
        message[KEY] = shared
    return Tracker.from_dict({"sender_id": "resident-1", "slots": {}, "latest_message": message, "events": [],
                              "paused": False, "followup_action": None, "active_loop": {},
                              "latest_action_name": "action_listen"})


def test_the_action_searches_with_the_vector_rasa_sent(shared_engine) -> None:
    _, inner, searched = shared_engine
    text = "车位怎么租"
    sent = unit(4)           # not the inner embedder's vector: only Rasa's vector can give it
    actions.ActionAnswer().run(CollectingDispatcher(), tracker(text, pack({retrieval_text(text): sent}, MODEL)), {})
    assert searched, "the turn searched the index"
    assert np.allclose(searched[0], sent, atol=1e-5)
    assert retrieval_text(text) not in inner.encoded


def test_a_vector_of_another_text_is_not_used(shared_engine) -> None:
    _, inner, searched = shared_engine
    text = "车位怎么租"
    actions.ActionAnswer().run(CollectingDispatcher(), tracker(text, pack({"怎么报修": unit(5)}, MODEL)), {})
    assert np.allclose(searched[0], inner._vec(retrieval_text(text)), atol=1e-6)
    assert inner.encoded[0] == retrieval_text(text)


def test_a_vector_of_another_model_is_not_used(shared_engine) -> None:
    _, inner, searched = shared_engine
    text = "车位怎么租"
    actions.ActionAnswer().run(CollectingDispatcher(), tracker(text, pack({text: unit(6)}, "int8-export")), {})
    assert np.allclose(searched[0], inner._vec(text), atol=1e-6)


def test_a_two_part_question_and_a_follow_up_need_no_e5_when_rasa_sent_their_texts(shared_engine) -> None:
    engine, inner, searched = shared_engine
    engine.retriever.answer_model = AnswerModel.load(DEFAULT_PATH)     # the parts are searched with it only
    assert engine.retriever.answer_model is not None
    shared = engine.retriever.embedder
    two = "有害垃圾扔哪,厨余垃圾几点扔"
    with shared.given({t: inner._vec(t) for t in searched_texts(two)}, "resident-1"):
        turn = engine.respond(two, NLU.of("faq_garbage"), State())
        engine._other_part(turn, prepare(two), "garbage", engine.kb.by_id["garbage-kitchen"])
    assert len(searched) >= 3 and inner.encoded == [], f"e5 ran for {inner.encoded}"
    searched.clear()
    follow = "那废电池呢"
    with shared.given({t: inner._vec(t) for t in searched_texts(follow)}, "resident-1"):
        engine.respond(follow, NLU(), State(last_topic="garbage", last_entry="garbage-hazardous"))
    assert searched, "the follow-up searched"
    # only a search with the last entry's title, which Rasa cannot know, may run e5 here
    assert all(t.startswith("废电池 ") for t in inner.encoded), inner.encoded
