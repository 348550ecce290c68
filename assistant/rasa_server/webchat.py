"""The web chat's socket.io input channel (credentials.yml: ``assistant.rasa_server.webchat.WebChatInput``).

Rasa 3.6's ``SocketIOInput`` with a guard before the message reaches the tracker: the text is
clipped, normalised, moderated and redacted (``assistant.rasa_server.guard``). A stopped message gets the
moderation reply and never reaches Rasa; personal data gets the privacy warning, and Rasa the
redacted text. When a message gets no answer at all because the action server is down (or Rasa
fails), the widget gets the polite "try again later" text instead of silence. The message's
metadata is not kept. Logs ids, never the text.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from sanic import Blueprint

from assistant.dialogue.replies import SERVICE_DOWN
from assistant.rasa_server.guard import Guard

log = logging.getLogger(__name__)
MAX_SESSION_ID = 128


class CountingOutput(SocketIOOutput):
    """The socket.io output, counting what it sent."""

    def __init__(self, out: SocketIOOutput) -> None:
        super().__init__(out.sio, out.bot_message_evt)
        self.sent = 0

    async def _send_message(self, socket_id: str, response: Any) -> None:
        self.sent += 1
        await super()._send_message(socket_id, response)

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any) -> None:
        self.sent += 1
        await super().send_custom_json(recipient_id, json_message, **kwargs)


# Waiting for Rasa: after PATIENCE s the action server's health is checked, so a resident whose answer
# hangs on a frozen action server (Rasa would wait minutes) gets the polite reply within ~4 s.
PATIENCE = 2.0

# The action server's health check; the Rasa process's entry (rasa_main) sets it from its environment.
ACTION_HEALTH_URL = "http://127.0.0.1:5055/health"


def action_health_url() -> str:
    return ACTION_HEALTH_URL


async def actions_up(url: str, timeout: float = 2.0) -> bool:
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session, \
                session.get(url) as resp:
            return resp.status == 200
    except (aiohttp.ClientError, OSError, TimeoutError):
        return False


class WebChatInput(SocketIOInput):
    @classmethod
    def name(cls) -> str:
        return "webchat"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.guard = Guard()
        self.health_url = action_health_url()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        async def guarded(message: UserMessage) -> None:
            await self.handle(message, on_new_message)

        return super().blueprint(guarded)

    async def handle(self, message: UserMessage, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        sender = message.sender_id
        if not isinstance(sender, str) or not sender or len(sender) > MAX_SESSION_ID:
            log.warning("webchat: a message without a usable session id was dropped")
            return
        out = message.output_channel
        if not isinstance(out, SocketIOOutput):
            return
        if not isinstance(message.text, str) or not message.text.strip() or message.text.startswith("/"):
            # the widget's own empty message on opening, or an intent typed as a command: not a resident's
            # words, and Rasa's NLU has nothing to read in them (it failed, and the page opened on the
            # "unavailable" reply)
            log.info("webchat sender=%s: an empty or slash message was not forwarded", sender)
            return
        counting = CountingOutput(out)
        screened = self.guard.screen(sender, message.text)
        for line in screened.replies:
            await counting.send_text_message(sender, line)
        if screened.forward is None:
            return
        message.text = screened.forward
        message.output_channel = counting
        message.metadata = {}
        before = counting.sent
        told = False                    # the polite reply already went out
        task = asyncio.ensure_future(on_new_message(message))
        try:
            done, _ = await asyncio.wait({task}, timeout=PATIENCE)
            if not done and not await actions_up(self.health_url):
                log.error("webchat sender=%s: no answer yet and the action server is down", sender)
                await counting.send_text_message(sender, SERVICE_DOWN)
                told = True
            await task                  # Rasa goes on; a late answer still reaches the widget
        except Exception:  # the resident gets the polite reply, the log the traceback
            log.exception("webchat sender=%s: Rasa failed on the message", sender)
            if not told:
                await counting.send_text_message(sender, SERVICE_DOWN)
            return
        if counting.sent == before and not told and not await actions_up(self.health_url):
            log.error("webchat sender=%s: no answer and the action server is down", sender)
            await counting.send_text_message(sender, SERVICE_DOWN)
