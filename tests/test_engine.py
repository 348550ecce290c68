from __future__ import annotations

from pathlib import Path

import pytest

from assistant.dialogue import replies
from assistant.dialogue.engine import Engine, State
from assistant.dialogue.router import RouterModel
from assistant.knowledge.index import build
from assistant.knowledge.kb import load
from assistant.knowledge.retrieval import Calibration, Retriever

from .conftest import HashEmbedder


def make_engine(folder: Path, answer_at: float) -> Engine:
    kb = load(folder)
    emb = HashEmbedder()
    index, _ = build(kb, emb)
    return Engine(kb, Retriever(kb, index, emb, calibration=Calibration(answer_at=answer_at)),
                  router=RouterModel.default())


@pytest.fixture
def confident(mini_kb_dir: Path) -> Engine:
    return make_engine(mini_kb_dir, answer_at=0.0)


@pytest.fixture
def unsure(mini_kb_dir: Path) -> Engine:
    return make_engine(mini_kb_dir, answer_at=1.01)


def test_answer_cites_its_source_and_fills_contacts(confident: Engine) -> None:
    turn = confident.answer("车位怎么租啊", "faq_parking", State())
    assert turn.route == "answer" and turn.topic == "parking"
    assert turn.sources[0]["id"] == "parking-rent" and turn.sources[0]["title"] == "如何租用小区车位"
    assert "0000-0000001" in turn.replies[0] and "{{" not in turn.replies[0]
    assert "来源" in turn.replies[0] and "parking-rent" in turn.replies[0]
    assert turn.state == State()


def test_garbage_items_are_answered_from_the_table(confident: Engine) -> None:
    turn = confident.answer("大骨头是什么垃圾？", "faq_garbage", State())
    assert turn.route == "answer" and turn.topic == "garbage"
    assert turn.sources[0]["id"] == "garbage-items#大骨头"
    assert "其他垃圾" in turn.replies[0] and "难腐烂" in turn.replies[0]


def test_unsure_retrieval_asks_which_entry_then_takes_the_choice(unsure: Engine) -> None:
    turn = unsure.answer("车子的事情", "faq_parking", State())
    assert turn.route == "fallback" and turn.topic == "parking"
    assert len(turn.state.pending) == 3 and turn.state.misses == 1
    assert all(f"{i}." in turn.replies[0] for i in (1, 2, 3))
    chosen = turn.state.pending[1]
    picked = unsure.fallback("2", turn.state)
    assert picked.route == "answer" and picked.sources[0]["id"] == chosen
    assert picked.state.misses == 0
    by_title = unsure.answer(unsure.kb.by_id[chosen].title, "faq_parking", turn.state)
    assert by_title.sources[0]["id"] == chosen
    picked_cn = unsure.chitchat("affirm", "第一个", turn.state)
    assert picked_cn.sources[0]["id"] == turn.state.pending[0]


def test_second_miss_offers_a_human_and_yes_hands_off(confident: Engine) -> None:
    first = confident.fallback("今天天气怎么样", State())
    assert first.route == "fallback" and replies.OFFER_HUMAN not in first.replies
    second = confident.fallback("讲个笑话", first.state)
    assert second.replies[-1] == replies.OFFER_HUMAN and second.state.offered_human
    yes = confident.chitchat("affirm", "好的", second.state)
    assert yes.route == "handoff"
    no = confident.chitchat("deny", "不用了", second.state)
    assert no.route == "chitchat" and not no.state.offered_human


def test_a_successful_answer_resets_the_miss_count(confident: Engine) -> None:
    miss = confident.fallback("今天天气怎么样", State())
    ok = confident.answer("怎么报修", "faq_repair", miss.state)
    assert ok.route == "answer" and ok.state.misses == 0
    again = confident.fallback("讲个笑话", ok.state)
    assert replies.OFFER_HUMAN not in again.replies


@pytest.mark.parametrize(("text", "route", "reply"), [("", "fallback", replies.BLANK), ("   ", "fallback", replies.BLANK),
                                                       ("？？", "fallback", replies.BLANK), ("。。。", "fallback", replies.BLANK),
                                                       ("👍👍", "chitchat", replies.EMOJI_ONLY)])
def test_blank_messages_get_a_prompt(confident: Engine, text: str, route: str, reply: str) -> None:
    turn = confident.answer(text, "faq_parking", State(misses=1))
    assert (turn.route, turn.replies) == (route, [reply])
    assert turn.state.misses == 1                   # asked what they want: not a miss toward the handoff


def test_complaints_and_handoff_are_acknowledged(confident: Engine) -> None:
    assert confident.complain("楼上太吵了") is None                                # the form starts
    asked = confident.complain("车位怎么租？")                                      # a question: answered
    assert asked is not None and asked.route == "answer" and replies.COMPLAIN_HINT in asked.replies
    assert confident.handoff("转人工", State()).route == "handoff"


def test_state_round_trips_through_slots() -> None:
    s = State(misses=2, pending=["a", "b"], offered_human=True)
    assert State.from_slots(s.as_slots()) == s
    assert State.from_slots({}) == State()


def test_middle_confidence_answers_and_lists_alternatives(mini_kb_dir: Path) -> None:
    engine = make_engine(mini_kb_dir, answer_at=1.01)
    engine.retriever.calibration.clarify_at = 0.0
    turn = engine.answer("车位怎么租", "faq_parking", State())
    assert turn.route == "answer" and len(turn.replies) == 2
    assert replies.RELATED.split("{")[0] in turn.replies[1] and "2." in turn.replies[1]
    assert len(turn.sources) == 3 and turn.state.pending[0] == turn.sources[0]["id"]
    follow = engine.fallback("3", turn.state)
    assert follow.route == "answer" and follow.sources[0]["id"] == turn.state.pending[2]


def test_a_desk_is_a_desk_port_and_the_engine_needs_nothing_more() -> None:
    """The engine reaches the human side only through dialogue.ports (a Desk is one; so is any fake)."""
    import ast
    import inspect

    import assistant.dialogue.engine as engine_module
    from assistant.desk.desk import Desk
    from assistant.dialogue.ports import DeskPort

    tree = ast.parse(inspect.getsource(engine_module))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not any(m.startswith("assistant.desk") for m in imported), imported
    port_members = {name for name in dir(DeskPort) if not name.startswith("_")}
    used = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)
            and isinstance(n.value, ast.Attribute) and n.value.attr == "desk"}
    assert used <= port_members, used - port_members
    assert port_members <= {name for name in dir(Desk) if not name.startswith("_")} | set(Desk.__dataclass_fields__)
