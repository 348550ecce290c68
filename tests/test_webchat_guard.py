"""The web chat's guard (assistant/rasa_server/guard.py), which the Rasa server runs before a message reaches a tracker."""

from __future__ import annotations

import time
import tracemalloc

from assistant.moderation.pii import id_check_char, luhn_check_digit
from assistant.rasa_server.guard import MAX_CHARS, Guard

ID = "11010519491231002" + id_check_char("11010519491231002")
CARD = "620000123456789" + luhn_check_digit("620000123456789")
PHONE = "13900001234"


def test_personal_data_is_redacted_and_the_widget_warned() -> None:
    g = Guard()
    for text in (f"我的身份证号是{ID}", f"银行卡 {CARD[:4]} {CARD[4:8]} {CARD[8:12]} {CARD[12:]} 可以交物业费吗",
                 f"有事打我电话{PHONE}"):
        s = g.screen("sess-1", text)
        assert s.action == "redact" and s.forward is not None and "隐藏" in s.forward
        assert not any(n in s.forward.replace(" ", "") for n in (ID, CARD, PHONE))
        assert s.replies and "隐私" in s.replies[0]


def test_ads_are_stopped_and_plain_questions_pass() -> None:
    g = Guard()
    ad = g.screen("sess-2", "加V领福利 abc12345 加微信")
    assert ad.forward is None and ad.action != "allow" and ad.replies
    plain = g.screen("sess-3", "垃圾几点扔？")
    assert (plain.action, plain.forward, plain.replies) == ("allow", "垃圾几点扔?", ())


def test_odd_input_never_fails() -> None:
    g = Guard()
    assert g.screen("s", None).forward == "" and g.screen("s", {"x": 1}).forward == ""
    s = g.screen("s", "车位\ud800怎么租")
    assert s.forward is not None and "\ud800" not in s.forward and "车位" in s.forward
    s.forward.encode("utf-8")


def test_a_64k_message_is_clipped_quickly() -> None:
    text = ("车位怎么租" * 3000 + "1" * 20000 + "楼上装修太吵" * 4000)[:65536]
    g = Guard()
    tracemalloc.start()
    start = time.perf_counter()
    s = g.screen("s-big", text)
    took = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert s.forward is not None and len(s.forward) <= MAX_CHARS
    assert s.forward.endswith("楼上装修太吵")       # the end, where residents put the question, is kept
    assert took < 1.0 and peak < 100 * 2**20, (took, peak)
