"""The estate's group rules: one YAML file, loaded and checked.

Every problem found is reported at once; each names the file, the line and the field.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from assistant.errors import DataError
from assistant.moderation.pii import CARD_PREFIXES, KINDS, PLACEHOLDERS, PiiSettings
from assistant.text.yamlfile import read_yaml as _read_yaml

DEFAULT_RULES = Path(__file__).resolve().parent / "default_rules.yml"
LINE = "__line__"
ACTIONS = ("warn", "mute_recommendation", "remove_recommendation")
RULE_ACTIONS = ("strike", "fraud_warning")
SPECIAL_RULES = ("ad.link", "ad.solicit", "flood")
_RULE_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")

# Placeholders each reply template may use.
REPLY_FIELDS = {
    "warn": {"label", "reason", "count", "limit", "days"},
    "mute_recommendation": {"label", "reason", "count", "limit", "days"},
    "remove_recommendation": {"label", "reason", "count", "limit", "days"},
    "redact": {"kinds"},
    "fraud_warning": {"official_payment", "estate"},
}
MEMBER_FIELDS = {"greeting": {"rules", "estate"}, "rename": {"estate"},
                 "unknown_unit": {"unit", "estate"}}


class ModerationConfigError(DataError):
    """The rules file has problems; ``problems`` lists every one found."""

    def __init__(self, problems: list[DataError]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) in the moderation rules:\n"
                         + "\n".join(f"  {p}" for p in problems))


@dataclass(frozen=True)
class Rule:
    id: str
    label: str
    reason: str
    action: str = "strike"            # strike | fraud_warning
    strike: bool = True
    enabled: bool = True
    patterns: tuple[re.Pattern[str], ...] = ()
    together: tuple[tuple[re.Pattern[str], ...], ...] = ()   # any combo whose every one matches
    unless: tuple[re.Pattern[str], ...] = ()
    scam_talk_exempt: bool = False
    allowed_domains: tuple[str, ...] = ()        # ad.link
    params: dict[str, float] = field(default_factory=dict)   # flood; ad.solicit: threshold, handle
    markers: str = ""                            # ad.solicit: contact markers (a regex alternation)
    signals: tuple[tuple[str, float, tuple[re.Pattern[str], ...]], ...] = ()   # ad.solicit: name, weight, patterns
    line: int = 0


@dataclass(frozen=True)
class StrikeSettings:
    expire_days: float = 30
    cooldown_seconds: float = 30
    ladder: tuple[str, ...] = ACTIONS
    database: str = "sqlite:///.run/moderation.sqlite3"


@dataclass(frozen=True)
class MemberSettings:
    greeting: str
    rename: str
    unknown_unit: str
    roster: Path | None = None


@dataclass(frozen=True)
class ModerationConfig:
    estate: str
    rules: tuple[Rule, ...]
    pii: PiiSettings
    pii_strike: bool
    placeholders: dict[str, str]
    strikes: StrikeSettings
    replies: dict[str, str]
    members: MemberSettings
    official_payment: str
    group_rules: tuple[str, ...]
    scam_talk: tuple[re.Pattern[str], ...]
    admins: frozenset[str] = frozenset()
    exempt_admins: bool = True
    official_links: tuple[str, ...] = ()    # URL prefixes never moderated
    path: str = ""

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    def with_rule(self, rule_id: str, **changes: Any) -> ModerationConfig:
        """A copy with one rule changed (tests and per-estate overrides in code)."""
        rules = tuple(replace(r, **changes) if r.id == rule_id else r for r in self.rules)
        return replace(self, rules=rules)


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that records each mapping's 1-based line under ``__line__``."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        mapping = super().construct_mapping(node, deep=deep)
        mapping[LINE] = node.start_mark.line + 1
        # Each value's own line, for errors that point at a field.
        mapping["__lines__"] = {k.value: v.start_mark.line + 1 for k, v in node.value
                                if isinstance(k, yaml.ScalarNode)}
        mapping["__items__"] = {k.value: [i.start_mark.line + 1 for i in v.value] for k, v in node.value
                                if isinstance(k, yaml.ScalarNode) and isinstance(v, yaml.SequenceNode)}
        return mapping


def read_yaml(path: Path) -> Any:
    return _read_yaml(path, _LineLoader)


class _Reader:
    """Typed field access that records problems instead of stopping at the first."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.problems: list[DataError] = []

    def bad(self, msg: str, node: dict[str, Any] | None, fld: str, key: str | None = None,
            line: int | None = None) -> None:
        if line is None and isinstance(node, dict):
            line = node.get("__lines__", {}).get(key, node.get(LINE)) if key else node.get(LINE)
        self.problems.append(DataError(msg, path=str(self.path), line=line, field=fld))

    def section(self, node: Any, key: str, where: str, known: set[str]) -> dict[str, Any]:
        value = node.get(key) if isinstance(node, dict) else None
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.bad("must be a mapping", node, where, key)
            return {}
        for k in sorted(set(value) - known - {LINE, "__lines__", "__items__"}, key=str):
            self.bad(f"unknown field {k!r} (known: {', '.join(sorted(known))})", value, f"{where}.{k}", k)
        return value

    def get(self, node: dict[str, Any], key: str, where: str, kind: type | tuple[type, ...],
            default: Any, *, low: float | None = None, high: float | None = None) -> Any:
        if key not in node or node[key] is None:
            return default
        value = node[key]
        fld = f"{where}.{key}" if where else key
        if kind is float:
            kind = (int, float)
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            self.bad(f"must be a {_kind_name(kind)}, not true/false", node, fld, key)
            return default
        if not isinstance(value, kind):
            self.bad(f"must be a {_kind_name(kind)}", node, fld, key)
            return default
        if isinstance(value, (int, float)) and not isinstance(value, bool) and (
                (low is not None and value < low) or (high is not None and value > high)):
            self.bad(f"must be between {low} and {high}", node, fld, key)
            return default
        if isinstance(value, str):
            value = value.strip()
        return value

    def strings(self, node: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
        value = node.get(key)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, (str, int)) and not isinstance(v, bool)
                                                  and str(v).strip() for v in value):
            self.bad("must be a list of non-empty strings", node, f"{where}.{key}", key)
            return ()
        return tuple(str(v).strip() for v in value)

    def regexes(self, node: dict[str, Any], key: str, where: str) -> tuple[re.Pattern[str], ...]:
        out = []
        for i, src in enumerate(self.strings(node, key, where)):
            try:
                out.append(re.compile(src, re.IGNORECASE))
            except re.error as exc:
                items = node.get("__items__", {}).get(key) or []   # the pattern's own line
                self.bad(f"bad regular expression: {exc}", node, f"{where}.{key}[{i}]", key,
                         line=items[i] if i < len(items) else None)
        return tuple(out)

    def template(self, node: dict[str, Any], key: str, where: str, allowed: set[str],
                 default: str) -> str:
        text = self.get(node, key, where, str, default)
        try:
            names = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
        except ValueError as exc:
            self.bad(f"bad template: {exc}", node, f"{where}.{key}", key)
            return default
        unknown = names - allowed
        if unknown:
            self.bad(f"unknown placeholder(s) {', '.join('{' + n + '}' for n in sorted(unknown))}"
                     f" (allowed: {', '.join('{' + n + '}' for n in sorted(allowed))})",
                     node, f"{where}.{key}", key)
            return default
        return text


