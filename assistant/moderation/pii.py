"""Personal data: ID numbers, bank cards, mobile numbers, car plates. The project's one redactor:
group messages, tickets, the complaint form, the outbox, handoffs and admin notifications all
go through ``redact`` / ``redact_text`` here.

Numbers are found as *clusters* of digit groups joined by short runs of spaces, dashes or line
breaks, so "138 0000 1234" and "110000 19900101 123X" are seen whole; full-width digits count.
A candidate is either a whole cluster or a run of groups in that kind's usual layout (3-4-4 for
a mobile, 4-4-4-4 for a card), so a mobile number typed after a room number ("5-101 138 0000 1234") is found while
digits inside a longer run never are. Findings carry the kind and the span, never the value.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

KINDS = ("id_card", "bank_card", "mobile", "plate")
LABELS = {"id_card": "身份证号", "bank_card": "银行卡号", "mobile": "手机号", "plate": "车牌号"}
PLACEHOLDERS = {k: f"[{v}已隐藏]" for k, v in LABELS.items()}

PROVINCES = frozenset({11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44,
                       45, 46, 50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83})
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# UnionPay 62/60, Visa 4, Mastercard 51-55 and 2221-2720, JCB 35, old domestic 9.
CARD_PREFIXES = ("62", "60", "4", "51", "52", "53", "54", "55", "2221-2720", "35", "9")

_GROUP = re.compile(r"[0-9]+(?:[xX](?![A-Za-z0-9]))?")
_SEP = re.compile(r"[ \t\r\n\u00a0\-\u2010-\u2015]{1,3}")   # a line break may split a number too
_MAX_DIGITS = 21
# A Luhn-valid number right after these words is an order / tracking / invoice number.
# A number the writer labels as an ID or a card is one, whatever its check digit (a typo, or a made-up
# number, is still meant as personal data): the label right before it, then only separators.
_ID_LABEL = re.compile(r"(身份证|身份證|证件|證件)[号碼码是为:：\s]*$")
_CARD_LABEL = re.compile(r"(银行卡|銀行卡|储蓄卡|信用卡|卡号|卡號|账号|帳號|账户)[号碼码是为:：\s]*$")
_NOT_CARD = re.compile(r"(订单|单号|运单|快递|流水|编号|工单|发票|会员卡|取件码|交易号|序列号)[号码:：\s]*$")
_PROV_CHARS = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PLATE = re.compile(
    rf"(?<![A-Za-z0-9])[{_PROV_CHARS}]([A-HJ-NP-Za-hj-np-z])[·・•\s]?"
    r"([A-HJ-NP-Za-hj-np-z0-9]{5,6})(?![A-Za-z0-9])")


@dataclass(frozen=True)
class Finding:
    kind: str      # one of KINDS
    start: int     # span in the original text
    end: int

    @property
    def rule_id(self) -> str:
        return f"pii.{self.kind}"

    @property
    def label(self) -> str:
        return LABELS[self.kind]


# -- checksums -----------------------------------------------------------------------------

def id_check_char(first17: str) -> str:
    """GB 11643 check character for the first 17 digits."""
    total = sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=False))
    return _ID_CHECK[total % 11]


def plausible_birth(yyyymmdd: str, today: dt.date | None = None) -> bool:
    try:
        born = dt.date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return False
    today = today or dt.date.today()
    return dt.date(today.year - 120, 1, 1) <= born <= today


def is_id_number(value: str) -> bool:
    """18 characters, a known province, a plausible birth date and a valid check character."""
    value = value.upper()
    if len(value) != 18 or not value[:17].isdigit() or not (value[17].isdigit() or value[17] == "X"):
        return False
    if int(value[:2]) not in PROVINCES or not plausible_birth(value[6:14]):
        return False
    return id_check_char(value[:17]) == value[17]


def _id_shaped(value: str) -> bool:
    """A province code and a 19xx/20xx year where an ID number has them."""
    return int(value[:2]) in PROVINCES and value[6:8] in ("19", "20")


def luhn_check_digit(partial: str) -> str:
    """The digit that makes ``partial + digit`` pass the Luhn check."""
    total = 0
    for i, c in enumerate(reversed(partial)):
        d = int(c)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def luhn_ok(digits: str) -> bool:
    return len(digits) > 1 and digits.isdigit() and luhn_check_digit(digits[:-1]) == digits[-1]


def _prefix_ok(digits: str, prefixes: tuple[str, ...]) -> bool:
    if not prefixes:
        return True
    for p in prefixes:
        if "-" in p:
            lo, hi = p.split("-", 1)
            if lo <= digits[:len(lo)] <= hi:
                return True
        elif digits.startswith(p):
            return True
    return False


def is_bank_card(digits: str, prefixes: tuple[str, ...] = CARD_PREFIXES) -> bool:
    return 16 <= len(digits) <= 19 and digits.isdigit() and _prefix_ok(digits, prefixes) and luhn_ok(digits)


def is_mobile(digits: str) -> bool:
    """A mainland mobile number, optionally after the country code (86 or 0086)."""
    if len(digits) == 15 and digits.startswith("0086"):
        digits = digits[4:]
    elif len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return len(digits) == 11 and digits.isdigit() and digits[0] == "1" and digits[1] in "3456789"


# -- scanning ------------------------------------------------------------------------------

_CN_RUN = re.compile(r"[〇零一二三四五六七八九幺]{7,}")     # a number read out digit by digit (一三五八八八…)
_CN_DIGITS = {c: str(i) for i, c in enumerate("零一二三四五六七八九")} | {"〇": "0", "幺": "1"}


def _fold(text: str) -> tuple[str, list[int]]:
    """NFKC per character (full-width digits → ASCII), a run of Chinese digit words as digits, with a map
    back to original positions."""
    spelled = {i for m in _CN_RUN.finditer(text) for i in range(m.start(), m.end())}
    out: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text):
        n = _CN_DIGITS[ch] if i in spelled else unicodedata.normalize("NFKC", ch) if ord(ch) > 127 else ch
        out.append(n)
        where.extend([i] * len(n))
    where.append(len(text))
    return "".join(out), where


def _clusters(folded: str) -> Iterable[list[tuple[int, int]]]:
    """Runs of digit groups (start, end) joined by short separators."""
    cluster: list[tuple[int, int]] = []
    for m in _GROUP.finditer(folded):
        if cluster:
            gap = folded[cluster[-1][1]:m.start()]
            joined = _SEP.fullmatch(gap) is not None and folded[cluster[-1][1] - 1] not in "xX"
            if not joined:
                yield cluster
                cluster = []
        cluster.append((m.start(), m.end()))
    if cluster:
        yield cluster


_LAYOUTS = {
    "mobile": {(11,), (3, 4, 4), (2, 11), (2, 3, 4, 4), (13,), (4, 11), (4, 3, 4, 4), (15,)},
    "id_card": {(18,), (6, 8, 4), (6, 4, 4, 4), (6, 12), (3, 3, 4, 4, 4)},
}


def _card_layout(sizes: tuple[int, ...]) -> bool:
    if len(sizes) == 1:
        return True
    return (all(s == 4 for s in sizes[:-1]) and 1 <= sizes[-1] <= 4) or sizes in {(6, 13), (6, 12), (6, 10)}


@dataclass(frozen=True)
class PiiSettings:
    id_card: bool = True
    bank_card: bool = True
    mobile: bool = True
    plate: bool = False
    card_prefixes: tuple[str, ...] = CARD_PREFIXES
    allow_numbers: frozenset[str] = frozenset()   # the estate's own published numbers


def _classify(value: str, sizes: tuple[int, ...], whole: bool, cfg: PiiSettings) -> str | None:
    digits = value.rstrip("xX")
    n = len(value)
    if cfg.id_card and n == 18 and (whole or sizes in _LAYOUTS["id_card"]) and is_id_number(value):
        return "id_card"
    if digits != value or (n == 18 and _id_shaped(value)):
        return None   # an ID number with a typo is not a bank card
    if cfg.bank_card and 16 <= n <= 19 and (whole or _card_layout(sizes)) \
            and is_bank_card(value, cfg.card_prefixes):
        return "bank_card"
    if cfg.mobile and n in (11, 13, 15) and (whole or sizes in _LAYOUTS["mobile"]) and is_mobile(value):
        return "mobile"
    return None


def _labelled(value: str, before: str, cfg: PiiSettings) -> str | None:
    """An ID- or card-length number right after its label (身份证号 / 银行卡号 ...), checksum or not."""
    if cfg.id_card and len(value) == 18 and value[:17].isdigit() and _ID_LABEL.search(before):
        return "id_card"
    if cfg.bank_card and 16 <= len(value) <= 19 and value.isdigit() and _CARD_LABEL.search(before) \
            and not _NOT_CARD.search(before):
        return "bank_card"
    return None


def find_pii(text: str, cfg: PiiSettings | None = None) -> list[Finding]:
    """Every personal number in ``text``, left to right, spans in the original text."""
    cfg = cfg or PiiSettings()
    folded, where = _fold(text)
    found: list[tuple[str, int, int]] = []
    for cluster in _clusters(folded):
        used = [False] * len(cluster)
        n = len(cluster)
        spans: list[tuple[int, int]] = [(0, n - 1)] if n > 6 else []
        for i in range(n):
            for j in range(i, min(n, i + 6)):
                spans.append((i, j))
        spans.sort(key=lambda s: (s != (0, n - 1), -(s[1] - s[0]), s[0]))
        for i, j in spans:
            if any(used[i:j + 1]):
                continue
            groups = cluster[i:j + 1]
            sizes = tuple(e - s for s, e in groups)
            if sum(sizes) > _MAX_DIGITS:
                continue
            value = "".join(folded[s:e] for s, e in groups)
            kind = _classify(value, sizes, (i, j) == (0, n - 1), cfg)
            start, end = groups[0][0], groups[-1][1]
            if kind is None and (i, j) == (0, n - 1):
                kind = _labelled(value, folded[max(0, start - 10):start], cfg)
            if kind is None or value.upper() in cfg.allow_numbers:
                continue
            if kind == "bank_card" and _NOT_CARD.search(folded[max(0, start - 8):start]):
                continue
            if kind == "mobile" and start > 0 and folded[start - 1] == "+":
                start -= 1
            used[i:j + 1] = [True] * (j - i + 1)
            found.append((kind, start, end))
    if cfg.plate:
        for m in _PLATE.finditer(folded):
            if _plate_ok(m.group(2).upper()):
                found.append(("plate", m.start(), m.end()))
    found.sort(key=lambda f: f[1])
    out: list[Finding] = []
    last_end = -1
    for kind, s, e in found:
        if s >= last_end:
            out.append(Finding(kind, where[s], where[e]))
            last_end = e
    return out


def _plate_ok(tail: str) -> bool:
    digits = sum(c.isdigit() for c in tail)
    if len(tail) == 6:   # new energy: D/F first or last, the rest mostly digits
        return (tail[0] in "DF" and tail[2:].isdigit()) or (tail[5] in "DF" and tail[:5].isdigit())
    return digits >= 3


def redact(text: str, cfg: PiiSettings | None = None,
           placeholders: dict[str, str] | None = None) -> tuple[str, list[Finding]]:
    """``text`` with every personal number replaced by a placeholder, and the findings."""
    findings = find_pii(text, cfg)
    marks = {**PLACEHOLDERS, **(placeholders or {})}
    parts: list[str] = []
    pos = 0
    for f in findings:
        parts.append(text[pos:f.start])
        parts.append(marks[f.kind])
        pos = f.end
    parts.append(text[pos:])
    return "".join(parts), findings


def redact_text(text: str, cfg: PiiSettings | None = None, placeholders: dict[str, str] | None = None) -> str:
    """``text`` with every personal number replaced by its placeholder: the one redaction every
    stored or forwarded text goes through (tickets, complaint form, outbox, handoffs, admin chat)."""
    return redact(text, cfg, placeholders)[0] if text else text
