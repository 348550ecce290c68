"""Text normalisation for residents' messages: width, script, whitespace, emoji."""

from __future__ import annotations

import re
import unicodedata

import zhconv

from assistant.text.pinyin import fix_typos, restore

# Control and format characters, and lone surrogates (no valid UTF-8: they cannot be sent or stored).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_SPACE = re.compile(r"\s+")
# Pictographs, dingbats, flags, variation selectors, skin tones, ZWJ.
_EMOJI = re.compile(
    "[\U0001f000-\U0001faff\U00002600-\U000027bf\U0001f1e6-\U0001f1ff"
    "\U0000fe00-\U0000fe0f\U0001f3fb-\U0001f3ff\u200d\u2b00-\u2bff\u2300-\u23ff]+"
)
_WORDLIKE = re.compile(r"[\w\u4e00-\u9fff]")
MAX_CHARS = 240            # what NLU and retrieval read of a message
MAX_MESSAGE_CHARS = 2000  # the longest message any channel accepts; longer ones are cut (``limit``)
QUERY_CHARS = 160          # what retrieval embeds of a prepared message (head and end)


def normalize(text: str) -> str:
    """Full-width to half-width, traditional to simplified, control chars and extra spaces removed."""
    text = unicodedata.normalize("NFKC", text or "")
    text = _CONTROL.sub(" ", text)
    text = zhconv.convert(text, "zh-cn")
    return _SPACE.sub(" ", text).strip()


def strip_emoji(text: str) -> str:
    return _SPACE.sub(" ", _EMOJI.sub(" ", text)).strip()


def is_blank(text: str) -> bool:
    """True when nothing word-like is left: empty, spaces, punctuation or emoji only."""
    return not _WORDLIKE.search(strip_emoji(text))


def clip(text: str, limit: int = MAX_CHARS) -> str:
    """Keep a long message's head and its end, where residents put the question."""
    if len(text) <= limit:
        return text
    head = limit // 4
    return text[:head] + " … " + text[-(limit - head - 3):]


def limit(text: str) -> str:
    """A message as channels accept it: at most ``MAX_MESSAGE_CHARS`` (head and end kept)."""
    return clip(text, MAX_MESSAGE_CHARS)


def scrub(value: str) -> str:
    """An id or text made encodable: each lone surrogate becomes its escape (``\\udc80``), so
    distinct ids stay distinct."""
    if not _SURROGATE.search(value):
        return value
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


def prepare(text: str) -> str:
    """What the engine sends to NLU and retrieval (pinyin of Chinese words written as the words, homophone
    typos of the estate's words fixed)."""
    return clip(fix_typos(restore(normalize(text))))


def query_text(text: str) -> str:
    """What retrieval embeds of a (prepared) query: emoji out, at most ``QUERY_CHARS`` (head and end).
    The Rasa process embeds ``query_text(prepare(message))`` for the action server (knowledge/shared.py)."""
    return clip(strip_emoji(prepare(text)) or text, QUERY_CHARS)


_LATIN = re.compile(r"[A-Za-z]")
_HAN = re.compile(r"[\u4e00-\u9fff]")


def mostly_latin(text: str, share: float = 0.7) -> bool:
    """Written mostly in Latin letters (English, or pinyin the estate words did not restore): at least two
    words, and ``share`` of the letters and Chinese characters are Latin."""
    latin, han = len(_LATIN.findall(text)), len(_HAN.findall(text))
    return len(re.findall(r"[A-Za-z]+", text)) >= 2 and latin / max(1, latin + han) >= share
