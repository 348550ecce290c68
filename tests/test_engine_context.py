"""The engine's routed turn: elliptical follow-ups read against the last answer, fraud warnings first,
out-of-scope questions not answered from the estate's entries."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.dialogue import replies
from assistant.dialogue.engine import Engine, State
from assistant.dialogue.router import NLU, RouterModel
from assistant.knowledge.index import build
from assistant.knowledge.kb import load
from assistant.knowledge.retrieval import Calibration, Retriever

from .conftest import MINI_KB, HashEmbedder, write_kb

EXTRA = {
    "repair.yml": """
        topic: repair
        entries:
          - id: repair-flow
            title: 报修流程
            questions: [怎么报修, 水龙头坏了找谁修, 家里漏水怎么报修]
            answer: 拨打 {{property_phone}} 或在小程序报修。
            updated: 2026-10-01
          - id: repair-fees
            title: 维修收费标准
            questions: [维修要多少钱, 上门修理收费吗, 换个水龙头多少钱]
            answer: 公共部位免费，户内维修按价目表收材料费。
            updated: 2026-10-01
        """,
    "safety.yml": """
        topic: safety
        entries:
          - id: safety-fee-fraud
            title: 谨防冒充物业收费诈骗
            questions: [有人冒充物业收钱怎么办, 物业会让私下转账吗, 怎么辨别收费骗子]
            answer: 物业从不私下收款，请勿转账或透露验证码，已转账请立即报警。
            updated: 2026-10-01
            tags: [诈骗, 防骗]
        """,
}


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    kb = load(write_kb(tmp_path / "knowledge", MINI_KB | EXTRA))
    emb = HashEmbedder()
    index, _ = build(kb, emb)
    cal = Calibration(answer_at=0.0, clarify_at=0.0)
    return Engine(kb, Retriever(kb, index, emb, calibration=cal), router=RouterModel.default())


def test_an_answer_is_remembered_and_other_turns_keep_it(engine: Engine) -> None:
    first = engine.respond("家里漏水怎么报修", NLU.of("faq_repair"), State())
    assert first.route == "answer" and first.topic == "repair"
    assert (first.state.last_topic, first.state.last_entry) == ("repair", first.sources[0]["id"])
    thanks = engine.respond("谢谢", NLU.of("thank"), first.state)
    assert thanks.route == "chitchat"                       # not a question: no follow-up
    assert thanks.state.last_entry == first.state.last_entry
    assert State.from_slots(thanks.state.as_slots()).last_topic == "repair"


@pytest.mark.parametrize("intent", ["greet", "out_of_scope", "faq_parking"])
def test_a_short_follow_up_is_read_against_the_last_entry_and_says_so(engine: Engine, intent: str) -> None:
    before = engine.respond("家里漏水怎么报修", NLU.of("faq_repair"), State())
    title = engine.kb.by_id[before.state.last_entry or ""].title
    turn = engine.respond("多少钱", NLU.of(intent), before.state)
    assert turn.route == "answer" and turn.topic == "repair"
    assert turn.sources[0]["id"] == "repair-fees"
    assert turn.replies[0] == replies.ASSUMED.format(title=title)
    assert turn.state.last_entry == "repair-fees"


def test_na_x_ne_after_a_garbage_item_asks_the_item_table(engine: Engine) -> None:
    before = engine.respond("干电池是什么垃圾", NLU.of("faq_garbage"), State())
    assert before.sources[0]["id"] == "garbage-items#电池" and before.state.last_topic == "garbage"
    turn = engine.respond("那鸡骨头呢", NLU.of("greet", 0.6), before.state)
    assert turn.route == "answer" and turn.sources[0]["id"] == "garbage-items#骨头"
    assert "厨余垃圾" in turn.replies[0]


def test_without_a_previous_answer_nothing_is_assumed(engine: Engine) -> None:
    turn = engine.respond("多少钱", NLU.of("greet"), State())
    assert turn.route == "chitchat" and not any(replies.ASSUMED[:6] in r for r in turn.replies)


def test_a_new_full_question_is_not_bent_to_the_last_topic(engine: Engine) -> None:
    before = engine.respond("家里漏水怎么报修", NLU.of("faq_repair"), State())
    turn = engine.respond("车位怎么租", NLU.of("faq_parking"), before.state)
    assert turn.route == "answer" and turn.topic == "parking" and turn.sources[0]["id"] == "parking-rent"
    assert not turn.replies[0].startswith(replies.ASSUMED[:4])


def test_fraud_victims_get_the_warning_not_the_form_or_a_person(engine: Engine) -> None:
    for intent in ("complain", "request_human"):
        turn = engine.respond("有人冒充物业让我转账交钱，已经转了", NLU.of(intent), State(), sender="r-1")
        assert turn.route == "answer" and turn.topic == "safety", intent
        assert turn.sources[0]["id"] == "safety-fee-fraud" and turn.followup is None
        assert turn.confidence is not None and 0.0 < turn.confidence <= 1.0


def test_out_of_scope_questions_fall_back_instead_of_getting_an_entry(engine: Engine) -> None:
    turn = engine.respond("个税怎么退", NLU.of("out_of_scope"), State())
    assert turn.route == "fallback" and replies.FALLBACK in turn.replies and not turn.sources


def test_the_complaint_form_asks_the_router_before_it_starts(engine: Engine) -> None:
    nlu = NLU.of("complain")
    asked = engine.complaint_step("水龙头坏了找谁修？", {}, None, nlu=nlu)
    assert asked.updates.get("complaint_stop") == "answered"
    told = engine.complaint_step("楼上装修太吵了，天天吵到半夜", {}, None, nlu=nlu)
    assert told.updates.get("complaint_stop") is None
    turn = engine.submit_complaint({"complaint_stop": "answered"}, "r-1", "水龙头坏了找谁修？", nlu=nlu)
    assert turn.route == "answer" and turn.topic == "repair" and turn.slots["last_topic"] == "repair"


def test_a_short_question_nothing_else_answers_is_about_the_last_entry(engine: Engine) -> None:
    """"要钱不" after an answer: the retriever finds nothing better in the topic, so the last entry is
    given again, saying so; a remark to the bot itself is not taken as a follow-up."""
    engine.retriever.calibration = Calibration(answer_at=0.9, clarify_at=0.8)   # nothing is confident
    before = engine.respond("家里漏水怎么报修", NLU.of("faq_repair"), State())
    entry = engine.kb.by_id[before.state.last_entry or ""]
    turn = engine.respond("要钱不", NLU.of("affirm", 0.7), before.state)
    assert turn.route == "answer" and turn.topic == before.topic
    assert turn.replies[0] == replies.ASSUMED.format(title=entry.title) or entry.title in turn.replies[0]
    for text, intent in (("你是机器人吗", "bot_challenge"), ("谢谢啊", "thank")):
        assert engine.respond(text, NLU.of(intent, 0.95), before.state).route == "chitchat", text


def test_a_short_question_after_a_garbage_item_is_about_that_item(engine: Engine) -> None:
    engine.retriever.calibration = Calibration(answer_at=0.9, clarify_at=0.8)
    before = engine.respond("电池扔哪个桶", NLU.of("faq_garbage"), State())
    assert before.route == "answer" and (before.state.last_entry or "").endswith("#电池")
    turn = engine.respond("要收钱吗", NLU.of("affirm", 0.6), before.state)
    assert turn.route == "answer" and turn.topic == "garbage"
    assert turn.replies[0] == replies.ASSUMED.format(title="电池") and "红色桶" in turn.replies[1]


def test_a_short_question_with_a_subject_of_its_own_is_not_the_last_entry_again(engine: Engine) -> None:
    engine.retriever.calibration = Calibration(answer_at=0.9, clarify_at=0.8)
    before = engine.respond("家里漏水怎么报修", NLU.of("faq_repair"), State())
    for text, nlu in (("今天天气怎么样", NLU.of("out_of_scope", 1.0)), ("股票会涨吗", NLU.of("out_of_scope", 1.0)),
                      ("物业服务中心几点下班", NLU.of("faq_property", 0.9))):
        turn = engine.respond(text, nlu, before.state)
        assert replies.ASSUMED.format(title=engine.kb.by_id[before.state.last_entry or ""].title) not in turn.replies


def test_a_story_of_a_deception_gets_the_fraud_warning_whatever_rasa_reads(engine: Engine) -> None:
    """Told of an impostor (自称, 冒充, 被骗): the warning at once, even when the complaint words win in Rasa."""
    turn = engine.respond("我被骗了 有个自称物业的人收了我两千块 我要投诉", NLU.of("complain", 1.0), State(),
                          sender="r-2")
    assert turn.route == "answer" and turn.sources[0]["id"] == "safety-fee-fraud" and turn.followup is None


def test_after_a_fraud_warning_the_story_going_on_stays_with_it(engine: Engine) -> None:
    before = engine.respond("有人冒充物业让我转账交钱", NLU.of("faq_safety"), State())
    assert before.state.last_entry == "safety-fee-fraud"
    for text, nlu in (("他还在门口 我开不开门", NLU.of("complain", 0.7)),
                      ("我已经转过去了怎么办", NLU.of("out_of_scope", 0.7))):
        turn = engine.respond(text, nlu, before.state, sender="r-3")
        assert turn.route == "answer" and turn.topic == "safety" and turn.followup is None, text
        assert engine.decide(text, nlu, before.state).route == "answer"      # the form's opening asks this too
        assert engine.complaint_step(text, {}, None, nlu=nlu, state=before.state).updates["complaint_stop"] == "answered"


def test_a_follow_up_rasa_reads_as_out_of_scope_unsure_is_still_a_follow_up(engine: Engine) -> None:
    engine.retriever.calibration = Calibration(answer_at=0.9, clarify_at=0.8)
    before = engine.respond("家里漏水怎么报修", NLU.of("faq_repair"), State())
    turn = engine.respond("那维修要多少钱呢", NLU.of("out_of_scope", 0.6), before.state)
    assert turn.route == "answer" and turn.topic == "repair"
    sure = engine.respond("股票会涨吗", NLU.of("out_of_scope", 0.95), before.state)
    assert sure.route == "fallback" and not any(r.startswith("（接着") for r in sure.replies)


def test_unreadable_messages_count_toward_two_misses_without_a_handoff_of_their_own(engine: Engine) -> None:
    first = engine.unreadable("asdfghjkl qwertyuiop zxcvbnm", State())
    assert first is not None and first.route == "fallback" and first.state.misses == 1
    again = engine.unreadable("asdfghjkl qwertyuiop zxcvbnm", first.state)
    assert again is not None and again.route == "fallback" and again.state.misses == 1   # junk alone never hands off
    missed = engine.fallback("就是那个嘛", first.state)
    assert replies.OFFER_HUMAN in missed.replies


def test_an_in_domain_question_below_the_hedged_tier_gets_the_nearest_entry_said_so(engine: Engine) -> None:
    engine.retriever.calibration = Calibration(answer_at=0.999, clarify_at=0.998)   # nothing is confident
    turn = engine.respond("卫生间天花板渗水了 这个归谁修", NLU.of("faq_repair", 0.9), State())
    assert turn.route == "answer" and turn.topic == "repair" and turn.replies[0] == replies.NEAREST
    assert any(r.startswith(replies.RELATED.split("\n")[0]) for r in turn.replies) and len(turn.sources) >= 2
    other = engine.respond("卫生间天花板渗水了 这个归谁修", NLU.of("faq_parking", 0.9), State())   # Rasa's topic is not the entry's
    assert other.route == "fallback" and replies.NEAREST not in other.replies


def test_english_on_an_estate_topic_is_answered_not_dropped_for_unknown_words(engine: Engine) -> None:
    turn = engine.respond("how do I report a water leak at home", NLU.of("faq_repair", 0.6), State())
    assert turn.route == "answer" and turn.topic == "repair" and replies.NEAREST not in turn.replies
    assert engine.signals("how do I report a water leak at home", NLU.of("faq_repair", 0.6))[0].unknown == 0.0


def test_another_estate_gets_the_scope_and_ours_next_gets_the_entry(engine: Engine) -> None:
    turn = engine.respond("隔壁翠湖花园的维修要多少钱", NLU.of("faq_repair", 0.9), State())
    assert turn.route == "fallback" and turn.replies == [replies.ELSEWHERE] and turn.state.misses == 0
    assert turn.state.last_entry == "repair-fees"       # what it would have been here: the context
    ours = engine.respond("那我们小区的呢", NLU.of("out_of_scope", 0.6), turn.state)
    assert ours.route == "answer" and ours.sources[0]["id"] == "repair-fees"
    assert engine.decide("我妈住的阳光小区电梯老是坏 她们那边怎么投诉", NLU.of("complain", 0.9)).route == "fallback"
    # this estate named beside another: a question about ours
    here = engine.respond("别的小区维修都免费 咱们维修要多少钱", NLU.of("faq_repair", 0.9), State())
    assert here.route == "answer"


def test_the_fraud_story_told_in_statements_stays_with_the_warning(engine: Engine) -> None:
    before = engine.respond("有人冒充物业让我转账交钱", NLU.of("faq_safety"), State())
    for text, nlu in (("下了 还开了屏幕共享", NLU.of("goodbye", 0.95)),
                      ("那些人说是物业维修组织的", NLU.of("faq_repair", 0.95)),
                      ("我已经下了那个app了 要不要卸载", NLU.of("out_of_scope", 0.93))):
        turn = engine.respond(text, nlu, before.state, sender="r-4")
        assert turn.route == "answer" and turn.topic == "safety", text
    # a question of its own after the warning is still its own
    own = engine.respond("维修要多少钱", NLU.of("faq_repair", 0.95), before.state)
    assert own.topic == "repair"


def test_money_lost_is_a_deception_told() -> None:
    from assistant.dialogue.engine import _VICTIM

    for text in ("卡里的钱被转走了一部分", "他说他是楼管", "问了物业说没这回事", "信用卡被盗刷了"):
        assert _VICTIM.search(text), text
    assert not _VICTIM.search("物业费怎么交")


def test_only_the_nearest_entry_is_half_a_miss(engine: Engine) -> None:
    engine.retriever.calibration = Calibration(answer_at=0.999, clarify_at=0.998)   # nothing is confident
    hedged = engine.respond("卫生间天花板渗水了 这个归谁修", NLU.of("faq_repair", 0.9), State())
    assert hedged.replies[0] == replies.NEAREST and hedged.state.misses == 1
    missed = engine.respond("就是那个啊你懂的", NLU.of("out_of_scope", 0.95), hedged.state)
    assert missed.route == "fallback" and replies.OFFER_HUMAN in missed.replies    # the second: a person offered
    engine.retriever.calibration = Calibration(answer_at=0.0, clarify_at=0.0)       # a sure answer: no miss
    sure = engine.respond("家里漏水怎么报修", NLU.of("faq_repair", 0.9), State(misses=1))
    assert sure.route == "answer" and replies.NEAREST not in sure.replies and sure.state.misses == 0


def test_a_vague_reference_is_not_a_follow_up() -> None:
    from assistant.text import queries

    assert queries.subject("那废灯泡呢") == "废灯泡" and queries.ELLIPSIS_HEAD.search("那周末呢")
    assert not queries.ELLIPSIS_HEAD.search("那个那个 你懂的吧") and not queries.ELLIPSIS_HEAD.search("那些人说的")
