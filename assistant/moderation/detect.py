"""Text rules: ads, abuse, fee fraud (regex rules from the YAML) and links outside the allowlist."""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.moderation.config import ModerationConfig, Rule
from assistant.text.normalize import normalize

MAX_SCAN = 4000   # long messages: the head and the tail are scanned, where ads sit
_JUNK = re.compile(r"[\W_]+")
_PLUS = re.compile(r"[+＋➕]")
_DOT = re.compile(r"(?<=[a-z0-9])\s*(?:[。｡．·]|点|點|\(\.\)|\[\.\]|\(dot\)|\[dot\])\s*(?=[a-z])")
_TLDS = ("com|cn|net|org|top|xyz|cc|vip|info|io|me|app|shop|club|site|online|ink|ltd|link|pro|biz|tv|co|"
         "hk|icu|fun|wang|xin|asia|live|work|store|tech|cloud|dev|ly|gl|gd|im|to|ws|buzz|life|win|bid|ren")
_URL = re.compile(
    r"(?:(?:https?|ftp)://|www\.)[^\s<>\"'，。！？、）】]+"
    rf"|(?<![@\w.-])(?:[a-z0-9](?:[a-z0-9-]{{0,61}}[a-z0-9])?\.)+(?:{_TLDS})(?![a-z0-9-])(?:[:/?#][^\s，。！？、）】]*)?",
    re.IGNORECASE)
_HOST = re.compile(r"^(?:[a-z]+://)?(?:[^@/\s]*@)?([^/:?#\s]+)", re.IGNORECASE)


@dataclass(frozen=True)
class Views:
    """The forms of one message the rules look at."""
    norm: str       # simplified, half-width, lower case
    squeezed: str   # ``norm`` without spaces, punctuation, symbols or emoji; "+" read as 加


def views(text: str) -> Views:
    if len(text) > MAX_SCAN:
        text = text[:MAX_SCAN // 2] + "\n" + text[-MAX_SCAN // 2:]
    norm = normalize(text).lower()
    squeezed = _JUNK.sub("", _PLUS.sub("加", norm))
    return Views(norm, squeezed)


def is_scam_talk(v: Views, cfg: ModerationConfig) -> bool:
    return any(p.search(v.squeezed) for p in cfg.scam_talk)


def match_rule(rule: Rule, v: Views, scam_talk: bool) -> bool:
    """True when a regex rule fires on the message."""
    if not rule.enabled or (rule.scam_talk_exempt and scam_talk):
        return False
    s = v.squeezed
    hit = any(p.search(s) for p in rule.patterns) or \
        any(all(p.search(s) for p in combo) for combo in rule.together)
    return hit and not any(p.search(s) for p in rule.unless)


def hosts(text: str) -> list[str]:
    """Host names of the links in ``text`` (lower case; "。" and "点" read as dots)."""
    norm = _DOT.sub(".", normalize(text).lower())
    out = []
    for m in _URL.finditer(norm):
        h = _HOST.match(m.group(0))
        if h:
            out.append(h.group(1).rstrip(".").lower())
    return out


_SCHEME = re.compile(r"^(?:https?://)?([^/?#]*)(.*)$", re.IGNORECASE | re.DOTALL)


def _link_key(url: str) -> str:
    """A link compared by prefix: no scheme (http and https alike), host in lower case, the rest as written."""
    m = _SCHEME.match(url)
    return m.group(1).lower() + m.group(2) if m else url


def strip_official(text: str, prefixes: tuple[str, ...]) -> tuple[str, int]:
    """``text`` (normalised) without the estate's official links, and how many there were."""
    text = normalize(text)
    if not prefixes:
        return text, 0
    keys = tuple(_link_key(p) for p in prefixes)
    found = 0

    def drop(m: re.Match[str]) -> str:
        nonlocal found
        if _link_key(m.group(0)).startswith(keys):
            found += 1
            return " "
        return m.group(0)

    return _URL.sub(drop, text), found


def allowed_host(host: str, domains: tuple[str, ...]) -> bool:
    return any(host == d or host.endswith("." + d) for d in domains)


def outside_links(text: str, rule: Rule) -> int:
    """How many links point outside the allowed domains."""
    if not rule.enabled:
        return 0
    if len(text) > MAX_SCAN:
        text = text[:MAX_SCAN // 2] + "\n" + text[-MAX_SCAN // 2:]
    return sum(not allowed_host(h, rule.allowed_domains) for h in hosts(text))
