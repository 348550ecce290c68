"""The gateway between chat platforms and the assistant.

    gateway = Gateway(Moderator(), assistant.ask)
    result = gateway.handle(adapter.parse(raw))
    adapter.render(result)

Every group message is moderated, whether or not it is addressed to the bot. A violation gets
the moderator's replies and admin actions and never reaches the assistant. Personal data is
redacted before anything is forwarded. Texts longer than ``MAX_MESSAGE_CHARS`` are cut first
(head and end kept). Chat commands (``commands``: handlers such as
``assistant.community.CommunityCommands`` for 接龙 and surveys) are consulted next, for every message,
addressed or not ("+1" in the group); the first that takes the text answers it. Otherwise only messages
addressed to the bot (with the @mention or wake word stripped) go to the answerer. Thread-safe:
moderation is serialised (it is fast and keeps strike counts exact); answering runs concurrently.

With an outbox (``assistant.desk.notices``: what Rasa could not push, e.g. the satisfaction question
after an admin resolved a ticket), the notices waiting for a resident's conversation go out with
the reply to that resident's next message to the bot, before the reply; ``deliver_notices`` hands
a long-running adapter those of its platform without waiting for a message. Each notice is
delivered once, whichever gateway process claims it first.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

from assistant.channels.base import (
    DEFAULT_WAKE,
    MODERATION,
    MUTE,
    RECALL,
    REMOVE,
    WARN,
    AdminAction,
    Event,
    GatewayResult,
    IncomingMessage,
    MemberJoined,
    MemberLeft,
    OutgoingMessage,
    Reply,
    Wake,
)
from assistant.dialogue import replies
from assistant.moderation import Decision, Message, Moderator, redact
from assistant.text.normalize import limit, normalize, scrub

if TYPE_CHECKING:
    from assistant.desk.notices import Notice, Outbox

log = logging.getLogger(__name__)

Answerer = Callable[[str, str], Reply]      # (text, sender) -> Reply; Assistant.ask in production
# A chat command handler (e.g. assistant.community's sign-ups): given a moderated message and its
# redacted text (mention stripped), the messages to send, or None when the text is not its command.
ChatCommand = Callable[[IncomingMessage, str], "list[OutgoingMessage] | None"]
COMMAND = "command"           # route of a message a chat command handled


class Routines(Protocol):
    """The group's routines (``assistant.schedule.routines.GroupRoutines``): admins' chat commands,
    discussion-hours reminders, scheduled posts waiting for a platform's groups."""

    def on_message(self, msg: IncomingMessage, text: str) -> tuple[list[OutgoingMessage], bool]: ...

    def deliver(self, platform: str) -> list[OutgoingMessage]: ...

GREETING = "greeting"         # route of a member-joined event
_ALLOWED = ("allow", "redact")
_LADDER = {"warn": WARN, "mute_recommendation": MUTE, "remove_recommendation": REMOVE}


