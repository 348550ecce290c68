from __future__ import annotations

import pytest

from assistant.moderation import PiiSettings, find_pii, is_bank_card, is_id_number, redact
from assistant.moderation.pii import luhn_ok

from .numbers import FW, Numbers, spaced


@pytest.fixture
def nums() -> Numbers:
    return Numbers(11)


def test_generated_numbers_all_found_and_bad_ones_never(nums: Numbers) -> None:
    for _ in range(300):
        good_id, card = nums.id(), nums.card(nums.rng.choice([16, 17, 18, 19]))
        assert [f.kind for f in find_pii(f"号码{good_id}。")] == ["id_card"]
        assert [f.kind for f in find_pii(f"卡 {spaced(card, (4, 4, 4, 4))} 谢谢")] == ["bank_card"]
        assert find_pii(f"订单{nums.bad_id()}") == []
        assert find_pii(f"订单{nums.bad_id_date()}") == []
        assert find_pii(f"单号{nums.bad_card()}") == []
        assert find_pii(f"单号{nums.bad_card(19)}") == []


def test_random_digit_strings(nums: Numbers) -> None:
    # After 订单号 / 单号 … a number is never taken for a card; an ID needs region, date and check.
    assert not any(find_pii(f"订单号{nums.digits(n)}") for n in (16, 18) for _ in range(2000))
    # Bare random numbers: only card-range prefixes that happen to pass Luhn (~1 in 10 of those).
    hits = sum(bool(find_pii(nums.digits(16))) for _ in range(4000))
    assert hits / 4000 < 0.05


@pytest.mark.parametrize("text", [
    "2026-11-23", "20261123", "5-101", "5-1-101", "价格 13800 元", "0571-88886666", "订单 2026 1123 1380 0001 234",
    "取件码 1234-5678", "110", "房号12-2-1802", "13800.5", "138 0000 123", "SF1380000123456",
])
def test_innocent_numbers(text: str) -> None:
    assert find_pii(text) == []


def test_redaction_keeps_the_rest_and_hides_every_number(nums: Numbers) -> None:
    i, c, m = nums.id(check="X"), nums.card(), nums.mobile()
    text = f"身份证{i[:6]} {i[6:14]} {i[14:]}，卡号{c}，电话+86 {spaced(m, (3, 4, 4), '-')}，5-101"
    out, findings = redact(text)
    assert [f.kind for f in findings] == ["id_card", "bank_card", "mobile"]
    assert out == "身份证[身份证号已隐藏]，卡号[银行卡号已隐藏]，电话[手机号已隐藏]，5-101"
    for digits in (i[:17], c, m):
        assert digits not in out


def test_full_width_and_single_spaced_digits(nums: Numbers) -> None:
    m = nums.mobile()
    assert [f.kind for f in find_pii(m.translate(FW))] == ["mobile"]
    assert [f.kind for f in find_pii(" ".join(m))] == ["mobile"]
    assert find_pii(nums.id().translate(FW))[0].kind == "id_card"


def test_not_part_of_a_longer_run(nums: Numbers) -> None:
    c = nums.card()
    assert find_pii(c + "7") == [] or find_pii(c + "7")[0].kind == "bank_card" and luhn_ok(c + "7")
    assert find_pii("9" + nums.mobile()) == []
    assert find_pii(nums.mobile() + "0") == []


def test_plates_only_when_configured() -> None:
    assert find_pii("浙A12345挪车") == []
    on = PiiSettings(plate=True)
    assert [f.kind for f in find_pii("浙A12345和浙AD12345", on)] == ["plate", "plate"]
    assert find_pii("浙江 ABCDE", on) == []


def test_allow_numbers_and_kinds_off(nums: Numbers) -> None:
    m = nums.mobile()
    assert find_pii(f"物业值班 {m}", PiiSettings(allow_numbers=frozenset({m}))) == []
    assert find_pii(f"电话 {m}", PiiSettings(mobile=False)) == []


def test_checksum_helpers(nums: Numbers) -> None:
    assert is_id_number(nums.id()) and not is_id_number(nums.bad_id())
    assert is_bank_card(nums.card()) and not is_bank_card(nums.bad_card())
    assert not is_bank_card("2026" + "0" * 11 + "0")   # date-like prefix is no card range


def test_a_labelled_number_is_personal_whatever_its_check_digit(nums: Numbers) -> None:
    """A resident who writes 身份证号 or 银行卡号 before a number means it as one (a typo or a made-up
    number included); unlabelled, or after an order label, a number failing its checksum stays."""
    for label in ("身份证号：", "我的身份证是 ", "证件号码"):
        found = find_pii(f"{label}{nums.bad_id()}，帮我查下")
        assert [f.kind for f in found] == ["id_card"], label
    for label in ("银行卡号", "退款打到这个卡号：", "账号 "):
        assert [f.kind for f in find_pii(f"{label}{nums.bad_card()}")] == ["bank_card"], label
    assert find_pii(f"订单{nums.bad_id()}") == [] and find_pii(f"单号{nums.bad_card()}") == []
    assert find_pii(f"身份证号后四位是{nums.bad_id()[-4:]}") == []          # too short to be one
    assert find_pii(f"卡号{nums.bad_card()}00000") == []                       # too long for a card


def test_a_number_read_out_in_chinese_digit_words(nums: Numbers) -> None:
    m = nums.mobile()
    spoken = "".join("零一二三四五六七八九"[int(d)] for d in m)
    out, findings = redact(f"需要的打电话{spoken}找王老师")
    assert [f.kind for f in findings] == ["mobile"] and out == "需要的打电话[手机号已隐藏]找王老师"
    assert [f.kind for f in find_pii("幺" + spoken[1:])] == ["mobile"]
    for innocent in ("三楼一零一", "一二三四五六七", "五号楼一单元一零一", "十一月二十三日"):
        assert find_pii(innocent) == [], innocent
