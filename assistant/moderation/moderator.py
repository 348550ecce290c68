"""The moderator: one decision per group message, three strikes per the group rules."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.errors import AssistantError
from assistant.moderation.config import ModerationConfig, Rule, load_config
from assistant.moderation.detect import Views, is_scam_talk, match_rule, outside_links, strip_official, views
from assistant.moderation.flood import FloodTracker
from assistant.moderation.members import JoinReply, Roster, member_joined
from assistant.moderation.pii import LABELS, Finding, redact
from assistant.moderation.solicit import Score, Solicitation
from assistant.moderation.strikes import MemoryStrikeStore, Strike, StrikeStore, utc

if TYPE_CHECKING:
    from assistant.moderation.strikes_sql import SqlStrikeStore

log = logging.getLogger(__name__)

ALLOW, REDACT, FRAUD_WARNING = "allow", "redact", "fraud_warning"
_ACTION_NAMES = {"warn": "提醒", "mute_recommendation": "建议禁言", "remove_recommendation": "建议移出群聊",
                 REDACT: "隐藏个人信息", FRAUD_WARNING: "全群防骗提醒", ALLOW: "放行"}


class ModerationError(AssistantError):
    """A moderation request was refused (e.g. a pardon by someone who is not an admin)."""


@dataclass(frozen=True)
class Message:
    sender_id: str
    conversation_id: str
    text: str
    time: dt.datetime | float | None = None   # aware/naive-UTC datetime or epoch seconds; None = now


@dataclass(frozen=True)
class Decision:
    # allow | redact | warn | mute_recommendation | remove_recommendation | fraud_warning
    action: str
    rule_id: str | None             # the rule that decided the action
    explanation: str                # for admins: which rule and why (never the personal data)
    redacted_text: str              # the message with personal data hidden (the text itself if none)
    reply: str | None = None        # what the assistant says
    audience: str | None = None     # "sender" or "group"
    rules: tuple[str, ...] = ()     # every rule that fired, the deciding one first
    findings: tuple[Finding, ...] = ()
    strikes: int = 0                # the sender's active strikes after this message
    escalation: str | None = None   # the strike step reached, when the message counted as a strike
    extra_replies: tuple[str, ...] = field(default=())

    @property
    def allowed(self) -> bool:
        return self.action == ALLOW


def _when(t: dt.datetime | float | None) -> dt.datetime:
    if t is None:
        return dt.datetime.now(dt.timezone.utc)
    if isinstance(t, (int, float)):
        return dt.datetime.fromtimestamp(float(t), dt.timezone.utc)
    return utc(t)


def store_from_config(cfg: ModerationConfig, root: Path | None = None) -> SqlStrikeStore:
    """The SQL store named by ``strikes.database`` (relative SQLite paths from the project folder)."""
    from assistant.moderation.strikes_sql import SqlStrikeStore

    if root is None:
        from assistant.settings import find_root
        root = find_root()
    return SqlStrikeStore(cfg.strikes.database, root=root)


class Moderator:
    def __init__(self, config: ModerationConfig | None = None, store: StrikeStore | None = None,
                 roster: Roster | None = None) -> None:
        self.config = config or load_config()
        self.store: StrikeStore = store if store is not None else MemoryStrikeStore()
        if roster is None and self.config.members.roster is not None:
            roster = Roster.load(self.config.members.roster)
        self.roster = roster
        flood = self.config.rule("flood")
        params: dict[str, Any] = dict(flood.params) if flood else {}   # numbers from YAML; the tracker converts them
        self.flood = FloodTracker(**params)
        self._solicitation: Solicitation | None = None

    # -- messages ------------------------------------------------------------------------

    def check(self, message: Message) -> Decision:
        cfg = self.config
        now = _when(message.time)
        text = message.text or ""
        redacted, findings = redact(text, cfg.pii, cfg.placeholders)
        scan, official = strip_official(text, cfg.official_links)   # official links are never moderated
        v = views(scan)
        notes: dict[str, str] = {}
        fired = self._fired(message, v, scan, now, official > 0, notes)
        exempt = cfg.exempt_admins and message.sender_id in cfg.admins
        pii_rules = tuple(dict.fromkeys(f.rule_id for f in findings))

        # The deciding rule: the first fired rule in the file's order; personal data only
        # decides when it is configured to count as a strike.
        main = fired[0] if fired else None
        if main is None and findings and cfg.pii_strike:
            main = Rule(id=pii_rules[0], label=LABELS[findings[0].kind], reason="群内禁止公开个人信息")
        striking = next((r for r in ([main] if main else []) + fired if r.strike), None)
        escalation, count = None, 0
        if striking is not None and not exempt:
            escalation, count = self._strike(message, striking, now)

        if main is not None and main.action == FRAUD_WARNING:
            action = FRAUD_WARNING
        elif main is not None and not exempt:
            action = escalation or "warn"
        elif findings:
            action = REDACT
        else:
            action = ALLOW
        if main is None and not findings:
            return Decision(ALLOW, None, "未触发任何规则。", redacted)

        rule_ids = tuple(dict.fromkeys((main.id,) if main else ())) + tuple(
            r for r in tuple(x.id for x in fired) + pii_rules if not main or r != main.id)
        decision = self._decision(action, main, rule_ids, redacted, findings, count, escalation, exempt)
        if main is not None and main.id in notes:
            decision = replace(decision, explanation=decision.explanation + notes[main.id])
        log.info("moderation conversation=%s sender=%s action=%s rules=%s strikes=%d",
                 message.conversation_id, message.sender_id, action, ",".join(rule_ids), count)
        return decision

    def _fired(self, message: Message, v: Views, text: str, now: dt.datetime, official: bool = False,
               notes: dict[str, str] | None = None) -> list[Rule]:
        """The rules that fire, in the file's order; ``notes`` gets what admins should see of a rule's basis."""
        notes = {} if notes is None else notes
        scam = is_scam_talk(v, self.config)
        fired = []
        for rule in self.config.rules:
            if not rule.enabled:
                continue
            if rule.id == "flood":
                key = f"{message.conversation_id}\x1f{message.sender_id}"
                if self.flood.seen(key, v.squeezed, now.timestamp()):
                    fired.append(rule)
            elif rule.id == "ad.link":
                if outside_links(text, rule):
                    fired.append(rule)
            elif rule.id == "ad.solicit":   # the catch-all for ads no specific rule named
                if not (rule.scam_talk_exempt and scam) and not any(r.id.startswith("ad.") for r in fired):
                    score = self._solicit(rule).score(v, official)
                    if score.fired:
                        fired.append(rule)
                        notes[rule.id] = (f"依据：{'、'.join(score.signals)}，得分 {score.score:g}"
                                          f" ≥ {score.threshold:g}。")
            elif match_rule(rule, v, scam):
                fired.append(rule)
        return fired

    def _solicit(self, rule: Rule) -> Solicitation:
        if self._solicitation is None or self._solicitation.rule is not rule:
            self._solicitation = Solicitation(rule)
        return self._solicitation

    def explain(self, text: str) -> Score | None:
        """The disguised-ad score of ``text`` (for admins and the bench); None when that rule is off."""
        rule = self.config.rule("ad.solicit")
        if rule is None or not rule.enabled:
            return None
        scan, official = strip_official(text, self.config.official_links)
        return self._solicit(rule).score(views(scan), official > 0)

    def _strike(self, message: Message, rule: Rule, now: dt.datetime) -> tuple[str, int]:
        st = self.config.strikes
        active = self.store.active(message.conversation_id, message.sender_id, now)
        cooldown = dt.timedelta(seconds=st.cooldown_seconds)
        repeat = any(s.rule_id == rule.id and now - s.at < cooldown for s in active)
        if not repeat:
            self.store.add(Strike(message.conversation_id, message.sender_id, rule.id, now,
                                  now + dt.timedelta(days=st.expire_days)))
            active = self.store.active(message.conversation_id, message.sender_id, now)
        count = max(len(active), 1)
        return st.ladder[min(count, len(st.ladder)) - 1], count

    def _decision(self, action: str, main: Rule | None, rule_ids: tuple[str, ...], redacted: str,
                  findings: list[Finding], count: int, escalation: str | None, exempt: bool) -> Decision:
        cfg = self.config
        kinds = "、".join(dict.fromkeys(f.label for f in findings))
        st = cfg.strikes
        fmt = dict(count=count, limit=len(st.ladder), days=f"{st.expire_days:g}")
        parts: list[str] = []
        replies: list[str] = []
        audience = "sender"
        if main is not None:
            parts.append(f"触发规则 {main.id}（{main.label}）：{main.reason}。")
            if escalation:
                parts.append(f"{st.expire_days:g} 天内第 {count} 次违规，处理：{_ACTION_NAMES[escalation]}。")
            elif exempt:
                parts.append("发送者是管理员，不计违规。")
            if action == FRAUD_WARNING:
                audience = "group"
                replies.append(cfg.replies[FRAUD_WARNING].format(official_payment=cfg.official_payment,
                                                                  estate=cfg.estate))
                if escalation:
                    replies.append(cfg.replies[escalation].format(label=main.label, reason=main.reason, **fmt))
            elif not exempt:
                step = escalation or "warn"
                replies.append(cfg.replies[step].format(label=main.label, reason=main.reason, **fmt))
        others = [r for r in rule_ids if not main or r != main.id]
        if findings:
            tail = "计入违规" if cfg.pii_strike else "属隐私保护，不计违规"
            parts.append(f"消息含有{kinds}，已隐藏（{tail}），请发送者撤回原消息。")
            replies.append(cfg.replies[REDACT].format(kinds=kinds))
        if others:
            parts.append(f"同时触发：{'、'.join(others)}。")
        return Decision(action=action, rule_id=main.id if main else rule_ids[0], explanation="".join(parts),
                        redacted_text=redacted, reply=replies[0] if replies else None, audience=audience,
                        rules=rule_ids, findings=tuple(findings), strikes=count, escalation=escalation,
                        extra_replies=tuple(replies[1:]))

    # -- admins and members --------------------------------------------------------------

    def pardon(self, conversation_id: str, sender_id: str, *, by: str) -> int:
        """Clear a sender's strikes in a group; ``by`` must be an admin when admins are configured."""
        if self.config.admins and by not in self.config.admins:
            raise ModerationError(f"{by!r} is not an admin of this group; only admins can pardon")
        removed = self.store.clear(conversation_id, sender_id)
        log.info("moderation pardon conversation=%s sender=%s by=%s removed=%d",
                 conversation_id, sender_id, by, removed)
        return removed

    def strikes(self, conversation_id: str, sender_id: str, now: dt.datetime | float | None = None) -> int:
        return len(self.store.active(conversation_id, sender_id, _when(now)))

    def on_member_joined(self, nickname: str) -> JoinReply:
        return member_joined(nickname, self.config, self.roster)
