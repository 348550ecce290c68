"""Whether a message is something the assistant can read: Chinese (or some English) words, not
markup, code, keyboard noise or a script it does not read (Arabic, Cyrillic, Thai, ...)."""

from __future__ import annotations

import re

from assistant.text.normalize import normalize

SCRIPT, MARKUP, NOISE = "script", "markup", "noise"

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[a-z\u00c0-\u024f]", re.IGNORECASE)
_TAG = re.compile(r"<\s*/?\s*[a-z!?][^<>]{0,500}>|&#?\w{1,10};", re.IGNORECASE)
_CODE = re.compile(
    r"javascript\s*:|on(?:load|error|click|mouseover)\s*=|\bunion\b.{0,40}\bselect\b|\bselect\b.{0,80}\bfrom\b"
    r"|\b(?:drop|truncate|alter)\s+table\b|\binsert\s+into\b|\bdelete\s+from\b|\bexec(?:ute)?\b\s*\(?\s*xp_"
    r"|['\"]\s*(?:or|and)\s+['\"]?\w+['\"]?\s*=|\bor\s+1\s*=\s*1\b|;\s*--|\bsleep\s*\(|\bwaitfor\s+delay\b",
    re.IGNORECASE)
_WORD = re.compile(r"[a-z]+", re.IGNORECASE)
_VOWELS = re.compile(r"[aeiouy]", re.IGNORECASE)
_CONSONANTS = re.compile(r"[b-df-hj-np-tv-xz]{5,}", re.IGNORECASE)


def unreadable(text: str) -> str | None:
    """Why the assistant cannot read ``text`` (``script``, ``markup`` or ``noise``), or None.

    Any Chinese makes a message readable unless another script outweighs it; messages without
    Chinese are unreadable when they are markup or code, or mostly non-words."""
    t = normalize(text)
    han = len(_HAN.findall(t))
    latin = len(_LATIN.findall(t))
    letters = sum(ch.isalpha() for ch in t)
    other = letters - han - latin                       # letters of scripts the assistant does not read
    if other > max(latin, 2 * han):
        return SCRIPT
    if han:
        return None
    if _TAG.search(t) or _CODE.search(t):
        return MARKUP
    words = [w for w in _WORD.findall(t) if len(w) > 3]     # short ones may be abbreviations (ok, thx, EV)
    if words:
        wordlike = sum(len(w) for w in words if _VOWELS.search(w) and not _CONSONANTS.search(w))
        if wordlike * 2 < sum(len(w) for w in words):      # mostly keyboard mash: zxcvbn, asdkjh
            return NOISE
    symbols = sum(not (ch.isalnum() or ch.isspace()) for ch in t)
    if len(t) >= 8 and symbols * 2 > len(t):
        return NOISE
    return None
