"""Generated personal numbers for tests: checksum-valid but obviously fake.

IDs use a province-level region code (XX0000, never a person's county), cards the made-up BIN
620000 / 400000 / 510000, mobiles the pattern 1x0000xxxxx.
"""

from __future__ import annotations

import datetime as dt
import random

from assistant.moderation.pii import PROVINCES, _id_shaped, id_check_char, is_id_number, luhn_check_digit, luhn_ok

FW = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")


class Numbers:
    def __init__(self, seed: int = 2026) -> None:
        self.rng = random.Random(seed)

    def digits(self, n: int) -> str:
        return "".join(str(self.rng.randrange(10)) for _ in range(n))

    # -- ID numbers ------------------------------------------------------------------------
    def id17(self, year: int | None = None) -> str:
        region = f"{self.rng.choice(sorted(PROVINCES))}0000"
        year = year or self.rng.randint(1950, 2005)
        born = dt.date(year, 1, 1) + dt.timedelta(days=self.rng.randrange(365))
        return region + born.strftime("%Y%m%d") + self.digits(3)

    def id(self, year: int | None = None, check: str | None = None) -> str:
        while True:
            first = self.id17(year)
            c = id_check_char(first)
            if check is None or c == check:
                return first + c

    def bad_id(self) -> str:
        first = self.id17()
        good = id_check_char(first)
        return first + self.rng.choice([c for c in "0123456789X" if c != good])

    def bad_id_date(self) -> str:
        """Right check character, impossible birth date (month 13)."""
        first = f"{self.rng.choice(sorted(PROVINCES))}0000" + "19901301" + self.digits(3)
        return first + id_check_char(first)

    def order18(self) -> str:
        while True:
            s = "2026" + self.digits(14)
            if not is_id_number(s):
                return s

    # -- bank cards ------------------------------------------------------------------------
    def card(self, n: int = 16, prefix: str = "620000") -> str:
        while True:
            body = prefix + self.digits(n - 1 - len(prefix))
            card = body + luhn_check_digit(body)
            if len(card) != 18 or not _id_shaped(card):   # ID-shaped 18 digits are judged as IDs only
                return card

    def bad_card(self, n: int = 16, prefix: str = "620000") -> str:
        body = prefix + self.digits(n - 1 - len(prefix))
        good = luhn_check_digit(body)
        card = body + self.rng.choice([d for d in "0123456789" if d != good])
        assert not luhn_ok(card)
        return card

    # -- mobiles ---------------------------------------------------------------------------
    def mobile(self) -> str:
        return "1" + self.rng.choice("3456789") + "0000" + self.digits(5)


def spaced(value: str, sizes: tuple[int, ...], sep: str = " ") -> str:
    out, pos = [], 0
    for s in sizes:
        out.append(value[pos:pos + s])
        pos += s
    if pos < len(value):
        out.append(value[pos:])
    return sep.join(p for p in out if p)


def fill(text: str, nums: Numbers) -> str:
    """Replace each {placeholder} with a freshly generated number."""
    makers = {
        "id": lambda: nums.id(),
        "id_x": lambda: nums.id(check="X"),
        "id_spaced": lambda: spaced(nums.id(), (6, 8, 4)),
        "id_spaced4": lambda: spaced(nums.id(), (6, 4, 4, 4)),
        "id_full": lambda: nums.id().translate(FW),
        "id_child": lambda: nums.id(year=2018),
        "id_old": lambda: nums.id(year=1935),
        "bad_id": nums.bad_id,
        "bad_id_date": nums.bad_id_date,
        "order18": nums.order18,
        "card": lambda: nums.card(),
        "card19": lambda: nums.card(19),
        "card_spaced": lambda: spaced(nums.card(), (4, 4, 4, 4)),
        "card_spaced19": lambda: spaced(nums.card(19), (4, 4, 4, 4)),
        "card_dashed": lambda: spaced(nums.card(), (4, 4, 4, 4), "-"),
        "card_visa": lambda: nums.card(16, "400000"),
        "card_master": lambda: nums.card(16, "510000"),
        "bad_card": lambda: nums.bad_card(),
        "bad_card_spaced": lambda: spaced(nums.bad_card(), (4, 4, 4, 4)),
        "bad_card_dashed": lambda: spaced(nums.bad_card(), (4, 4, 4, 4), "-"),
        "order16": lambda: "2026" + nums.digits(12),
        "mobile": nums.mobile,
        "mobile_spaced": lambda: spaced(nums.mobile(), (3, 4, 4)),
        "mobile_dashed": lambda: spaced(nums.mobile(), (3, 4, 4), "-"),
        "mobile_86": lambda: "+86 " + nums.mobile(),
        "mobile_fw": lambda: nums.mobile().translate(FW),
        "mobile_digits_spaced": lambda: " ".join(nums.mobile()),
    }
    out = text
    for key, make in sorted(makers.items(), key=lambda kv: -len(kv[0])):
        token = "{" + key + "}"
        while token in out:
            out = out.replace(token, make(), 1)
    return out
