"""Residents' units (楼号-房号) read from what people type: 5-101, 5栋101室, 五号楼一单元一零一.
Pure text functions; Chinese numerals are read by ``cn2an``."""

from __future__ import annotations

import re
import unicodedata

_CN_CHARS = "零〇○一幺壹二两贰三叁四肆五伍六陆七柒八捌九玖十拾百佰千仟"
_CN_UNITS = "十拾百佰千仟"
_SPOKEN = str.maketrans({"两": "二", "幺": "一", "〇": "零", "○": "零"})   # forms cn2an's strict mode refuses


def cn_number(text: str) -> int | None:
    """Chinese or Arabic numerals to an int: 五 -> 5, 十二 -> 12, 一百零一 -> 101, 两千 -> 2000, and digit by
    digit 一零一 / 幺零一 -> 101. None when it is not a well-formed number (一二百, 百百, 一百一)."""
    if text.isdigit():
        return int(text)
    if not text or any(c not in _CN_CHARS for c in text):
        return None
    from cn2an import cn2an  # ~1 s to import: only when a unit is written in Chinese numerals

    mode = "strict" if any(c in _CN_UNITS for c in text) else "normal"   # normal: read digit by digit
    try:
        return int(cn2an(text.translate(_SPOKEN), mode))
    except (ValueError, KeyError, IndexError):       # cn2an's ways of saying "not a number"
        return None


_NUM = rf"(\d+|[{_CN_CHARS}]+)"
_UNIT_PATTERNS = [
    # 5号楼1单元101, 5栋2单元302室, 五幢一单元一零一, 5#1单元101
    re.compile(rf"^{_NUM}(?:号楼|号|栋|幢|座|楼|#)-?{_NUM}单元-?{_NUM}(?:室|房|号|户)?$"),
    # 5栋101, 5号楼101室, 五号楼101, 5#101
    re.compile(rf"^{_NUM}(?:号楼|栋|幢|座|#楼|#|号)-?{_NUM}(?:室|房|号|户)?$"),
    # 5-1-101, 5/1/101
    re.compile(r"^(\d+)[-/](\d+)[-/](\d+)(?:室|房|号|户)?$"),
    # 5-101, 5/101, 5-101室
    re.compile(r"^(\d+)[-/](\d+)(?:室|房|号|户)?$"),
    # in English (spaces removed): building 3 unit 2 room 1205, bldg 3 rm 1205
    re.compile(r"^(?:building|bldg|block|tower)\.?(\d+),?unit(\d+),?(?:room|rm|apt|flat)\.?(\d+)$", re.I),
    re.compile(r"^(?:building|bldg|block|tower)\.?(\d+),?(?:room|rm|apt|flat)\.?(\d+)$", re.I),
]
# A unit inside a sentence: "我家5栋101，楼上很吵", "住五号楼一单元一零一". Rooms in Chinese numerals only
# digit by digit after 栋/号楼/幢/单元, so "3号十一点" is not a unit.
_DIGITS_CN = "零〇○一二三四五六七八九幺两"
_UNIT_IN_TEXT = re.compile(r"(?<![A-Za-z0-9])([0-9一二三四五六七八九十]+\s*(?:号楼|栋|幢|座|号|#|-|/)\s*"
                           r"(?:[0-9一二三四五六七八九十]+\s*单元\s*)?"
                           r"[0-9]{2,5}\s*(?:室|号)?(?:[-/][0-9]{2,5})?)"
                           rf"|(?<![A-Za-z0-9])([0-9一二三四五六七八九十]+\s*(?:号楼|栋|幢|座)\s*(?:[0-9一二三四五六七八九十]+\s*单元\s*)?"
                           rf"[{_DIGITS_CN}]{{3,4}})")
# A parking space or a garage zone, kept as written: B2-105车位, 地库B区, 地下车库B2层.
_PLACE = re.compile(r"(?:地下)?(?:车库|地库|停车场)?\s*[A-Za-z]\d{0,2}\s*(?:区|层)?\s*[-－]?\s*\d{1,4}\s*号?\s*车位"
                    r"|\d{1,4}\s*号\s*车位"
                    r"|(?:地下)?(?:车库|地库|停车场)\s*(?:[A-Za-z]\d{0,2}|[一二三四五六七八九负]+)\s*(?:区|层|号口)?"
                    r"|[A-Za-z]\d-\d{2,4}")


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
            parts = [n for n in (cn_number(g) for g in m.groups()) if n is not None and n > 0]
            if len(parts) != len(m.groups()):
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


def find_unit(text: str) -> str | None:
    """The first unit (5-101, 5栋101, 五号楼1单元101) mentioned in a message, normalised."""
    for m in _UNIT_IN_TEXT.finditer(text):
        unit = normalize_unit(m.group(1) or m.group(2))
        if unit:
            return unit
    return None


def find_place(text: str) -> str | None:
    """A parking space or garage zone named in a message, as written (B2-105车位, 地库B区); None otherwise."""
    s = unicodedata.normalize("NFKC", text)
    m = _PLACE.search(s)
    return re.sub(r"\s+", "", m.group(0)) if m else None


def with_room(unit: str | None, room: str) -> str | None:
    """A room number alone ("房号是502") read against a known unit: 5-101 -> 5-502, 5-1-101 -> 5-1-502;
    None when no building is known or the room is not a number."""
    n = cn_number(room)
    if not unit or n is None or not 0 < n <= 99999:
        return None
    parts = normalize_unit(unit) or normalize_building(unit)
    if parts is None:
        return None
    head = parts.split("-")[:-1] if "-" in parts else [parts]
    return "-".join([*head, str(n)])
