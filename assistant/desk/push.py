"""Telling a resident something the resident did not ask for: the satisfaction question after a
ticket is resolved, or that no admin took a handoff in time.

The message goes through Rasa (``POST /conversations/{id}/trigger_intent``) so that the tracker
knows what was asked and the resident's answer is understood. Channels that can push (the web
chat's socket.io) deliver it at once; for the others Rasa returns the texts and ``tell`` hands them
back to the caller, which sends them through its own adapter.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import quote

import httpx

from assistant.errors import AssistantError

log = logging.getLogger(__name__)

CSAT = "EXTERNAL_csat"                       # entities: ticket_id
HANDOFF_TIMEOUT = "EXTERNAL_handoff_timeout"  # entities: ticket_id, handoff_id


class ResidentUnreachable(AssistantError):
    def __init__(self, conversation_id: str, intent: str) -> None:
        super().__init__(f"could not reach conversation {conversation_id} ({intent}): is the assistant running?")
        self.conversation_id, self.intent = conversation_id, intent


class Residents(Protocol):
    def tell(self, conversation_id: str, intent: str, entities: dict[str, Any]) -> list[str]:
        """Deliver ``intent``'s message to the conversation; return texts the caller must send itself."""
        ...


class RasaResidents:
    """Through a running Rasa server (started with ``--enable-api --auth-token``). ``token`` is the
    API token, or a function giving it (read when first needed)."""

    def __init__(self, rasa_url: str, timeout: float = 15.0,
                 token: str | Callable[[], str] | None = None) -> None:
        self.url = rasa_url.rstrip("/")
        self.timeout, self._token = timeout, token

    @property
    def token(self) -> str | None:
        if callable(self._token):
            self._token = self._token()
        return self._token

    def tell(self, conversation_id: str, intent: str, entities: dict[str, Any]) -> list[str]:
        params = {"output_channel": "latest"}
        token = self.token
        if token:
            params["token"] = token
        url = f"{self.url}/conversations/{quote(conversation_id, safe='')}/trigger_intent"
        try:
            resp = httpx.post(url, params=params, json={"name": intent, "entities": entities},
                              timeout=self.timeout, trust_env=False)
            resp.raise_for_status()
            messages = resp.json().get("messages") or []
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("could not tell conversation=%s %s: %s", conversation_id, intent, type(exc).__name__,
                        exc_info=log.isEnabledFor(logging.DEBUG))
            raise ResidentUnreachable(conversation_id, intent) from exc
        log.info("told conversation=%s %s", conversation_id, intent)
        return [m["text"] for m in messages if isinstance(m, dict) and isinstance(m.get("text"), str)]


class NoResidents:
    """When no chat is connected (admin CLI on its own): nothing is delivered."""

    def tell(self, conversation_id: str, intent: str, entities: dict[str, Any]) -> list[str]:
        raise ResidentUnreachable(conversation_id, intent)
