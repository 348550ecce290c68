"""Telegram: the Bot API through python-telegram-bot (v22, async), long polling.

    bot = TelegramBot(gateway, token)                       # gateway = Gateway(Moderator(), assistant.ask)
    bot.run()                                               # polls until Ctrl-C

The same three steps as every adapter: ``TelegramAdapter.events`` turns an Update into gateway
events, ``Gateway.handle`` decides, ``TelegramAdapter.render`` turns the result into Bot API calls
(plain dicts), which ``TelegramBot.send`` performs with python-telegram-bot.

Addressed to the bot: a private chat, an ``@botusername`` mention (or a text mention of the bot),
a reply to one of the bot's messages, a ``/command@botusername`` (or any command in private), or
a wake word (``@助手``). Edited messages are moderated and answered like new ones.

Admin actions: recall → deleteMessage, mute → restrictChatMember (``mute_seconds``), remove →
banChatMember, warn → only the message. The bot must be a group admin with "delete messages" and
"ban users" rights, and needs privacy mode off (or admin rights) to see every group message.
Telegram forbids bots to write first: a private message to a resident who never started the bot
is posted in the group instead, mentioning them (``private_fallback``).

Notices (``assistant.desk.notices``: the satisfaction question after a ticket is resolved, a handoff
nobody took): when the gateway has an outbox, the bot claims the notices of Telegram conversations
every ``notice_every`` seconds (default 5) and sends them like replies, in the group mentioning
the resident or in the private chat, without waiting for the resident to write.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import re
import weakref
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from assistant.channels.base import (
    DEFAULT_WAKE,
    MUTE,
    RECALL,
    REMOVE,
    AdapterError,
    AdminAction,
    Event,
    GatewayResult,
    IncomingMessage,
    MemberJoined,
    MemberLeft,
    OutgoingMessage,
    Wake,
    decode_json,
    parse_time,
)
from assistant.errors import ConfigError, ServiceError

if TYPE_CHECKING:
    from telegram import Bot, Update
    from telegram.ext import Application, ContextTypes

    from assistant.channels.gateway import Gateway

log = logging.getLogger(__name__)

PLATFORM = "telegram"
DEFAULT_BASE_URL = "https://api.telegram.org/bot"
MESSAGE_KEYS = ("message", "edited_message")
GROUP_TYPES = ("group", "supergroup")
MAX_TEXT = 4096                # a message's limit, in UTF-16 code units
MAX_NAME = 32                  # characters of a nickname shown in an @mention
GREETING = "你好"               # what a bare /start or /help asks


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _utf16_index(text: str) -> dict[int, int]:
    """UTF-16 offset → string index (Telegram's entity offsets count UTF-16 code units)."""
    index, units = {}, 0
    for i, ch in enumerate(text):
        index[units] = i
        units += 2 if ord(ch) > 0xFFFF else 1
    index[units] = len(text)
    return index


def _id(value: Any) -> int | str:
    """A chat / user / message id as Telegram wants it: a number when it is one."""
    text = str(value)
    return int(text) if re.fullmatch(r"-?\d+", text) else text


def _chunks(text: str, limit: int) -> list[str]:
    """``text`` cut into pieces of at most ``limit`` UTF-16 units."""
    out: list[str] = []
    cur: list[str] = []
    units = 0
    for ch in text:
        n = 2 if ord(ch) > 0xFFFF else 1
        if units + n > limit:
            out.append("".join(cur))
            cur, units = [], 0
        cur.append(ch)
        units += n
    if cur or not out:
        out.append("".join(cur))
    return out


# -- reading Updates ------------------------------------------------------------------------------


def _opt(data: dict[str, Any], key: str, where: str) -> dict[str, Any] | None:
    value = data.get(key)
    if value is not None and not isinstance(value, dict):
        raise AdapterError(f"{where}{key}", f"must be an object, got {type(value).__name__}")
    return value


def _obj(data: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = _opt(data, key, where)
    if value is None:
        raise AdapterError(f"{where}{key}", "missing")
    return value


def _ident(data: dict[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if value is None:
        raise AdapterError(f"{where}{key}", "missing")
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).strip():
        raise AdapterError(f"{where}{key}", f"must be a number or a non-empty string, got {type(value).__name__}")
    return str(value)


def _name(user: dict[str, Any]) -> str:
    parts = [user.get("first_name"), user.get("last_name")]
    name = " ".join(p for p in parts if isinstance(p, str) and p.strip())
    return name or (user.get("username") if isinstance(user.get("username"), str) else "") or ""


class TelegramAdapter:
    """Updates (python-telegram-bot objects or Bot API JSON) in, Bot API calls out."""

    platform = PLATFORM
    supports_admin_actions = True

    def __init__(self, username: str = "", bot_id: int | str | None = None, wake: Wake = DEFAULT_WAKE,
                 admin_actions: bool = True, mute_seconds: int = 24 * 3600, private_fallback: bool = True) -> None:
        self.wake = wake
        self.supports_admin_actions = admin_actions
        self.mute_seconds = mute_seconds
        self.private_fallback = private_fallback
        self.username = ""
        self.bot_id: str | None = None
        self.set_identity(bot_id, username)
        self._names: OrderedDict[str, str] = OrderedDict()   # user id → name, for @mentions

    def set_identity(self, bot_id: int | str | None, username: str | None) -> None:
        """The bot's own id and @username (from getMe), to recognise mentions and replies."""
        self.bot_id = None if bot_id is None else str(bot_id)
        self.username = (username or "").lstrip("@").lower()

    # -- parse -----------------------------------------------------------------------------------

    def parse(self, raw: Any) -> Event:
        """The update's event; an update adding several members has several, see ``events``."""
        return self.events(raw)[0]

    def events(self, raw: Any) -> list[Event]:
        """The gateway events in one Update; raises ``AdapterError`` naming the field when there
        is nothing to handle (not a message, no text, only bots joined) or the update is malformed."""
        data = self._decode(raw)
        key = next((k for k in MESSAGE_KEYS if data.get(k) is not None), None)
        if key is None:
            raise AdapterError("message", "no message in this update (handled: message, edited_message)")
        msg = _obj(data, key, "")
        where = f"{key}."
        chat = _obj(msg, "chat", where)
        chat_id = _ident(chat, "id", f"{where}chat.")
        chat_type = chat.get("type")
        if chat_type not in GROUP_TYPES and chat_type != "private":
            raise AdapterError(f"{where}chat.type", f"must be private, group or supergroup, got {chat_type!r:.40}")
        is_group = chat_type in GROUP_TYPES
        when = parse_time(msg.get("date"), f"{where}date")

        if msg.get("new_chat_members") is not None:
            return self._joined(msg, where, chat_id, when)
        if msg.get("left_chat_member") is not None:
            user = _obj(msg, "left_chat_member", where)
            member = _ident(user, "id", f"{where}left_chat_member.")
            if user.get("is_bot") is True:
                raise AdapterError(f"{where}left_chat_member", "a bot left (nothing to do)")
            return [MemberLeft(self.platform, chat_id, member, _name(user), when)]

        sender = _obj(msg, "from", where)
        sender_id = _ident(sender, "id", f"{where}from.")
        nickname = _name(sender)
        self._remember(sender_id, nickname)
        text_key, ent_key = ("text", "entities") if msg.get("text") is not None else ("caption", "caption_entities")
        text = msg.get(text_key)
        if text is None:
            raise AdapterError(f"{where}text", "no text (stickers, photos without caption … are not handled)")
        if not isinstance(text, str):
            raise AdapterError(f"{where}{text_key}", f"must be a string, got {type(text).__name__}")
        entities = msg.get(ent_key) or []
        if not isinstance(entities, list):
            raise AdapterError(f"{where}{ent_key}", "must be a list")
        text, addressed = self._addressing(text, entities, f"{where}{ent_key}", is_group)
        reply = _opt(msg, "reply_to_message", where)
        if reply is not None and self._is_me(reply.get("from")):
            addressed = True
        to_me = not is_group or addressed or self.wake.match(text)
        message_id = _ident(msg, "message_id", where) if msg.get("message_id") is not None else None
        return [IncomingMessage(self.platform, chat_id, is_group, sender_id, nickname, text, to_me, when,
                                message_id)]

    @staticmethod
    def _decode(raw: Any) -> dict[str, Any]:
        if hasattr(raw, "to_dict") and hasattr(raw, "update_id"):       # a telegram.Update
            raw = raw.to_dict()
        raw = decode_json(raw, "update")
        if not isinstance(raw, dict):
            raise AdapterError("update", f"must be a Telegram Update object, got {type(raw).__name__}")
        return raw

    def _joined(self, msg: dict[str, Any], where: str, chat_id: str, when: dt.datetime) -> list[Event]:
        members = msg["new_chat_members"]
        if not isinstance(members, list):
            raise AdapterError(f"{where}new_chat_members", "must be a list of users")
        events: list[Event] = []
        for i, user in enumerate(members):
            if not isinstance(user, dict):
                raise AdapterError(f"{where}new_chat_members[{i}]", "must be a user object")
            member = _ident(user, "id", f"{where}new_chat_members[{i}].")
            if user.get("is_bot") is True:      # the bot itself, or another bot: no greeting
                continue
            self._remember(member, _name(user))
            events.append(MemberJoined(self.platform, chat_id, member, _name(user), when))
        if not events:
            raise AdapterError(f"{where}new_chat_members", "only bots joined (nothing to do)")
        return events

    def _addressing(self, text: str, entities: list[Any], where: str, is_group: bool) -> tuple[str, bool]:
        """The text without the bot's mentions and command, and whether any was there."""
        index = _utf16_index(text)
        cut: list[tuple[int, int]] = []
        addressed = False
        for i, e in enumerate(entities):
            if not isinstance(e, dict):
                raise AdapterError(f"{where}[{i}]", "must be an entity object")
            off, length = e.get("offset"), e.get("length")
            if not (isinstance(off, int) and isinstance(length, int) and not isinstance(off, bool)
                    and not isinstance(length, bool) and off >= 0 and length >= 0):
                raise AdapterError(f"{where}[{i}]", "offset and length must be non-negative whole numbers")
            if off not in index or off + length not in index:
                raise AdapterError(f"{where}[{i}]", f"offset {off} + length {length} is outside the text")
            start, end = index[off], index[off + length]
            span = text[start:end]
            kind = e.get("type")
            if (kind == "mention" and self.username and span.lstrip("@").lower() == self.username) or (
                    kind == "text_mention" and isinstance(e.get("user"), dict) and self._is_me(e["user"])):
                addressed = True
                cut.append((start, end))
            elif kind == "bot_command" and start == 0:
                command, _, target = span.partition("@")
                mine = bool(self.username) and target.lower() == self.username
                if mine or (not target and not is_group):
                    addressed = True
                    cut.append((start, end))
                    if command in ("/start", "/help") and not text[end:].strip():
                        return GREETING, True
        for start, end in sorted(cut, reverse=True):
            text = text[:start] + " " + text[end:]
        return (" ".join(text.split()) if cut else text), addressed

    def _is_me(self, user: Any) -> bool:
        if not isinstance(user, dict):
            return False
        if self.bot_id is not None and str(user.get("id")) == self.bot_id:
            return True
        name = user.get("username")
        return bool(self.username and isinstance(name, str) and name.lower() == self.username)

    def _remember(self, user_id: str, name: str) -> None:
        if not name:
            return
        self._names[user_id] = name
        self._names.move_to_end(user_id)
        while len(self._names) > 10_000:
            self._names.popitem(last=False)

    # -- render ----------------------------------------------------------------------------------

    def render(self, result: GatewayResult) -> list[dict[str, Any]]:
        """Bot API calls, in order: ``{"method": "sendMessage", "chat_id": …, …}``. Keys starting
        with ``_`` are for the sender (``_reason``: the rule id; ``_fallback``: the group message
        to post when a private one is refused), not Telegram."""
        calls: list[dict[str, Any]] = []
        for m in result.outgoing:
            calls.extend(self._messages(m))
        if self.supports_admin_actions:
            for a in result.actions:
                call = self._action(a)
                if call is not None:
                    calls.append(call)
        return calls

    def _messages(self, m: OutgoingMessage) -> list[dict[str, Any]]:
        if m.private_to:
            fallback = OutgoingMessage(m.conversation_id, m.text, at=m.private_to)
            out: list[dict[str, Any]] = [{"method": "sendMessage", "chat_id": _id(m.private_to), "text": chunk}
                                         for chunk in _chunks(m.text, MAX_TEXT)]
            if self.private_fallback and str(m.private_to) != str(m.conversation_id):
                for private, alt in zip(out, self._messages(fallback), strict=False):
                    private["_fallback"] = alt
            return out
        prefix, entities = "", []
        if m.at:
            name = (self._names.get(str(m.at)) or str(m.at))[:MAX_NAME]
            prefix = f"@{name} "
            if isinstance(_id(m.at), int):
                entities = [{"type": "text_mention", "offset": 0, "length": _utf16_len(prefix) - 1,
                             "user": {"id": _id(m.at), "is_bot": False, "first_name": name}}]
        out = []
        for i, chunk in enumerate(_chunks(m.text, MAX_TEXT - _utf16_len(prefix))):
            call: dict[str, Any] = {"method": "sendMessage", "chat_id": _id(m.conversation_id),
                                    "text": (prefix + chunk) if i == 0 else chunk}
            if entities and i == 0:
                call["entities"] = entities
            out.append(call)
        return out

    def _action(self, a: AdminAction) -> dict[str, Any] | None:
        base = {"chat_id": _id(a.conversation_id), "_reason": a.reason}
        if a.action == RECALL:
            if a.message_id is None:
                return None
            return {"method": "deleteMessage", **base, "message_id": _id(a.message_id)}
        if a.action == MUTE:
            until = int(dt.datetime.now(dt.timezone.utc).timestamp()) + self.mute_seconds
            return {"method": "restrictChatMember", **base, "user_id": _id(a.target),
                    "permissions": _NO_PERMISSIONS, "until_date": until}
        if a.action == REMOVE:
            return {"method": "banChatMember", **base, "user_id": _id(a.target)}
        return None     # warn: the gateway's message is the warning


_NO_PERMISSIONS = {p: False for p in (
    "can_send_messages", "can_send_audios", "can_send_documents", "can_send_photos", "can_send_videos",
    "can_send_video_notes", "can_send_voice_notes", "can_send_polls", "can_send_other_messages",
    "can_add_web_page_previews", "can_invite_users")}


# -- running ----------------------------------------------------------------------------------------


class TelegramBot:
    """Long polling with python-telegram-bot: every Update through the gateway, the result sent."""

    def __init__(self, gateway: Gateway, token: str, base_url: str | None = None, *,
                 adapter: TelegramAdapter | None = None, concurrent_updates: int = 8,
                 poll_timeout: float = 30, notice_every: float = 5.0) -> None:
        from telegram import Update
        from telegram.ext import Application, TypeHandler

        if not token or not token.strip():
            raise ConfigError("the Telegram bot needs a token (from @BotFather)")
        self.gateway = gateway
        self.adapter = adapter or TelegramAdapter(wake=gateway.wake)
        self.poll_timeout = poll_timeout
        if not notice_every > 0:
            raise ValueError("notice_every must be a positive number of seconds")
        self.notice_every = notice_every
        self.processed = 0          # updates handled (answered, acted on or skipped)
        self._notices: asyncio.Task[None] | None = None
        self._notices_stop: asyncio.Event | None = None
        # Updates run concurrently, but one conversation's are answered in the order they came.
        self._turns: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        builder = Application.builder().token(token.strip()).concurrent_updates(concurrent_updates)
        builder = builder.post_init(self._started).post_stop(self._stop_notices)
        if base_url:
            builder = builder.base_url(base_url)
        self.app: Application = builder.build()
        self.app.add_handler(TypeHandler(Update, self._on_update))
        self.app.add_error_handler(self._on_error)

    async def _identify(self, app: Application) -> None:
        self.adapter.set_identity(app.bot.id, app.bot.username)
        log.info("telegram bot id=%s ready", app.bot.id)

    async def _started(self, app: Application) -> None:
        await self._identify(app)
        self._start_notices()

    def run(self) -> None:
        """Poll until Ctrl-C (or SIGTERM)."""
        self.app.run_polling(allowed_updates=list(MESSAGE_KEYS), timeout=dt.timedelta(seconds=self.poll_timeout))

    async def start(self, poll_interval: float = 0.0) -> None:
        """Start polling inside a running event loop (``run`` does it all for a script)."""
        await self.app.initialize()
        await self._identify(self.app)
        await self.app.start()
        assert self.app.updater is not None
        await self.app.updater.start_polling(poll_interval=poll_interval,
                                             timeout=dt.timedelta(seconds=self.poll_timeout),
                                             allowed_updates=list(MESSAGE_KEYS))
        self._start_notices()

    async def stop(self) -> None:
        await self._stop_notices()
        if self.app.updater is not None and self.app.updater.running:
            await self.app.updater.stop()
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()

    async def _on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        try:
            await self.handle(update)
        finally:
            self.processed += 1

    async def handle(self, update: Any) -> list[GatewayResult]:
        """One update: parse, the gateway (in a worker thread: the answerer blocks), send."""
        try:
            events = self.adapter.events(update)
        except AdapterError as exc:
            log.debug("telegram update=%s skipped: %s", getattr(update, "update_id", "-"), exc.field)
            return []
        results = []
        for event in events:
            turn = self._turns.get(event.conversation_id)
            if turn is None:
                turn = self._turns[event.conversation_id] = asyncio.Lock()
            async with turn:
                result = await asyncio.to_thread(self.gateway.handle, event)
                await self.send(self.adapter.render(result))
            results.append(result)
        return results

    # -- notices -------------------------------------------------------------------------------

    def _start_notices(self) -> None:
        if self.gateway.outbox is None or self._notices is not None:
            return
        self._notices_stop = asyncio.Event()
        self._notices = asyncio.get_running_loop().create_task(self._notice_loop(self._notices_stop),
                                                               name="telegram-notices")

    async def _stop_notices(self, _app: Application | None = None) -> None:
        """Let a delivery in progress finish (a claimed notice is sent, not lost), then stop."""
        task, stop = self._notices, self._notices_stop
        self._notices = self._notices_stop = None
        if task is None or stop is None:
            return
        stop.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), 30)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _notice_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.deliver_notices()
            with contextlib.suppress(asyncio.TimeoutError, TimeoutError):
                await asyncio.wait_for(stop.wait(), self.notice_every)

    async def deliver_notices(self) -> int:
        """Send the outbox's notices for Telegram conversations now; how many were claimed."""
        try:
            out = await asyncio.to_thread(self.gateway.deliver_notices, self.adapter.platform)
            if out:
                await self.send(self.adapter.render(GatewayResult(outgoing=out)))
        except Exception:
            log.exception("telegram notices failed")
            return 0
        return len(out)

    async def send(self, calls: list[dict[str, Any]]) -> None:
        for call in calls:
            await self._perform(call)

    async def _perform(self, call: dict[str, Any]) -> None:
        from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError

        method, chat = call["method"], call.get("chat_id")
        for attempt in (1, 2):
            try:
                await self._api(self.app.bot, call)
                return
            except RetryAfter as exc:       # flood control: wait once as told, then retry
                if attempt == 2:
                    log.warning("telegram %s chat=%s rate limited twice, dropped", method, chat)
                    return
                delay = exc.retry_after
                await asyncio.sleep(min(delay.total_seconds() if isinstance(delay, dt.timedelta) else delay, 60))
            except (Forbidden, BadRequest) as exc:
                if "_fallback" in call:     # the resident never started a private chat with the bot
                    log.info("telegram private message to %s refused (%s): posted in the group", chat,
                             type(exc).__name__)
                    await self._perform(call["_fallback"])
                else:
                    log.warning("telegram %s chat=%s refused: %s", method, chat, type(exc).__name__,
                                exc_info=log.isEnabledFor(logging.DEBUG))
                return
            except TelegramError as exc:
                log.warning("telegram %s chat=%s failed: %s", method, chat, type(exc).__name__,
                            exc_info=log.isEnabledFor(logging.DEBUG))
                return

    @staticmethod
    async def _api(bot: Bot, call: dict[str, Any]) -> None:
        from telegram import ChatPermissions, MessageEntity

        method = call["method"]
        chat = call["chat_id"]
        if method == "sendMessage":
            entities = [MessageEntity.de_json(e, bot) for e in call.get("entities", [])] or None
            await bot.send_message(chat, call["text"], entities=entities)
            return
        if method == "deleteMessage":
            if isinstance(call["message_id"], int):
                await bot.delete_message(chat, call["message_id"])
            return
        user = call.get("user_id")
        if not isinstance(user, int):
            log.warning("telegram %s chat=%s: user id is not a number, skipped", method, chat)
            return
        if method == "restrictChatMember":
            until = dt.datetime.fromtimestamp(call["until_date"], dt.timezone.utc)
            await bot.restrict_chat_member(chat, user, ChatPermissions(**call["permissions"]), until_date=until)
        elif method == "banChatMember":
            await bot.ban_chat_member(chat, user)
        else:
            raise ValueError(f"unknown Bot API call {method!r}")

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("telegram update=%s failed", getattr(update, "update_id", "-"), exc_info=context.error)


def check_token(token: str, base_url: str | None = None, timeout: float = 15) -> str:
    """The bot's @username from getMe; ``ConfigError`` when Telegram rejects the token,
    ``ServiceError`` when the Bot API cannot be reached."""
    from telegram import Bot
    from telegram.error import InvalidToken, NetworkError, TelegramError

    async def get_me() -> str:
        bot = Bot(token.strip(), base_url=base_url or DEFAULT_BASE_URL)
        async with bot:
            return bot.username

    try:
        return asyncio.run(asyncio.wait_for(get_me(), timeout))
    except InvalidToken:
        raise ConfigError("Telegram rejected the bot token (check it with @BotFather)") from None
    except (NetworkError, TimeoutError) as exc:
        raise ServiceError(f"cannot reach the Telegram Bot API at {base_url or DEFAULT_BASE_URL}: "
                           f"{type(exc).__name__}") from None
    except TelegramError as exc:
        raise ServiceError(f"the Telegram Bot API refused getMe: {type(exc).__name__}") from None
