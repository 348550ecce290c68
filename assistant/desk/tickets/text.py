"""Text helpers for tickets: personal-number redaction, unit normalisation, display-name masking."""

from __future__ import annotations

import re
import unicodedata

ID_MARK = "[身份证号已隐藏]"
CARD_MARK = "[银行卡号已隐藏]"
MOBILE_MARK = "[手机号已隐藏]"

# Full-width digits and separators map one-to-one onto ASCII, so match positions stay valid.
_ASCII = str.maketrans({**{chr(0xFF10 + i): str(i) for i in range(10)},
                        "Ｘ": "X", "ｘ": "x", "－": "-", "　": " ", "＋": "+"})

_ID_RE = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")
# 16-19 digits, contiguous or in groups of four separated by one space or hyphen.
_CARD_RE = re.compile(r"(?<![\d-])(?:\d{16,19}|\d{4}(?:[ -]\d{4}){3}(?:[ -]?\d{1,3})?)(?![\d])")
_MOBILE_RE = re.compile(r"(?<![\d+])(?:(?:\+|00)?86[ -]?)?1[3-9]\d(?:\d{8}|[ -]\d{4}[ -]\d{4})(?!\d)")

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_checksum_ok(number: str) -> bool:
    """True when an 18-character mainland ID number has a valid check character."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS))
    return _ID_CHECK[total % 11] == number[17].upper()


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def redact(text: str) -> str:
    """Hide ID numbers (18 digits, valid checksum), bank cards (16-19 digits, Luhn-valid) and
    mainland mobile numbers. Full-width digits count too; everything else is left as written."""
    if not text:
        return text
    probe = text.translate(_ASCII)
    spans: list[tuple[int, int, str]] = []

    def free(a: int, b: int) -> bool:
        return all(b <= s or a >= e for s, e, _ in spans)

    for m in _ID_RE.finditer(probe):
        if id_checksum_ok(m.group()):
            spans.append((m.start(), m.end(), ID_MARK))
    for m in _CARD_RE.finditer(probe):
        digits = re.sub(r"\D", "", m.group())
        if 16 <= len(digits) <= 19 and luhn_ok(digits) and free(m.start(), m.end()):
            spans.append((m.start(), m.end(), CARD_MARK))
    for m in _MOBILE_RE.finditer(probe):
        if free(m.start(), m.end()):
            spans.append((m.start(), m.end(), MOBILE_MARK))
    out, pos = [], 0
    for start, end, mark in sorted(spans):
        out.append(text[pos:start])
        out.append(mark)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def mask_name(name: str) -> str:
    """A display name as shown to staff: redacted, then all but the first character masked
    (张伟 -> 张*, 王小明 -> 王**, Alice -> A****). Empty stays empty."""
    name = redact(clean(name)).strip()
    if len(name) <= 1 or name.startswith("["):
        return name
    return name[0] + "*" * min(len(name) - 1, 8)


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean(text: str) -> str:
    """Drop control characters (PostgreSQL refuses NUL); keep newlines and tabs; trim the ends."""
    return _CONTROL.sub("", text.replace("\r\n", "\n")).strip()


# --- units -------------------------------------------------------------------------------

_CN_DIGITS = {"零": 0, "〇": 0, "○": 0, "一": 1, "幺": 1, "壹": 1, "二": 2, "两": 2, "贰": 2, "三": 3,
              "叁": 3, "四": 4, "肆": 4, "五": 5, "伍": 5, "六": 6, "陆": 6, "七": 7, "柒": 7,
              "八": 8, "捌": 8, "九": 9, "玖": 9}
_CN_UNITS = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
_CN_CHARS = "".join(_CN_DIGITS) + "".join(_CN_UNITS)


def cn_number(text: str) -> int | None:
    """Chinese or Arabic numerals to an int: 五 -> 5, 十二 -> 12, 一百零一 -> 101, 一零一 -> 101."""
    if text.isdigit():
        return int(text)
    if not text or any(c not in _CN_DIGITS and c not in _CN_UNITS for c in text):
        return None
    if not any(c in _CN_UNITS for c in text):      # read digit by digit: 一零一 -> 101
        return int("".join(str(_CN_DIGITS[c]) for c in text))
    total, digit = 0, None
    last_unit = 10_000
    for c in text:
        if c in _CN_DIGITS:
            if digit is not None and _CN_DIGITS[c] != 0:
                return None                          # two digits in a row: 一二百
            digit = _CN_DIGITS[c] or None
        else:
            unit = _CN_UNITS[c]
            if unit >= last_unit:
                return None                          # 百百, 十百
            total += (1 if digit is None else digit) * unit
            digit, last_unit = None, unit
    return total + (digit or 0)


_NUM = rf"(\d+|[{_CN_CHARS}]+)"
_UNIT_PATTERNS = [
    # 5号楼1单元101, 5栋2单元302室, 五幢一单元一零一, 5#1单元101
    re.compile(rf"^{_NUM}(?:号楼|号|栋|幢|座|楼|#)-?{_NUM}单元-?{_NUM}(?:室|房|号|户)?$"),
    # 5栋101, 5号楼101室, 五号楼101, 5#101
    re.compile(rf"^{_NUM}(?:号楼|栋|幢|座|#楼|#|号)-?{_NUM}(?:室|房|号|户)?$"),
    # 5-1-101, 5/1/101
    re.compile(r"^(\d+)[-/](\d+)[-/](\d+)$"),
    # 5-101, 5/101
    re.compile(r"^(\d+)[-/](\d+)$"),
]


def normalize_unit(text: str | None) -> str | None:
    """A resident's unit as ``楼号-房号`` (``5-101``), or ``楼号-单元-房号`` (``5-1-101``) when a
    单元 is named: 5-101, 5栋101, 五号楼101室 -> 5-101; 5号楼1单元101, 5-1-101 -> 5-1-101.
    Full-width characters, spaces and Chinese numerals are accepted; None when unparseable."""
    if text is None:
        return None
    s = unicodedata.normalize("NFKC", str(text))
    s = re.sub(r"\s+", "", s).replace("—", "-").replace("－", "-")
    if not s or len(s) > 40:
        return None
    for pat in _UNIT_PATTERNS:
        m = pat.match(s)
        if m:
            parts = [cn_number(g) for g in m.groups()]
            if any(p is None or p <= 0 for p in parts):
                return None
            building, *middle, room = parts
            if building > 999 or room > 99999 or any(u > 99 for u in middle):
                return None
            return "-".join(str(p) for p in parts)
    return None


def normalize_building(text: str) -> str | None:
    """A building alone (5, 5栋, 五号楼) as ``5``; None otherwise. Used for unit filters."""
    s = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))
    m = re.match(rf"^{_NUM}(?:号楼|栋|幢|座|号|#)?$", s)
    n = cn_number(m.group(1)) if m else None
    return str(n) if n and n <= 999 else None
