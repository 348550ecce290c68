"""The garbage item table (``knowledge/garbage_items.yml``): Shanghai's categories with their bins and
local rules, the items, its checker, and the matcher that finds items in a message.

Matching is by jieba words, never raw substrings: the message is segmented with the estate
dictionary plus every item name and alias, and an item matches only as a whole word or word
sequence. An item word glued to another noun (咖啡|胶囊, 酸奶|杯, 塑料|花盆) is a compound the table
does not know: it is reported as unknown, never answered as the component.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from assistant.text.segment import Segmenter, default_segmenter
from assistant.text.yamlfile import LINE

# Shanghai's names first; the national names are aliases (厨余 = 湿, 其他 = 干).
CATEGORIES = ("可回收物", "有害垃圾", "湿垃圾", "干垃圾", "大件垃圾", "装修垃圾")
CATEGORY_ALIASES = {"厨余垃圾": "湿垃圾", "易腐垃圾": "湿垃圾", "餐厨垃圾": "湿垃圾", "其他垃圾": "干垃圾",
                    "残余垃圾": "干垃圾"}
NATIONAL_NAMES = {"湿垃圾": "厨余垃圾", "干垃圾": "其他垃圾"}
GARBAGE_CUE = re.compile(r"垃圾|扔|丢|分类|回收|投放|哪个桶|什么桶|哪类|哪一类|属于|处理")
_DISPOSAL = re.compile(r"垃圾|扔|丢|哪个桶|什么桶|哪类|哪一类|投放|分类")
_PLACES = re.compile(r"垃圾(?:站|房|箱房|桶旁|桶边|厢房|车|清运)")
_CATEGORY_FIELDS = {"bin", "how", "entry", "local"}
_ITEM_FIELDS = {"name", "aliases", "category", "note", "warn", "handover"}
_TABLE_FIELDS = {"id", "title", "topic", "updated", "categories", "items", "unknown"}
_BIN_WORD = re.compile(r"[红蓝绿灰黑棕褐黄紫]色(?:/[红蓝绿灰黑棕褐黄紫]色)?(?:垃圾)?桶")
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,79}$")


def _words(text: str) -> list[str]:
    return text.split()


# Words that may stand right before an item without making a compound (旧电池, 这个电池, 家里的…)
# and right after it (电池这种, 骨头之类); everything else that jieba calls a noun glues.
_NOUNISH = ("n", "vn", "eng", "q", "ng", "nz", "nr", "ns", "nt", "nrt", "nrfg", "an", "j", "l", "i", "x")
# parts of speech that never continue a name: adverbs, adjectives, particles, pronouns
_NOT_GLUE = frozenset(("d", "a", "ad", "c", "p", "u", "uj", "ul", "uz", "uv", "ud", "y", "r", "e", "o"))
_FREE_BEFORE = frozenset(_words(
    "废 旧 坏 破 烂 空 脏 小 新 干净 用过 过期 剩 剩下 吃剩 家里 家 我家 楼下 小区 东西 垃圾 还有 另外 以及 "
    "然后 请问 问下 问 那 那么 这 这些 那些 这种 那种 这个 那个 一些 些 种 个 只 节 块 张 根 袋 包 瓶 盒 堆 件 "
    "双 条 把 颗 粒 片 桶 箱 罐 杯"))
_FREE_AFTER = frozenset(_words(
    "垃圾 东西 之类 什么的 啥的 等 等等 们 类 这种 那种 这些 那些 呢 吗 啊 呀 小区 楼下 今天 明天 晚上 早上 "
    "现在 这边 那边 家里 鼓包 漏液 发烫 发热 膨胀 过期 坏掉"))
# one-character words that may follow an item (电池扔哪, 骨头呢); any other glues (猫砂|铲, 酸奶|杯)
_FREE_NEXT_CHAR = frozenset("扔丢放投倒是算属归和跟与及或呢吗嘛啊呀吧哈的了要该能可怎咋哪还也都就在到去"
                            "这那有没送拿用装交等不会应分处先再又给把被让多少坏破旧烂漏鼓满空啥么、")
# verbs that may follow an item (电池扔掉, 纸巾用过了); any other verb glued to it is part of a name
# jieba reads as a verb (灯管|包装, 窗帘|挂钩, 纸盒|提手)
_FREE_VERBS = frozenset(_words(
    "扔掉 丢掉 扔了 丢了 处理 分类 回收 属于 应该 可以 能够 需要 放到 放在 投放 投到 扔到 丢到 倒掉 倒进 "
    "倒在 算是 归于 用过 用完 用剩 吃剩 吃完 喝完 坏了 破了 碎了 过期 没用 不用 不要 怎么样 拿到 送到 交给 "
    "是不是 算不算 分别 一起 混在 装在 装进 卖钱 能卖 还能 还有 就是 到底 究竟 一般 通常 要不要 能不能 "
    "可不可以 应不应该 也是 都是 是否 看看 问问 知道 告诉 清理 清洗 洗干净 冲洗 晾干 沥干 压扁 拆开 拆掉 取出 "
    "包好 剩下 留着 积攒 攒了 堆着"))
_SUFFIX_ZI = "袋盒瓶杯罐桶箱盆壳皮核片板盖筐篮凳勺刷渣"      # 外卖袋 = 外卖袋子, 酸奶杯 = 酸奶杯子
_NOT_SUBJECT = re.compile(r"垃圾|桶|几点|时间|哪里|在哪|什么时候|罚|志愿|投放点|分类|东西|啥|什么|^(?:这|那|它|我|你)")
_ASKS_CATEGORY = re.compile(
    r"^(?:请问|问一下|问下|想问下?|那)?[，, ]*(?P<subject>[\u4e00-\u9fffA-Za-z0-9]{2,12}?)"
    r"(?:是|属于|算|归|应该是|算是|是属于)"
    r"(?:什么|啥|哪种|哪一种|哪类|哪一类|哪个)(?:类)?垃圾")
Bad = Callable[[str, Path, "int | None", "str | None"], None]


@dataclass(frozen=True)
class Item:
    name: str
    category: str
    aliases: tuple[str, ...] = ()
    note: str = ""
    warn: str = ""          # a safety point said before the category (鼓包的充电宝: 不要投桶)
    handover: str = ""      # never into a bin: where to take it instead (物业前台)
    line: int = 0


@dataclass(frozen=True)
class Category:
    name: str
    bin: str
    how: str = ""
    entry: str = ""
    local: dict[str, str] = field(default_factory=dict)   # item name -> Shanghai's local rule for it

    @property
    def label(self) -> str:
        national = NATIONAL_NAMES.get(self.name)
        return f"{self.name}（{national}）" if national else self.name


@dataclass
class ItemTable:
    id: str
    title: str
    topic: str
    updated: str
    categories: dict[str, Category]
    items: list[Item]
    unknown: str = ""       # the rule of thumb for things the table does not list
    path: str = ""

    def bins(self) -> set[str]:
        return {c.bin for c in self.categories.values()}

    def local_rule(self, item: Item) -> str:
        cat = self.categories.get(item.category)
        if cat is None:
            return ""
        for n in (item.name, *item.aliases):
            if n in cat.local:
                return cat.local[n]
        return ""

    def describe(self, items: list[Item]) -> str:
        """The reply for one or several items: safety points first, then each item's bin."""
        lines = [f"⚠️ {it.warn}" for it in items if it.warn]
        for it in items:
            cat = self.categories[it.category]
            rule = self.local_rule(it)
            if rule:                          # Shanghai's rule first: it may change what to do (牛奶: 倒掉)
                lines.append(f"上海规定：{rule}")
            if it.handover:
                line = f"「{it.name}」不要投进垃圾桶，请送到{it.handover}（按类别属于{cat.label}）。"
            else:
                line = f"「{it.name}」属于{cat.label}，请投放到{cat.bin}。"
            if len(items) == 1 and cat.how and not it.handover:
                line += cat.how
            if it.note:
                line += f"（{it.note}）"
            lines.append(line)
        return "\n".join(lines)

    def describe_unknown(self, names: list[str]) -> str:
        listed = "、".join(f"「{n}」" for n in names)
        cats = "；".join(f"{c.label}投{c.bin}" for c in self.categories.values())
        return (f"速查表里没有{listed}，我不想猜错。{self.unknown}\n各类投放：{cats}。"
                "拿不准时可以问投放点的值守人员。")


