"""Pinyin typed for Chinese words ("tingche怎么收费", "wuye dianhua") back to the words, before NLU and retrieval.

A table of toneless pinyin -> word (``assistant/resources/pinyin/terms.tsv``) covers the estate dictionary
and jieba's common words of 2-4 characters; ``python -m assistant.text.pinyin`` rebuilds it with pypinyin
(app environment). Words used in the estate's own texts (knowledge/,
nlu_data/) win over their homophones. A Latin word is replaced only when it splits entirely into table
keys, and, in a message without Chinese characters, only when most of its Latin words are pinyin
syllables (so English stays English: "change" is also 嫦娥). Pinyin typed a syllable at a time ("bao xiu") is
joined first. ``fix_typos`` then mends homophone typos of the estate's core words (头诉 -> 投诉).
"""

from __future__ import annotations

import contextlib
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path

_LATIN = re.compile(r"[A-Za-z]{4,}")
ROOT = Path(__file__).resolve().parents[2]
DOMAIN_TEXTS = ("knowledge", "nlu_data")  # the estate's own wording decides between homophones
_CJK = re.compile(r"[\u4e00-\u9fff]")
MIN_FREQ = 100  # jieba's common words (estate words always)
RARE = 10        # jieba's count below which a two-character token is no word of its own (拉圾: 3)
_GRAMMAR = re.compile(r"[是的了在吗呢吧啊姓]")    # grammar and surnames (姓李), never a typo of an estate word
COMMON = 1000    # the estate dictionary's count of its core terms (item names have less)
_PARTICLES = frozenset({"a", "o", "e", "ne", "ma", "ba", "la", "ya", "le", "de", "me", "ge", "ni", "wo"})
_LATIN_PAIR = re.compile(r"[A-Za-z]{2}")
_SPACED = re.compile(r"[A-Za-z]+(?:\s+[A-Za-z]+)+")     # Latin words side by side: "bao xiu", "kuaidi gui"


def table_path() -> Path:
    return Path(str(resources.files("assistant") / "resources" / "pinyin" / "terms.tsv"))


@lru_cache(maxsize=1)
def _load() -> tuple[dict[str, str], frozenset[str]]:
    path = table_path()
    if not path.exists():
        return {}, frozenset()
    out, syllables = {}, frozenset[str]()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#syllables "):
            syllables = frozenset(line.split()[1:])
            continue
        key, _, word = line.partition("\t")
        if key and word:
            out[key] = word
    return out, syllables | _PARTICLES


def table() -> dict[str, str]:
    return _load()[0]


def _is_pinyin(word: str, syllables: frozenset[str]) -> bool:
    """True if the word is a run of pinyin syllables (greedy longest first, with backtracking)."""
    w = word.lower()
    ok = [True] + [False] * len(w)
    for end in range(1, len(w) + 1):
        ok[end] = any(ok[start] and w[start:end] in syllables for start in range(max(0, end - 6), end))
    return ok[len(w)]


def _split(word: str, keys: dict[str, str]) -> str | None:
    """The word as table words if it splits entirely into keys (fewest pieces), else None."""
    w = word.lower()
    best: list[list[str] | None] = [None] * (len(w) + 1)
    best[0] = []
    for end in range(1, len(w) + 1):
        for start in range(max(0, end - 24), end - 3):
            prev = best[start]
            piece = keys.get(w[start:end])
            if prev is not None and piece and (best[end] is None or len(prev) + 1 < len(best[end] or [])):
                best[end] = [*prev, piece]
    found = best[len(w)]
    return "".join(found) if found else None


def _joined(text: str, keys: dict[str, str]) -> str:
    """Pinyin typed a syllable or a word at a time ("bao xiu", "la ji", "kuaidi gui") as one word where the
    pieces together are a table word (the longest run first)."""
    syllables = _load()[1]

    def join(m: re.Match[str]) -> str:
        words, out, i = m.group(0).split(), [], 0
        while i < len(words):
            for n in range(min(4, len(words) - i), 1, -1):
                piece = words[i:i + n]
                if "".join(piece).lower() in keys and all(_is_pinyin(w, syllables) for w in piece):
                    out.append("".join(piece))
                    i += n
                    break
            else:
                out.append(words[i])
                i += 1
        return " ".join(out)

    return _SPACED.sub(join, text)


def restore(text: str) -> str:
    """``text`` with pinyin words turned into Chinese words (see the module docstring)."""
    if not _LATIN_PAIR.search(text):
        return text
    keys = table()
    if not keys:
        return text
    text = _joined(text, keys)
    if not _LATIN.search(text):
        return text
    found: dict[str, str] = {}
    for m in _LATIN.finditer(text):
        hanzi = _split(m.group(0), keys)
        if hanzi:
            found[m.group(0)] = hanzi
    if not found:
        return text
    if not _CJK.search(text):
        latin = re.findall(r"[A-Za-z]+", text)
        syllables = _load()[1]
        if sum(_is_pinyin(w, syllables) for w in latin) < 0.8 * len(latin):
            return text
    return _LATIN.sub(lambda m: found.get(m.group(0), m.group(0)), text)


