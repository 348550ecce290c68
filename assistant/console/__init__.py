"""The admins' web console (FastAPI, server-rendered): tickets, their audit log and actions, the handoff queue.

    from assistant.console import create_app, load_tokens
    from assistant.runtime.app import open_desk
    desk = open_desk(settings)                    # close() it (or use ``with``) when done
    app = create_app(desk, load_tokens(settings.console_tokens_path, desk.roster))

Serve it with ``python -m assistant console`` (loopback, port 8090 or $ASSISTANT_CONSOLE_PORT).
"""

from __future__ import annotations

from assistant.console.app import create_app, error_text
from assistant.console.tokens import AdminToken, TokenFileError, create_tokens, default_tokens_path, load_tokens

__all__ = ["AdminToken", "TokenFileError", "create_app", "create_tokens", "default_tokens_path", "error_text",
           "load_tokens"]