@dataclass
class Lookup:
    """What a message names: the table's items (in order) and compounds the table does not know."""

    items: list[Item] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)


class ItemFinder(Protocol):
    def lookup(self, text: str) -> Lookup: ...

    def parts(self, name: str) -> list[Item]: ...

    def find(self, text: str) -> Item | None: ...

    def match(self, text: str, topic: str | None) -> Item | None: ...


def is_disposal_question(text: str, topic: str | None) -> bool:
    """A garbage intent, or a disposal cue in the message."""
    return topic == "garbage" or bool(GARBAGE_CUE.search(text))


def asks_disposal(text: str) -> bool:
    """Does the wording itself ask where something goes (垃圾, 扔, 哪个桶 …; a place such as 垃圾站 or
    垃圾桶旁 does not count)? Needed before saying that a named thing is not in the table."""
    return bool(_DISPOSAL.search(_PLACES.sub("", text)))


class ItemMatcher:
    """Finds the table's items in a message by whole jieba words (see the module docstring)."""

    def __init__(self, table: ItemTable | None, segmenter: Segmenter | None = None) -> None:
        self.table = table
        self._given = segmenter
        self._ready = False
        self._lock = threading.Lock()
        self._names: dict[tuple[str, ...], Item] = {}
        self._longest = 0

    def warm(self) -> None:
        """Load jieba, its tagger and the table's words now (a few seconds), not at the first question."""
        self._prepare()

    def _prepare(self) -> None:
        with self._lock:
            if not self._ready:
                self._build()
                self._ready = True

    def _build(self) -> None:
        table = self.table
        if table and table.items:
            words = [n.lower() for it in table.items for n in (it.name, *it.aliases)]
            taken = set(words)
            variants = {f"{n}子": it for it in table.items for n in (it.name, *it.aliases)
                        if n[-1] in _SUFFIX_ZI and f"{n}子".lower() not in taken}
            words += [v.lower() for v in variants]
            if self._given is not None:
                self._seg = self._given
                self._seg.add_words(words, tag="n")
            else:
                self._seg = _segmenter_with(tuple(sorted(set(words))))
            named = [(n, it) for it in table.items for n in (it.name, *it.aliases)] + list(variants.items())
            for n, item in named:
                key = tuple(w for w, _ in self._seg.tagged(n.lower()))
                self._names.setdefault(key, item)
                self._longest = max(self._longest, len(key))

    def lookup(self, text: str) -> Lookup:
        self._prepare()
        out = Lookup()
        if not self._names:
            return out
        # a word that jieba tags as a noun but starts with an adverb (沙发|太旧, 衣柜|太重) continues no name
        toks = [(w, "d") if len(w) > 1 and f in _NOUNISH and self._seg.tagged(w[0])[0][1] == "d" else (w, f)
                for w, f in self._seg.tagged(text.lower())]
        words = [w for w, _ in toks]
        i = 0
        while i < len(toks):
            n = self._longest_at(words, i)
            if n:
                item = self._names[tuple(words[i:i + n])]
                start, end = i, i + n
                if _glued(toks, start - 1, before=True) or _glued(toks, end, before=False):
                    while start > 0 and _glued(toks, start - 1, before=True):
                        start -= 1
                    while end < len(toks) and _glued(toks, end, before=False):
                        end += 1
                    name = "".join(_original(text, words[start:end]))
                    if name not in out.unknown:
                        out.unknown.append(name)
                elif item not in out.items:
                    out.items.append(item)
                i = end
            else:
                i += 1
        if not out.items and not out.unknown:
            m = _ASKS_CATEGORY.match(text)
            if m and not _NOT_SUBJECT.search(m.group("subject")):
                out.unknown.append(m.group("subject"))
        return out

    def parts(self, name: str) -> list[Item]:
        """The items that make up NAME word by word (塑料瓶玻璃瓶 -> 塑料瓶, 玻璃瓶; 苹果贴纸 -> 苹果, 贴纸), or
        [] when some word is no item. ``lookup`` keeps such a run one unknown thing: it may be a compound."""
        self._prepare()
        words, found, i = [w for w, _ in self._seg.tagged(name.lower())], [], 0
        while i < len(words):
            n = self._longest_at(words, i)
            if not n:
                return []
            found.append(self._names[tuple(words[i:i + n])])
            i += n
        return found

    def _longest_at(self, words: list[str], i: int) -> int:
        """How many words from I form the longest item name (0: none starts there)."""
        return next((n for n in range(min(self._longest, len(words) - i), 0, -1)
                     if tuple(words[i:i + n]) in self._names), 0)

    def find(self, text: str) -> Item | None:
        items = self.lookup(text).items
        return items[0] if items else None

    def match(self, text: str, topic: str | None) -> Item | None:
        """The first item named, when the message is about disposal (garbage intent or a disposal cue)."""
        if not self.table or not self.table.items or not is_disposal_question(text, topic):
            return None
        return self.find(text)