class Gateway:
    def __init__(self, moderator: Moderator, answerer: Answerer, wake: Wake = DEFAULT_WAKE,
                 outbox: Outbox | None = None, routines: Routines | None = None,
                 commands: Sequence[ChatCommand] = ()) -> None:
        self.moderator = moderator
        self.routines = routines
        self.answerer = answerer
        self.commands = list(commands)
        self.wake = wake
        self.outbox = outbox
        self._lock = threading.Lock()

    def handle(self, event: Event) -> GatewayResult:
        if isinstance(event, IncomingMessage):
            return self.on_message(event)
        if isinstance(event, MemberJoined):
            return self.on_member_joined(event)
        if isinstance(event, MemberLeft):
            log.info("gateway platform=%s conversation=%s member left=%s", event.platform,
                     event.conversation_id, event.member_id)
            return GatewayResult()
        raise TypeError(f"not a gateway event: {type(event).__name__}")

    def ask(self, text: str, sender: str | None = None, conversation_id: str = "cli") -> Reply:
        """One addressed group message, as ``ask`` sends it; the reply or a ``moderation`` reply."""
        sender = sender or "cli"
        msg = IncomingMessage("cli", conversation_id, True, sender, sender, text, True)
        return self.on_message(msg).as_reply()

    # -- messages ------------------------------------------------------------------------------

    def on_message(self, msg: IncomingMessage) -> GatewayResult:
        # At most MAX_MESSAGE_CHARS, and ids that can be stored and sent (no lone surrogates).
        msg = replace(msg, text=limit(msg.text or ""), sender_id=scrub(msg.sender_id),
                      conversation_id=scrub(msg.conversation_id),
                      message_id=scrub(msg.message_id) if msg.message_id else msg.message_id)
        text = normalize(msg.text)
        result = GatewayResult()
        if msg.is_group:
            with self._lock:
                decision = self.moderator.check(Message(msg.sender_id, msg.conversation_id, text, msg.time))
            result.decision = decision
            self._moderation_output(msg, decision, result)
            if decision.action not in _ALLOWED:
                result.route = MODERATION
                self._log(msg, result)
                return result
            text = decision.redacted_text
        else:
            cfg = self.moderator.config
            text, _ = redact(text, cfg.pii, cfg.placeholders)
        if self.routines is not None and self._routines(msg, text, result):
            return result                      # an admin's command, answered by the routines

        named, question = self.wake.strip(text)
        if self._command(msg, limit(question), result):
            return result
        if not (msg.is_tome() or named or not msg.is_group):
            self._log(msg, result)
            return result
        question = limit(question)             # normalising and redaction may have made it longer
        result.forwarded = question
        key = _sender_key(msg)
        result.reply = self._answer(question, key)
        result.route = result.reply.route
        if result.route != "handoff":          # an admin has the conversation: the bot stays quiet
            result.notices = [n.text for n in self._claim(key, platform=msg.platform)]
        for line in [*result.notices, *result.reply.replies]:
            if msg.is_group:
                result.outgoing.append(OutgoingMessage(msg.conversation_id, line, at=msg.sender_id))
            else:
                result.outgoing.append(OutgoingMessage(msg.conversation_id, line, private_to=msg.sender_id))
        self._log(msg, result)
        return result

    def _routines(self, msg: IncomingMessage, text: str, result: GatewayResult) -> bool:
        """Group routines on a moderated, redacted message: their replies join the output; True
        when the message was a command. A failing routine is logged and the message goes on."""
        assert self.routines is not None
        try:
            extra, consumed = self.routines.on_message(msg, self.wake.strip(text)[1])   # "@助手 #停水# …" too
        except Exception:
            log.exception("gateway sender=%s group routines failed", msg.sender_id)
            return False
        result.outgoing.extend(extra)
        if consumed:
            result.route = "command"
            self._log(msg, result)
        return consumed

    def _command(self, msg: IncomingMessage, text: str, result: GatewayResult) -> bool:
        """Chat commands come before the answerer, addressed to the bot or not (a "+1" in the group):
        the first handler that takes the text answers it. A failing handler is logged and skipped."""
        for handler in self.commands:
            try:
                out = handler(msg, text)
            except Exception:
                log.exception("gateway sender=%s chat command failed", msg.sender_id)
                continue
            if out is not None:
                result.outgoing.extend(out)
                result.route = COMMAND
                self._log(msg, result)
                return True
        return False

    def _moderation_output(self, msg: IncomingMessage, d: Decision, result: GatewayResult) -> None:
        if d.action == "allow":
            return
        conv, who = msg.conversation_id, msg.sender_id
        lines = ([d.reply] if d.reply else []) + list(d.extra_replies)
        for i, line in enumerate(lines):
            # The first reply goes where the decision says; the rest (escalation, redaction) concern the sender.
            if i == 0 and d.audience == "group":
                result.outgoing.append(OutgoingMessage(conv, line))
            else:
                result.outgoing.append(OutgoingMessage(conv, line, private_to=who))
        reason = d.rule_id or ""
        result.actions.append(AdminAction(RECALL, conv, who, reason, msg.message_id))
        step = d.escalation or d.action
        if step in _LADDER:
            result.actions.append(AdminAction(_LADDER[step], conv, who, reason, msg.message_id))

    def _answer(self, question: str, sender: str) -> Reply:
        try:
            return self.answerer(question, sender)
        except Exception:
            log.exception("gateway sender=%s answerer failed", sender)
            return Reply("fallback", [replies.SERVICE_DOWN])

    def _log(self, msg: IncomingMessage, result: GatewayResult) -> None:
        d = result.decision
        log.info("gateway platform=%s conversation=%s sender=%s message=%s to_me=%s action=%s route=%s notices=%d",
                 msg.platform, msg.conversation_id, msg.sender_id, msg.message_id, result.forwarded is not None,
                 d.action if d else "-", result.route, len(result.notices))

    # -- the outbox ----------------------------------------------------------------------------

    def _claim(self, key: str | None = None, *, platform: str, limit: int = 50) -> list[Notice]:
        """The outbox's notices for one conversation key, or for every key of ``platform``, now
        this gateway's to deliver. A failing outbox is logged and delivers nothing."""
        if self.outbox is None:
            return []
        try:
            if key is not None:
                return self.outbox.claim(key, limit=limit)
            return self.outbox.claim(prefix=f"{platform}:", limit=limit)
        except Exception:
            log.exception("gateway platform=%s outbox unavailable", platform)
            return []

    def deliver_notices(self, platform: str, limit: int = 50) -> list[OutgoingMessage]:
        """Claim the notices waiting for ``platform``'s conversations (keys ``platform:…``, see
        ``_sender_key``) and return them as messages to send now: in a group, mentioning the
        resident; in a private chat, privately. Long-running adapters call this every few seconds.
        The address is read back from the key, taking a group conversation id to end at the first
        ``:``; a key that cannot be read is logged and its notice dropped."""
        out = []
        if self.routines is not None:          # scheduled group posts (assistant/schedule)
            try:
                out.extend(self.routines.deliver(platform))
            except Exception:
                log.exception("gateway platform=%s scheduled posts unavailable", platform)
        for n in self._claim(platform=platform, limit=limit):
            m = _address(n.conversation_id, platform, n.text)
            if m is None:
                log.warning("gateway platform=%s notice %s: no address in its conversation key", platform, n.id)
                continue
            out.append(m)
        if out:
            log.info("gateway platform=%s delivering %d notice(s)", platform, len(out))
        return out

    # -- members -------------------------------------------------------------------------------

    def on_member_joined(self, event: MemberJoined) -> GatewayResult:
        with self._lock:
            join = self.moderator.on_member_joined(event.nickname)
        conv, who = event.conversation_id, event.member_id
        out = [OutgoingMessage(conv, join.greeting, at=who)]
        if join.request:
            # An unknown unit is the roster's business: say it privately.
            private = who if join.unit_known is False else None
            out.append(OutgoingMessage(conv, join.request, private_to=private, at=None if private else who))
        log.info("gateway platform=%s conversation=%s member joined=%s nickname_ok=%s unit_known=%s",
                 event.platform, conv, who, join.nickname_ok, join.unit_known)
        return GatewayResult(outgoing=out, route=GREETING)


def _sender_key(msg: IncomingMessage) -> str:
    """The answerer's conversation key: one per resident per group (or per private chat)."""
    if msg.is_group:
        return f"{msg.platform}:{msg.conversation_id}:{msg.sender_id}"
    return f"{msg.platform}:{msg.sender_id}"


def _address(key: str, platform: str, text: str) -> OutgoingMessage | None:
    """A message to the resident of a conversation key (``_sender_key``'s inverse): ``platform:
    group:sender`` mentions the sender in the group, ``platform:sender`` is a private chat (where
    the chat is the sender, as on Telegram). None when the key is not one of ``platform``'s."""
    head = f"{platform}:"
    if not key.startswith(head) or not key[len(head):]:
        return None
    conversation, sep, sender = key[len(head):].partition(":")
    if not sep:
        return OutgoingMessage(conversation, text, private_to=conversation)
    if not conversation or not sender:
        return None
    return OutgoingMessage(conversation, text, at=sender)