@lru_cache(maxsize=1)
def _homophones() -> dict[str, str]:
    """Toneless pinyin -> the estate's two-character word (a core word of the estate dictionary, or the head or
    tail of one of its compounds that is a common word: 垃圾 of 垃圾房, 物业 of 物业费), for the words no other
    such word sounds like."""
    from pypinyin import lazy_pinyin

    from assistant.text.segment import default_segmenter, userdict_path

    freq = default_segmenter().tokenizer().FREQ
    terms = [parts[0] for parts in (ln.split() for ln in userdict_path().read_text(encoding="utf-8").splitlines())
             if len(parts) > 1 and int(parts[1]) >= COMMON]     # the estate's core terms, not the item names
    words = {w for w in terms if len(w) == 2}
    words |= {piece for w in terms if len(w) > 2 for piece in (w[:2], w[-2:]) if freq.get(piece, 0) >= MIN_FREQ}
    by_sound: dict[str, set[str]] = {}
    for w in words:
        if _CJK.fullmatch(w[0]) and _CJK.fullmatch(w[1]):
            by_sound.setdefault("".join(lazy_pinyin(w)), set()).add(w)
    return {sound: next(iter(ws)) for sound, ws in by_sound.items() if len(ws) == 1}


def warm() -> None:
    """Load the pinyin table and the homophones now, not at the first message (about half a second)."""
    table()
    with contextlib.suppress(ImportError):      # the Rasa environment has no pypinyin
        _homophones()


@lru_cache(maxsize=4096)       # the engine prepares a message several times a turn
def fix_typos(text: str) -> str:
    """Homophone typos of the estate's words ("头诉" -> 投诉, "报休" -> 报修, "拉圾" -> 垃圾, "物叶" -> 物业): a
    two-character token jieba does not know (or hardly), sounding like one estate word and sharing a character
    with it."""
    if not _CJK.search(text):
        return text
    try:
        from pypinyin import lazy_pinyin
    except ImportError:             # the Rasa environment: the client has fixed the text already
        return text
    from assistant.text.segment import default_segmenter

    tk = default_segmenter().tokenizer()
    sounds = _homophones()
    out = []
    for tok in tk.lcut(text):
        if len(tok) == 2 and tk.FREQ.get(tok, 0) < RARE and _CJK.search(tok) and not _GRAMMAR.search(tok):
            word = sounds.get("".join(lazy_pinyin(tok)))
            if word and word != tok and (word[0] == tok[0] or word[1] == tok[1]):
                tok = word
        out.append(tok)
    return "".join(out)


def build_table(out: Path | None = None, min_freq: int = MIN_FREQ) -> Path:
    """Rebuild terms.tsv from the estate dictionary and jieba's dictionary (needs pypinyin)."""
    import jieba
    from pypinyin import Style, lazy_pinyin

    from assistant.text.segment import default_segmenter, userdict_path

    words: dict[str, int] = {}
    with open(Path(jieba.__file__).parent / "dict.txt", encoding="utf-8") as f:
        for line in f:
            w, count, *_ = line.split()
            if 2 <= len(w) <= 4 and int(count) >= min_freq:
                words[w] = int(count)
    for line in userdict_path().read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if parts and len(parts[0]) >= 2:
            words[parts[0]] = max(words.get(parts[0], 0), 10 * int(parts[1]) if len(parts) > 1 else 10**6)
    used: dict[str, int] = {}
    for folder in DOMAIN_TEXTS:
        for path in sorted((ROOT / folder).rglob("*.yml")):
            for w in default_segmenter().cut(path.read_text(encoding="utf-8")):
                used[w] = used.get(w, 0) + 1
    best: dict[str, tuple[str, int]] = {}
    for w, freq in words.items():
        key = "".join(lazy_pinyin(w, style=Style.NORMAL))
        score = used.get(w, 0) * 10**9 + freq
        if key.isascii() and key.isalpha() and len(key) >= 4 and (key not in best or best[key][1] < score):
            best[key] = (w, score)
    syllables = {p for w in words for p in lazy_pinyin(w, style=Style.NORMAL)
                 if p.isascii() and p.isalpha() and p.islower()}
    out = out or table_path()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(f"#syllables {' '.join(sorted(syllables))}\n"
                   + "".join(f"{k}\t{w}\n" for k, (w, _) in sorted(best.items())), encoding="utf-8")
    _load.cache_clear()
    return out


if __name__ == "__main__":
    print(build_table())