@lru_cache(maxsize=4)
def _segmenter_with(words: tuple[str, ...]) -> Segmenter:
    """A private tokenizer (item words stay out of the retriever's BM25 one) with the estate dictionary
    and these words, started from the retriever's; shared by the matchers of one table."""
    seg = Segmenter(like=default_segmenter())
    seg.add_words(list(words), tag="n")
    return seg


def _glued(toks: list[tuple[str, str]], j: int, *, before: bool) -> bool:
    """Is token j a noun that forms one compound with the item next to it?"""
    if not 0 <= j < len(toks):
        return False
    word, flag = toks[j]
    if word in _FREE_BEFORE if before else word in _FREE_AFTER:
        return False
    if word in CATEGORIES or word in CATEGORY_ALIASES:
        return False
    if before and flag == "q":        # 一个/个 电池: a measure word before the item counts it
        return False
    if not before and len(word) == 1 and "\u4e00" <= word <= "\u9fff":
        return word not in _FREE_NEXT_CHAR and flag not in _NOT_GLUE    # 床垫|太大, 碗|碎了
    if not before and flag in ("v", "vd", "vi") and len(word) > 1:
        return word not in _FREE_VERBS and not GARBAGE_CUE.search(word)
    return flag in _NOUNISH and bool(re.search(r"[\u4e00-\u9fffA-Za-z]", word))