def _kind_name(kind: Any) -> str:
    names = {bool: "true/false", int: "whole number", float: "number", str: "text", list: "list",
             dict: "mapping"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(dict.fromkeys(names.get(k, k.__name__) for k in kinds))


_TOP = {"estate", "admins", "exempt_admins", "official_payment", "official_links", "group_rules", "scam_talk",
        "strikes", "pii", "replies", "members", "rules"}
_RULE_FIELDS = {"label", "reason", "action", "strike", "enabled", "patterns", "together", "unless",
                "scam_talk_exempt"}
_LINK_FIELDS = {"label", "reason", "strike", "enabled", "allowed_domains"}
_SOLICIT_FIELDS = {"label", "reason", "strike", "enabled", "scam_talk_exempt", "threshold", "handle_weight",
                   "official_weight", "markers", "signals"}
_OFFICIAL = re.compile(r"^https?://[a-z0-9.-]+\.[a-z]{2,}(:\d+)?/\S*$", re.IGNORECASE)
_FLOOD_FIELDS = {"label", "reason", "strike", "enabled", "count", "window_seconds", "similarity",
                 "min_chars", "max_history", "max_senders"}
_FLOOD_LIMITS = {"count": (2, 100, 3), "window_seconds": (1, 86400, 60), "similarity": (0.1, 1.0, 0.8),
                 "min_chars": (0, 1000, 4), "max_history": (2, 1000, 20), "max_senders": (10, 10**7, 5000)}


def load_config(path: str | Path | None = None) -> ModerationConfig:
    """Load and check the rules file (the estate's ``default_rules.yml`` by default)."""
    path = Path(path) if path else DEFAULT_RULES
    raw = read_yaml(path)
    r = _Reader(path)
    if not isinstance(raw, dict):
        raise ModerationConfigError([DataError("the file must be a mapping", path=str(path), line=1)])
    for k in sorted(set(raw) - _TOP - {LINE, "__lines__", "__items__"}, key=str):
        r.bad(f"unknown field {k!r}", raw, str(k), k)

    estate = r.get(raw, "estate", "", str, "本小区")
    official = r.get(raw, "official_payment", "", str, "")
    if not official:
        r.bad("official_payment is required: the fee-fraud warning cites it", raw, "official_payment",
              "official_payment")
    group_rules = r.strings(raw, "group_rules", "")
    scam_talk = r.regexes(raw, "scam_talk", "")
    admins = frozenset(r.strings(raw, "admins", ""))
    exempt_admins = r.get(raw, "exempt_admins", "", bool, True)
    official_links = r.strings(raw, "official_links", "")
    for i, link in enumerate(official_links):
        if not _OFFICIAL.match(link):
            items = raw.get("__items__", {}).get("official_links") or []
            r.bad(f"{link!r} is not a URL prefix like https://wy.jinshan1.cn/ (scheme, host, then a path)",
                  raw, f"official_links[{i}]", "official_links", line=items[i] if i < len(items) else None)

    st = r.section(raw, "strikes", "strikes", {"expire_days", "cooldown_seconds", "ladder", "database"})
    ladder = r.strings(st, "ladder", "strikes") or ACTIONS
    for a in ladder:
        if a not in ACTIONS:
            r.bad(f"unknown action {a!r} (one of {', '.join(ACTIONS)})", st, "strikes.ladder", "ladder")
    strikes = StrikeSettings(
        expire_days=r.get(st, "expire_days", "strikes", float, 30, low=0.001, high=3650),
        cooldown_seconds=r.get(st, "cooldown_seconds", "strikes", float, 30, low=0, high=86400),
        ladder=tuple(ladder),
        database=r.get(st, "database", "strikes", str, StrikeSettings.database))

    pii_keys = set(KINDS) | {"strike", "card_prefixes", "allow_numbers", "placeholders"}
    pi = r.section(raw, "pii", "pii", pii_keys)
    prefixes = r.strings(pi, "card_prefixes", "pii") if "card_prefixes" in pi else CARD_PREFIXES
    for p in prefixes:
        if not re.fullmatch(r"\d+(-\d+)?", p):
            r.bad(f"card prefix {p!r} must be digits or a range like 2221-2720", pi, "pii.card_prefixes",
                  "card_prefixes")
    allow = frozenset(re.sub(r"[\s\-+]", "", a).upper() for a in r.strings(pi, "allow_numbers", "pii"))
    ph = r.section(pi, "placeholders", "pii.placeholders", set(KINDS))
    placeholders = {k: r.get(ph, k, "pii.placeholders", str, PLACEHOLDERS[k]) for k in KINDS}
    pii = PiiSettings(id_card=r.get(pi, "id_card", "pii", bool, True),
                      bank_card=r.get(pi, "bank_card", "pii", bool, True),
                      mobile=r.get(pi, "mobile", "pii", bool, True),
                      plate=r.get(pi, "plate", "pii", bool, False),
                      card_prefixes=tuple(prefixes), allow_numbers=allow)

    rp = r.section(raw, "replies", "replies", set(REPLY_FIELDS))
    replies = {k: r.template(rp, k, "replies", REPLY_FIELDS[k], "") for k in REPLY_FIELDS}
    for k, v in replies.items():
        if not v:
            r.bad("reply text is required", rp or raw, f"replies.{k}", k if rp else "replies")

    mb = r.section(raw, "members", "members", set(MEMBER_FIELDS) | {"roster"})
    roster = r.get(mb, "roster", "members", str, "")
    members = MemberSettings(
        greeting=r.template(mb, "greeting", "members", MEMBER_FIELDS["greeting"],
                            "欢迎加入{estate}业主群！请阅读群规：\n{rules}"),
        rename=r.template(mb, "rename", "members", MEMBER_FIELDS["rename"],
                          "请将群昵称改为“楼号-房号-姓名”，例如 5-101-张三。"),
        unknown_unit=r.template(mb, "unknown_unit", "members", MEMBER_FIELDS["unknown_unit"],
                                "昵称中的房号 {unit} 未在名册中找到，请核对。"),
        roster=(path.parent / roster) if roster else None)

    rules = _rules(r, raw)
    if r.problems:
        raise ModerationConfigError(r.problems)
    return ModerationConfig(
        estate=estate, rules=rules, pii=pii, pii_strike=r.get(pi, "strike", "pii", bool, False),
        placeholders=placeholders, strikes=strikes, replies=replies, members=members,
        official_payment=official, group_rules=group_rules, scam_talk=scam_talk, admins=admins,
        exempt_admins=exempt_admins, official_links=official_links, path=str(path))


def _combos(r: _Reader, body: dict[str, Any], where: str) -> tuple[tuple[re.Pattern[str], ...], ...]:
    """``together``: one list of regexes that must all match, or a list of such lists."""
    value = body.get("together")
    if value is None:
        return ()
    if isinstance(value, list) and value and all(isinstance(v, list) for v in value):
        combos = []
        for i, combo in enumerate(value):
            line = (body.get("__items__", {}).get("together") or [body.get(LINE)] * (i + 1))[i]
            combos.append(r.regexes({"together": combo, LINE: line}, "together", f"{where}[{i}]"))
        return tuple(c for c in combos if c)
    combo = r.regexes(body, "together", where)
    return (combo,) if combo else ()


def _rules(r: _Reader, raw: dict[str, Any]) -> tuple[Rule, ...]:
    node = raw.get("rules")
    if not isinstance(node, dict):
        r.bad("rules must be a mapping of rule id to rule", raw, "rules", "rules")
        return ()
    out: list[Rule] = []
    for rid, body in node.items():
        if rid in (LINE, "__lines__", "__items__"):
            continue
        where = f"rules.{rid}"
        if not isinstance(rid, str) or not _RULE_ID.match(rid):
            r.bad("rule id must be lowercase words joined by dots, like ad.wechat", node, where, rid)
            continue
        if not isinstance(body, dict):
            r.bad("must be a mapping", node, where, rid)
            continue
        known = {"ad.link": _LINK_FIELDS, "ad.solicit": _SOLICIT_FIELDS, "flood": _FLOOD_FIELDS}.get(rid, _RULE_FIELDS)
        for k in sorted(set(body) - known - {LINE, "__lines__", "__items__"}, key=str):
            r.bad(f"unknown field {k!r} (known: {', '.join(sorted(known))})", body, f"{where}.{k}", k)
        label = r.get(body, "label", where, str, "")
        reason = r.get(body, "reason", where, str, "")
        for key, value in (("label", label), ("reason", reason)):
            if not value:
                r.bad(f"{key} is required (it is shown to residents)", body, f"{where}.{key}", key)
        common = dict(id=rid, label=label, reason=reason, line=body.get(LINE, 0),
                      strike=r.get(body, "strike", where, bool, True),
                      enabled=r.get(body, "enabled", where, bool, True))
        if rid == "ad.link":
            domains = tuple(d.lower().lstrip(".") for d in r.strings(body, "allowed_domains", where))
            out.append(Rule(**common, allowed_domains=domains))
        elif rid == "ad.solicit":
            out.append(_solicit(r, body, where, common))
        elif rid == "flood":
            params = {k: r.get(body, k, where, float, d, low=lo, high=hi)
                      for k, (lo, hi, d) in _FLOOD_LIMITS.items()}
            out.append(Rule(**common, params=params))
        else:
            action = r.get(body, "action", where, str, "strike")
            if action not in RULE_ACTIONS:
                r.bad(f"action must be one of {', '.join(RULE_ACTIONS)}", body, f"{where}.action", "action")
            patterns = r.regexes(body, "patterns", where)
            together = _combos(r, body, where)
            if not patterns and not together:
                r.bad("needs patterns or together", body, f"{where}.patterns", "patterns")
            out.append(Rule(**common, action=action, patterns=patterns, together=together,
                            unless=r.regexes(body, "unless", where),
                            scam_talk_exempt=r.get(body, "scam_talk_exempt", where, bool, False)))
    return tuple(out)


def _solicit(r: _Reader, body: dict[str, Any], where: str, common: dict[str, Any]) -> Rule:
    """``ad.solicit``: contact markers, weighted signals and a threshold (see ``solicit.py``)."""
    markers = r.get(body, "markers", where, str, "")
    try:
        re.compile(markers)
    except re.error as exc:
        r.bad(f"bad regular expression: {exc}", body, f"{where}.markers", "markers")
        markers = ""
    params = {"threshold": r.get(body, "threshold", where, float, 1.0, low=0.01, high=100),
              "handle": r.get(body, "handle_weight", where, float, 0.7, low=-100, high=100),
              "official": r.get(body, "official_weight", where, float, -0.6, low=-100, high=100)}
    signals = []
    node = body.get("signals")
    if not isinstance(node, dict) or not [k for k in node if k not in (LINE, "__lines__", "__items__")]:
        r.bad("signals must be a mapping of signal name to {weight, patterns}", body, f"{where}.signals", "signals")
        node = {}
    for name, sig in node.items():
        if name in (LINE, "__lines__", "__items__"):
            continue
        at = f"{where}.signals.{name}"
        if not isinstance(sig, dict):
            r.bad("must be a mapping with weight and patterns", node, at, name)
            continue
        for k in sorted(set(sig) - {"weight", "patterns", LINE, "__lines__", "__items__"}, key=str):
            r.bad(f"unknown field {k!r} (known: patterns, weight)", sig, f"{at}.{k}", k)
        if "weight" not in sig:
            r.bad("weight is required", sig, f"{at}.weight")
        weight = r.get(sig, "weight", at, float, 0.0, low=-100, high=100)
        patterns = r.regexes(sig, "patterns", at)
        if not patterns:
            r.bad("needs patterns", sig, f"{at}.patterns", "patterns")
        signals.append((str(name), float(weight), patterns))
    return Rule(**common, markers=markers, params=params, signals=tuple(signals),
                scam_talk_exempt=r.get(body, "scam_talk_exempt", where, bool, False))
