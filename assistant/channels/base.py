"""One message model for every chat platform, and the small interface adapters implement.

An adapter turns a platform's raw input into an ``IncomingMessage`` / ``MemberJoined`` /
``MemberLeft`` (``parse``) and a ``GatewayResult`` into the platform's payloads (``render``).
Everything between (moderation, routing, answering) is the gateway's job.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from assistant.errors import AssistantError

if TYPE_CHECKING:
    from assistant.moderation.moderator import Decision

UTC = dt.timezone.utc

# What an admin action asks the platform (or a human admin) to do.
WARN, MUTE, REMOVE, RECALL = "warn", "mute", "remove", "recall"
ADMIN_ACTIONS = (WARN, MUTE, REMOVE, RECALL)
MODERATION = "moderation"     # route of a message the moderator stopped


class AdapterError(AssistantError):
    """A platform payload could not be understood; ``field`` names the offending field."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.reason = message
        super().__init__(f"[{field}] {message}")


# -- the message model -----------------------------------------------------------------------


def decode_json(raw: Any, what: str) -> Any:
    """A JSON document given as bytes or str, decoded; anything else is returned as it is."""
    if isinstance(raw, (bytes, bytearray)):
        try:
            raw = bytes(raw).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise AdapterError(what, f"not UTF-8 (byte {exc.start})") from None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise AdapterError(what, f"malformed JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    return raw


def now() -> dt.datetime:
    return dt.datetime.now(UTC)


@dataclass(frozen=True)
class IncomingMessage:
    platform: str
    conversation_id: str
    is_group: bool
    sender_id: str
    sender_nickname: str
    text: str
    to_me: bool                          # @mention, reply to the bot, private chat or wake word
    time: dt.datetime = field(default_factory=now)
    message_id: str | None = None        # the platform's id, for recalls

    def is_tome(self) -> bool:
        return self.to_me


@dataclass(frozen=True)
class MemberJoined:
    platform: str
    conversation_id: str
    member_id: str
    nickname: str
    time: dt.datetime = field(default_factory=now)


@dataclass(frozen=True)
class MemberLeft:
    platform: str
    conversation_id: str
    member_id: str
    nickname: str = ""
    time: dt.datetime = field(default_factory=now)


Event = IncomingMessage | MemberJoined | MemberLeft


@dataclass(frozen=True)
class OutgoingMessage:
    conversation_id: str
    text: str
    private_to: str | None = None        # send privately to this sender instead of the conversation
    at: str | None = None                # @-mention this sender in the conversation

    def as_dict(self) -> dict[str, Any]:
        return {"conversation_id": self.conversation_id, "text": self.text, "private_to": self.private_to,
                "at": self.at}


@dataclass(frozen=True)
class AdminAction:
    action: str                          # warn | mute | remove | recall
    conversation_id: str
    target: str                          # the sender concerned
    reason: str                          # the rule id
    message_id: str | None = None        # the message to recall, when the platform gave one

    def as_dict(self) -> dict[str, Any]:
        return {"action": self.action, "conversation_id": self.conversation_id, "target": self.target,
                "reason": self.reason, "message_id": self.message_id}


# -- what the assistant answered, what the gateway made of an event --------------------------------


@dataclass
class Reply:
    route: str
    replies: list[str]
    intent: str | None = None
    confidence: float | None = None
    topic: str | None = None
    sources: list[dict[str, Any]] = field(default_factory=list)
    ticket_id: str | None = None
    latency_ms: float = 0.0
    answer_confidence: float | None = None   # P(the entry answered is the right one); None: no entry answered

    def as_dict(self) -> dict[str, Any]:
        """The stable JSON shape of `ask --json` (fields are only ever added)."""
        return {"route": self.route, "intent": self.intent, "confidence": self.confidence, "topic": self.topic,
                "replies": list(self.replies), "sources": [dict(s) for s in self.sources],
                "ticket_id": self.ticket_id, "answer_confidence": self.answer_confidence}



@dataclass
class GatewayResult:
    outgoing: list[OutgoingMessage] = field(default_factory=list)
    actions: list[AdminAction] = field(default_factory=list)
    route: str | None = None              # the answerer's route, "moderation", "greeting"; None = nothing to do
    decision: Decision | None = None      # the moderator's decision (group messages)
    reply: Reply | None = None            # the answerer's reply, when the message went to it
    forwarded: str | None = None          # the text the answerer saw (redacted, mention stripped)
    notices: list[str] = field(default_factory=list)   # outbox texts delivered before the reply

    @property
    def texts(self) -> list[str]:
        return [m.text for m in self.outgoing]

    def as_reply(self) -> Reply:
        """What ``ask --json`` reports: the answerer's reply, or a ``moderation`` reply."""
        if self.reply is not None and self.route != MODERATION:
            return replace(self.reply, replies=[*self.notices, *self.reply.replies]) if self.notices else self.reply
        return Reply(self.route or MODERATION, self.texts)

    def as_dict(self) -> dict[str, Any]:
        return {"route": self.route, "messages": [m.as_dict() for m in self.outgoing],
                "actions": [a.as_dict() for a in self.actions],
                "decision": None if self.decision is None else {
                    "action": self.decision.action, "rule_id": self.decision.rule_id,
                    "rules": list(self.decision.rules), "strikes": self.decision.strikes},
                "reply": None if self.reply is None else self.reply.as_dict()}


# -- addressed to the bot? ----------------------------------------------------------------------

_BOUNDARY = r"(?=$|[\s,，:：;；.。!！?？、~…\-—)）\]】]|[^\x00-\x7f])"


class Wake:
    """How residents address the bot in text: ``@name`` anywhere, or a wake word at the start.

    ``match`` says whether the text addresses the bot; ``strip`` also returns the text without
    the mentions / wake word, which is what the assistant should see.
    """

    def __init__(self, names: tuple[str, ...] = ("小区助手", "助手", "bot"), words: tuple[str, ...] = ()) -> None:
        self.names = tuple(n for n in names if n)
        self.words = tuple(w for w in words if w)
        alts = "|".join(re.escape(n) for n in sorted(self.names, key=len, reverse=True))
        self._mention = re.compile(rf"(?<![A-Za-z0-9_.])[@＠](?:{alts}){_BOUNDARY}[\s,，:：]*",
                                   re.IGNORECASE) if alts else None
        walts = "|".join(re.escape(w) for w in sorted(self.words, key=len, reverse=True))
        self._word = re.compile(rf"^\s*(?:{walts})(?:[\s,，:：!！~]+|$)", re.IGNORECASE) if walts else None

    def strip(self, text: str) -> tuple[bool, str]:
        hit = False
        if self._mention is not None:
            text, n = self._mention.subn(" ", text)
            hit = n > 0
        if self._word is not None:
            text, n = self._word.subn("", text, count=1)
            hit = hit or n > 0
        return hit, " ".join(text.split())

    def match(self, text: str) -> bool:
        return self.strip(unicodedata.normalize("NFKC", text))[0]


DEFAULT_WAKE = Wake()


# -- the adapter interface -----------------------------------------------------------------------


@runtime_checkable
class Adapter(Protocol):
    platform: str
    supports_admin_actions: bool

    def parse(self, raw: Any) -> Event:
        """The event in a raw platform payload; raises ``AdapterError`` naming the bad field."""
        ...

    def render(self, result: GatewayResult) -> Any:
        """The platform payload(s) for a gateway result."""
        ...


# -- the generic JSON payload (webhook; JSON lines in the terminal) ---------------------------------

MESSAGE, MEMBER_JOINED, MEMBER_LEFT = "message", "member_joined", "member_left"


def _str(data: dict[str, Any], key: str, where: str = "", required: bool = True, default: str = "") -> str:
    name = f"{where}{key}"
    if key not in data or data[key] is None:
        if required:
            raise AdapterError(name, "missing")
        return default
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise AdapterError(name, f"must be a string, got {type(value).__name__}")
    value = str(value)
    if required and not value.strip():
        raise AdapterError(name, "must not be empty")
    return value


def _bool(data: dict[str, Any], key: str, default: bool) -> bool:
    value = data.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise AdapterError(key, f"must be true or false, got {type(value).__name__}")
    return value


def parse_time(value: Any, name: str = "time") -> dt.datetime:
    """Epoch seconds (or milliseconds) or an ISO 8601 string; naive times are UTC; None is now."""
    if value is None:
        return now()
    if isinstance(value, bool):
        raise AdapterError(name, "must be epoch seconds or an ISO 8601 string")
    if isinstance(value, (int, float)):
        try:
            secs = float(value) / 1000 if value > 1e11 else float(value)
            return dt.datetime.fromtimestamp(secs, UTC)
        except (OverflowError, OSError, ValueError):
            raise AdapterError(name, f"epoch seconds out of range: {value!r:.40}") from None
    if isinstance(value, str):
        try:
            t = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise AdapterError(name, f"not an ISO 8601 time: {value[:40]!r}") from None
        return t.replace(tzinfo=UTC) if t.tzinfo is None else t
    raise AdapterError(name, "must be epoch seconds or an ISO 8601 string")


def parse_payload(data: Any, platform: str, wake: Wake = DEFAULT_WAKE) -> Event:
    """The generic JSON event; unknown fields are ignored.

        {"type": "message" | "member_joined" | "member_left",   # default "message"
         "conversation_id": "g1", "is_group": true,              # default true
         "sender": {"id": "u1", "nickname": "5-101-张三"},
         "text": "@助手 垃圾几点扔", "mentions_bot": false, "reply_to_bot": false,
         "message_id": "m1", "time": 1764000000 | "2026-11-23T09:00:00+08:00"}
    """
    if not isinstance(data, dict):
        raise AdapterError("body", f"must be a JSON object, got {type(data).__name__}")
    kind = _str(data, "type", required=False, default=MESSAGE)
    if kind not in (MESSAGE, MEMBER_JOINED, MEMBER_LEFT):
        raise AdapterError("type", f"unknown event type {kind[:40]!r} (message, member_joined, member_left)")
    conversation = _str(data, "conversation_id")
    sender = data.get("sender")
    if not isinstance(sender, dict):
        raise AdapterError("sender", "missing" if sender is None else "must be an object with id and nickname")
    sender_id = _str(sender, "id", "sender.")
    nickname = _str(sender, "nickname", "sender.", required=False)
    when = parse_time(data.get("time"))
    if kind == MEMBER_JOINED:
        return MemberJoined(platform, conversation, sender_id, nickname, when)
    if kind == MEMBER_LEFT:
        return MemberLeft(platform, conversation, sender_id, nickname, when)
    if not isinstance(data.get("text"), str):
        raise AdapterError("text", "missing" if data.get("text") is None else "must be a string")
    text = data["text"]
    is_group = _bool(data, "is_group", True)
    to_me = (not is_group or _bool(data, "mentions_bot", False) or _bool(data, "reply_to_bot", False)
             or wake.match(text))
    message_id = _str(data, "message_id", required=False) or None
    return IncomingMessage(platform, conversation, is_group, sender_id, nickname, text, to_me, when, message_id)