def _original(text: str, words: list[str]) -> list[str]:
    """The words as the resident wrote them (the matcher reads lower case)."""
    joined = "".join(words)
    at = text.lower().find(joined)
    return [text[at:at + len(joined)]] if at >= 0 else words


def check_table(raw: dict[str, Any], path: Path, bad: Bad) -> ItemTable | None:
    """Check a loaded ``garbage_items.yml``; every problem goes to ``bad(message, path, line, field)``."""
    line = raw.get(LINE)
    for key in sorted(set(raw) - _TABLE_FIELDS - {LINE}):
        bad(f"unknown field {key!r}", path, line, str(key))
    cats_raw = raw.get("categories")
    if not isinstance(cats_raw, dict):
        bad("categories must be a mapping", path, line, "categories")
        return None
    categories: dict[str, Category] = {}
    for name, info in cats_raw.items():
        if name == LINE:
            continue
        cline = info.get(LINE) if isinstance(info, dict) else cats_raw.get(LINE)
        canon = CATEGORY_ALIASES.get(str(name), str(name))
        if canon not in CATEGORIES or not isinstance(info, dict):
            bad(f"unknown category {name!r} (one of {', '.join(CATEGORIES)}; "
                f"{', '.join(CATEGORY_ALIASES)} are aliases)", path, cline, "categories")
            continue
        if canon in categories:
            bad(f"category {name!r} given twice (as {canon})", path, cline, "categories")
            continue
        for key in sorted(set(info) - _CATEGORY_FIELDS - {LINE}):
            bad(f"category {name!r}: unknown field {key!r}", path, cline, str(key))
        local = info.get("local") or {}
        if not isinstance(local, dict):
            bad(f"category {name!r}: local must map item names to the local rule", path, cline, "local")
            local = {}
        if not str(info.get("bin") or "").strip():
            bad(f"category {name!r}: missing bin", path, cline, "bin")
        categories[canon] = Category(name=canon, bin=str(info.get("bin") or "").strip(),
                                     how=str(info.get("how") or "").strip(),
                                     entry=str(info.get("entry") or "").strip(),
                                     local={str(k): str(v).strip() for k, v in local.items() if k != LINE})
    bins = {c.bin for c in categories.values()}
    items: list[Item] = []
    for i, it in enumerate(raw.get("items") or []):
        if not isinstance(it, dict):
            bad(f"item #{i + 1} is not a mapping", path, None, "items")
            continue
        iline = it.get(LINE)
        for key in sorted(set(it) - _ITEM_FIELDS - {LINE}):
            bad(f"item {it.get('name')!r}: unknown field {key!r}", path, iline, str(key))
        name, cat = it.get("name"), it.get("category")
        if not isinstance(name, (str, int)) or not str(name).strip():
            bad(f"item #{i + 1}: missing name", path, iline, "name")
            continue
        canon = CATEGORY_ALIASES.get(str(cat), str(cat))
        if canon not in categories:
            bad(f"item {name!r}: unknown category {cat!r}", path, iline, "category")
            continue
        aliases = it.get("aliases") or []
        if not isinstance(aliases, list) or not all(isinstance(a, (str, int)) and str(a).strip() for a in aliases):
            bad(f"item {name!r}: aliases must be a list of names", path, iline, "aliases")
            continue
        note, warn = str(it.get("note") or "").strip(), str(it.get("warn") or "").strip()
        handover = str(it.get("handover") or "").strip()
        for fld, text in (("note", note), ("warn", warn)):
            for colour in _BIN_WORD.findall(text):
                if colour not in bins:
                    bad(f"item {name!r}: {fld} names {colour!r}, not a bin of this table "
                        f"({', '.join(sorted(bins))})", path, iline, fld)
        items.append(Item(name=str(name).strip(), category=canon, aliases=tuple(str(a).strip() for a in aliases),
                          note=note, warn=warn, handover=handover, line=iline or 0))
    seen: dict[str, Item] = {}
    for item in items:
        for n in (item.name, *item.aliases):
            key = n.lower()
            if key in CATEGORIES or key in CATEGORY_ALIASES:
                bad(f"item name {n!r} is a category name", path, item.line, "name")
            if key in seen and seen[key] is not item:
                bad(f"item name {n!r} also used at line {seen[key].line}", path, item.line, "name")
            elif key in seen:
                bad(f"item {item.name!r} lists {n!r} twice", path, item.line, "aliases")
            seen[key] = item
    for cat in categories.values():
        for n in cat.local:
            owner = seen.get(n.lower())
            if owner is None:
                bad(f"category {cat.name!r}: local rule for {n!r}, which is not an item", path,
                    _line_of(cats_raw, cat.name), "local")
            elif owner.category != cat.name:
                bad(f"category {cat.name!r}: local rule for {n!r}, but the item (line {owner.line}) is "
                    f"{owner.category}", path, _line_of(cats_raw, cat.name), "local")
    tid = raw.get("id")
    if not isinstance(tid, str) or not _ID.match(tid):
        bad("item table id must be lowercase letters, digits and '-'", path, line, "id")
        return None
    return ItemTable(id=tid, title=str(raw.get("title") or "垃圾分类速查表"),
                     topic=str(raw.get("topic") or "garbage"), updated="", categories=categories, items=items,
                     unknown=str(raw.get("unknown") or "").strip(), path=str(path))


def _line_of(cats_raw: dict[str, Any], name: str) -> int | None:
    for key, info in cats_raw.items():
        if CATEGORY_ALIASES.get(str(key), str(key)) == name and isinstance(info, dict):
            line = info.get(LINE)
            return int(line) if line is not None else None
    return None


def stray_bins(text: str, table: ItemTable) -> list[str]:
    """Bin colours a garbage entry names that no category of the table uses (绿色桶 in Shanghai)."""
    bins = table.bins()
    return sorted({b for b in _BIN_WORD.findall(text) if b not in bins and b.replace("垃圾", "") not in bins})
