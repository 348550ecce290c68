from __future__ import annotations

import pytest

from assistant.desk.tickets.text import mask_name
from assistant.moderation.pii import PLACEHOLDERS, is_id_number, luhn_ok, redact_text as redact

# What residents and admins see in place of a number (the one set, from the pii module).
ID_MARK, CARD_MARK, MOBILE_MARK = PLACEHOLDERS["id_card"], PLACEHOLDERS["bank_card"], PLACEHOLDERS["mobile"]

VALID_ID = "11010519491231002X"
BAD_ID = "110105194912310021"          # checksum wrong


def with_luhn(prefix: str) -> str:
    """prefix + the Luhn check digit."""
    for d in "0123456789":
        if luhn_ok(prefix + d):
            return prefix + d
    raise AssertionError


CARD16 = with_luhn("622202123456789")
CARD19 = with_luhn("621226250200918245")


def test_checksums() -> None:
    assert is_id_number(VALID_ID) and is_id_number(VALID_ID.lower())
    assert not is_id_number(BAD_ID)
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert len(CARD16) == 16 and len(CARD19) == 19


@pytest.mark.parametrize("text, expected", [
    (f"身份证{VALID_ID}谢谢", f"身份证{ID_MARK}谢谢"),
    (f"身份证{VALID_ID.lower()}", f"身份证{ID_MARK}"),
    (f"sfz{VALID_ID}", f"sfz{ID_MARK}"),
    (f"卡号{CARD16}", f"卡号{CARD_MARK}"),
    (f"卡号{CARD19}。", f"卡号{CARD_MARK}。"),
    (f"卡号 {CARD16[:4]} {CARD16[4:8]} {CARD16[8:12]} {CARD16[12:]} 收", f"卡号 {CARD_MARK} 收"),
    ("电话13812345678", f"电话{MOBILE_MARK}"),
    ("电话 138-1234-5678 或 139 1234 5678", f"电话 {MOBILE_MARK} 或 {MOBILE_MARK}"),
    ("+86 13912345678", MOBILE_MARK),
    ("８６１３９１２３４５６７８"[2:], MOBILE_MARK),                       # full-width digits
    ("１３８１２３４５６７８找我", f"{MOBILE_MARK}找我"),
    (f"{VALID_ID}和13812345678和{CARD16}", f"{ID_MARK}和{MOBILE_MARK}和{CARD_MARK}"),
    # missed by the tickets' own redactor before there was one: spaced, split by line breaks, 0086
    (f"身份证 {VALID_ID[:6]} {VALID_ID[6:14]} {VALID_ID[14:]}", f"身份证 {ID_MARK}"),
    (f"身份证\n{VALID_ID[:6]}\n{VALID_ID[6:14]}\n{VALID_ID[14:].lower()}", f"身份证\n{ID_MARK}"),
    ("电话138\n1234\n5678", f"电话{MOBILE_MARK}"),
    ("0086 139-1234-5678", MOBILE_MARK),
    ("卡号4111111111111112", f"卡号{CARD_MARK}"),      # labelled as a card: hidden though Luhn fails
])
def test_redact_hides(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize("text", [
    f"编号{BAD_ID[:-1]}5",              # 18 digits, neither an ID checksum nor Luhn-valid
    "流水4111111111111112",              # Luhn fails, and no card label
    "订单123456789012",                  # 12 digits
    "座机021-12345678",
    "12812345678",                       # 12x is not a mobile prefix
    "138123456789",                      # 12 digits, not a mobile
    "5栋101室，2026年11月23日",
    "",
])
def test_redact_keeps(text: str) -> None:
    if "编号" in text and (is_id_number(text[2:]) or luhn_ok(text[2:])):
        pytest.skip("constructed number happens to be valid")
    assert redact(text) == text


def test_names_are_masked_and_redacted() -> None:
    assert mask_name("张伟") == "张*" and mask_name("王小明") == "王**" and mask_name("A") == "A"
    assert "138" not in mask_name("王姐13812345678")
