"""Disguised ads: a small scored rule over structural signals, not a list of ad sentences.

A message is scored from what it does, whatever the wording:
- ``handle``: it carries a contact id (a WeChat/QQ marker such as V, vx, 薇, 威, 微信, 扣扣 next to an
  id-shaped token, or "vx同号"), read through homoglyphs, spacing and emoji between the characters;
- the rule's pattern signals, each with a weight: ``private`` (asks to be contacted privately), ``trade``
  (a sale, a rental, a group buy), ``price``, ``service`` (paid services), ``offer`` (addressed to buyers,
  "有需要的"), ``payment`` (pay or book in private), ``pitch`` (sales talk);
- innocent signals with negative weights (``seeking`` a recommendation, a ``giveaway``, ``social``
  activities, ``lost`` and found) and the estate's official link in the message.

The message is an ad when the weighted sum reaches the rule's threshold (``default_rules.yml``,
rule ``ad.solicit``). Pure Python: it runs in the Rasa environment (Python 3.10, no torch) too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.moderation.config import Rule
from assistant.moderation.detect import _JUNK, _PLUS, _URL, Views

HANDLE, OFFICIAL = "handle", "official"
# Latin look-alikes from other scripts (Greek, Cyrillic, symbols); NFKC has already folded
# full-width, circled and mathematical letters.
_CONFUSABLE = str.maketrans({
    "ν": "v", "ѵ": "v", "√": "v", "ⅴ": "v", "ᴠ": "v", "ѡ": "w", "ԝ": "w", "ω": "w", "х": "x", "χ": "x",
    "а": "a", "α": "a", "в": "b", "β": "b", "с": "c", "ϲ": "c", "е": "e", "ε": "e", "һ": "h", "і": "i",
    "ι": "i", "ј": "j", "к": "k", "κ": "k", "м": "m", "н": "h", "о": "o", "ο": "o", "σ": "o", "р": "p",
    "ρ": "p", "ԛ": "q", "ѕ": "s", "т": "t", "τ": "t", "у": "y", "γ": "y", "υ": "u", "ᴢ": "z", "ℤ": "z",
    "×": "x", "➕": "+", "﹢": "+", "⊕": "+",
})
_NOT_WORD = re.compile(r"[^\w-]+")       # emoji, punctuation, symbols: read as a space
_SPACES = re.compile(r"\s+")
_CJK_GAP = re.compile(r"(?<=[\u3400-\u9fff]) | (?=[\u3400-\u9fff])")   # Chinese takes no spaces
# A run of single letters/digits written apart ("a b c 1 2 3") is read joined.
_SPELLED = re.compile(r"(?<![a-z0-9])[a-z0-9](?: [a-z0-9](?![a-z0-9]))+")
_LONE = r"(?<![a-z0-9])[vw](?![a-z0-9])"      # a lone V or W
# between a marker and the id: 号, 是, a particle, "搜"; up to two Chinese characters after a long marker
_AFTER = re.compile(r" ?(?:号码|号|id|账号)? ?(?:是|为|搜索|搜|在|吧|呀|哦|哈|啊|呗)? ?")
_AFTER_LONG = re.compile(r" ?[\u4e00-\u9fff]{0,2} ?")
_SAME = re.compile(r"(?:同号|同手机|同电话|=手机)")
_SAME_BEFORE = re.compile(r"(?:手机|电话)号? ?(?:同|=|就是|也是) ?$")
_FRAGMENTS = re.compile(r"[a-z0-9_-]+(?: [a-z0-9_-]+)*")


@dataclass(frozen=True)
class Score:
    score: float
    threshold: float
    signals: tuple[str, ...]    # the signals that fired, for admins' explanations and the bench
    handle: str | None = None   # the contact id read, if any

    @property
    def fired(self) -> bool:
        return self.score >= self.threshold


def spaced(norm: str) -> str:
    """``norm`` with look-alike letters folded, symbols and emoji as spaces, no spaces around Chinese."""
    text = norm.translate(_CONFUSABLE).replace("+", " 加 ")
    return _CJK_GAP.sub("", _SPACES.sub(" ", _NOT_WORD.sub(" ", text)).strip())


def find_handle(s: str, markers: re.Pattern[str]) -> str | None:
    """The contact id after a marker in the ``spaced`` text (or "同号"), None when there is none."""
    for m in markers.finditer(s):
        lone = len(m.group(0)) == 1                     # V, 微, 薇: stricter
        after = s[m.end():m.end() + 40]
        rest = after[_skip(_AFTER, after):]
        if _SAME.match(rest) or _SAME_BEFORE.search(s[max(0, m.start() - 8):m.start()]):
            return m.group(0) + "同号"
        tries = (rest,) if lone else (rest, after[_skip(_AFTER_LONG, after):])
        for text in tries:
            handle = _id_at(text, lone)
            if handle:
                return handle
    return None


def _skip(filler: re.Pattern[str], text: str) -> int:
    m = filler.match(text)
    return m.end() if m else 0


def _id_at(text: str, lone: bool) -> str | None:
    frag = _FRAGMENTS.match(text)
    if frag is None:
        return None
    handle = ""
    for part in frag.group(0).split(" "):     # "abc 123" (an emoji between) is one id
        if len(handle) + len(part) > 20:
            break
        handle += part
    idlike = any(c.isdigit() or c in "_-" for c in handle) or (len(handle) >= 6 and not lone)
    return handle if 5 <= len(handle) <= 20 and idlike else None


class Solicitation:
    """The scored rule, compiled once from its ``Rule``."""

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        self.threshold = float(rule.params.get("threshold", 1.0))
        self.handle_weight = float(rule.params.get("handle", 0.7))
        self.official_weight = float(rule.params.get("official", -0.6))
        self.markers = re.compile(f"(?:{rule.markers})|{_LONE}") if rule.markers else None

    def handle(self, norm: str) -> str | None:
        """The contact id in ``norm`` (links left out: a link is not a contact id)."""
        if self.markers is None:
            return None
        text = spaced(_URL.sub(" ", norm))
        joined = _SPELLED.sub(lambda m: m.group(0).replace(" ", ""), text)   # "v x" read as "vx"
        return find_handle(text, self.markers) or (find_handle(joined, self.markers) if joined != text else None)

    def score(self, v: Views, official: bool = False) -> Score:
        """The score of a message; ``official``: it carried one of the estate's official links."""
        handle = self.handle(v.norm)
        total, fired = (self.handle_weight, [HANDLE]) if handle else (0.0, [])
        if official:
            total += self.official_weight
            fired.append(OFFICIAL)
        # the squeezed text, with a currency sign read as 元 and look-alike letters folded
        squeezed = _JUNK.sub("", _PLUS.sub("加", v.norm.replace("¥", "元").translate(_CONFUSABLE)))
        for name, weight, patterns in self.rule.signals:
            if any(p.search(squeezed) for p in patterns):
                total += weight
                fired.append(name)
        return Score(round(total, 4), self.threshold, tuple(fired), handle)
