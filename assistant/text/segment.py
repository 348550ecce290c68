"""Chinese word segmentation with the estate's own jieba dictionary."""

from __future__ import annotations

import logging
import re
import sys
import threading
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jieba

# Question words and particles that carry no topic.
STOPWORDS = frozenset(
    ["的", "了", "吗", "呢", "吧", "啊", "呀", "哦", "嘛", "么", "啥", "咋", "怎么", "怎么样", "怎样", "如何",
     "什么", "哪里", "哪儿", "哪", "在哪", "谁", "请问", "我", "你", "他", "她", "我们", "你们", "是", "有", "没有",
     "要", "想", "能", "可以", "会", "一下", "一个", "这个", "那个", "这", "那", "就", "都", "还", "也", "和", "与",
     "或", "在", "到", "给", "把", "被", "吗?", "呢?", "多少", "几", "个", "请", "您", "好", "下", "里", "上", "去",
     "过", "着", "又", "很", "太", "需要", "应该", "知道", "问", "问问", "帮", "帮忙"]
)
_KEEP = re.compile(r"[\w\u4e00-\u9fff]")


def userdict_path() -> Path:
    return Path(str(resources.files("assistant") / "resources" / "jieba" / "estate.txt"))


class Segmenter:
    """A private ``jieba.Tokenizer`` (never the global one) loaded with the estate terms."""

    def __init__(self, userdict: Path | None = None, *, like: Segmenter | None = None) -> None:
        """``like``: start from that segmenter's dictionary (same user dictionary) instead of loading
        jieba's again: a copy of its word table that shares the words, ~15 MiB instead of ~70."""
        self._tk = jieba.Tokenizer()
        self._userdict = userdict or userdict_path()
        self._like = like
        self._lock = threading.Lock()
        self._ready = False
        self._pos: Any = None

    def _init(self) -> None:
        with self._lock:
            if not self._ready:
                # jieba installs its own DEBUG handler at import; keep its chatter out of our logs.
                logging.getLogger("jieba").setLevel(logging.WARNING)
                if self._like is not None:
                    base = self._like.tokenizer()
                    self._tk.FREQ, self._tk.total = dict(base.FREQ), base.total
                    self._tk.user_word_tag_tab = dict(base.user_word_tag_tab)
                    self._tk.initialized = True
                else:
                    self._tk.initialize()
                    if self._userdict.exists():
                        self._tk.load_userdict(str(self._userdict))
                self._ready = True

    def tokenizer(self) -> jieba.Tokenizer:
        """The loaded ``jieba.Tokenizer`` (for a segmenter made ``like`` this one)."""
        self._init()
        return self._tk

    def add_words(self, words: list[str], tag: str | None = None) -> None:
        self._init()
        for w in words:
            self._tk.add_word(w, freq=2000, tag=tag)

    def tagged(self, text: str) -> list[tuple[str, str]]:
        """(word, part of speech) pairs, jieba's tags ("n" noun, "v" verb, "q" measure word ...)."""
        self._init()
        with self._lock:
            if self._pos is None:
                import jieba.posseg

                pos = jieba.posseg.POSTokenizer(self._tk)
                # its word -> tag table reads every dictionary word again: keep the tokenizer's own word
                # objects and one object per tag (~40 MiB less once the heap is trimmed)
                table, freq = pos.word_tag_tab, self._tk.FREQ
                pos.word_tag_tab = {w: sys.intern(table[w]) for w in freq if w in table} | \
                    {w: sys.intern(t) for w, t in table.items() if w not in freq}
                self._pos = pos
        return [(p.word, p.flag) for p in self._pos.lcut(text) if p.word.strip()]

    def cut(self, text: str) -> list[str]:
        self._init()
        return [t for t in self._tk.lcut(text) if t.strip()]

    def terms(self, text: str) -> list[str]:
        """Tokens for lexical search: no punctuation, no stopwords, lower case."""
        out = []
        for tok in self.cut(text.lower()):
            if _KEEP.search(tok) and tok not in STOPWORDS:
                out.append(tok)
        return out


@lru_cache(maxsize=1)
def default_segmenter() -> Segmenter:
    return Segmenter()
