"""Chat platform adapters: one message model, one small interface; terminal, webhook, Telegram.

    from assistant.channels import TerminalAdapter, run_terminal, serve_webhook
"""

from __future__ import annotations

from assistant.channels.base import (
    ADMIN_ACTIONS,
    DEFAULT_WAKE,
    MUTE,
    RECALL,
    REMOVE,
    WARN,
    Adapter,
    AdapterError,
    AdminAction,
    Event,
    IncomingMessage,
    MemberJoined,
    MemberLeft,
    OutgoingMessage,
    Wake,
    parse_payload,
    parse_time,
)
from assistant.channels.telegram import TelegramAdapter, TelegramBot
from assistant.channels.terminal import TerminalAdapter, run_terminal
from assistant.channels.webhook import (
    WebhookAdapter,
    WebhookServer,
    make_webhook_server,
    serve_webhook,
    sign,
    signed_headers,
    verify,
)

__all__ = [
    "ADMIN_ACTIONS",
    "DEFAULT_WAKE",
    "MUTE",
    "RECALL",
    "REMOVE",
    "WARN",
    "Adapter",
    "AdapterError",
    "AdminAction",
    "Event",
    "IncomingMessage",
    "MemberJoined",
    "MemberLeft",
    "OutgoingMessage",
    "TelegramAdapter",
    "TelegramBot",
    "TerminalAdapter",
    "Wake",
    "WebhookAdapter",
    "WebhookServer",
    "make_webhook_server",
    "parse_payload",
    "parse_time",
    "run_terminal",
    "serve_webhook",
    "sign",
    "signed_headers",
    "verify",
]
