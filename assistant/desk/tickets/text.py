"""Text helpers for tickets: cleaning, unit normalisation, display-name masking. Personal numbers are
redacted by ``assistant.moderation.pii`` (the one redactor)."""

from __future__ import annotations

import re
import unicodedata

from assistant.moderation.pii import redact_text


def mask_name(name: str) -> str:
    """A display name as shown to staff: redacted, then all but the first character masked
    (张伟 -> 张*, 王小明 -> 王**, Alice -> A****). Empty stays empty."""
    name = redact_text(clean(name)).strip()
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
