"""Rasa's HTTP API answers only with the token; our desk's push passes it."""

from __future__ import annotations

import httpx
import pytest

from assistant.desk.push import CSAT, RasaResidents
from assistant.runtime.services import Services
from assistant.settings import Settings

pytestmark = pytest.mark.services


def test_trackers_and_trigger_intent_need_the_token(served: tuple[Settings, Services]) -> None:
    settings, _ = served
    base, token = settings.rasa_url, settings.rasa_api_token()
    conversation = "api-token-resident"
    # a conversation through the REST channel (no token: channels stay open)
    sent = httpx.post(f"{base}/webhooks/rest/webhook", json={"sender": conversation, "message": "车位怎么租"},
                      timeout=60, trust_env=False)
    assert sent.status_code == 200 and sent.json()
    tracker = f"{base}/conversations/{conversation}/tracker"
    trigger = f"{base}/conversations/{conversation}/trigger_intent"
    body = {"name": CSAT, "entities": {"ticket_id": "T-1"}}
    for wrong in ({}, {"token": "not-the-token"}):
        assert httpx.get(tracker, params=wrong, timeout=10, trust_env=False).status_code in (401, 403)
        assert httpx.post(trigger, params=wrong, json=body, timeout=10, trust_env=False).status_code in (401, 403)
    ok = httpx.get(tracker, params={"token": token}, timeout=10, trust_env=False)
    assert ok.status_code == 200 and ok.json()["sender_id"] == conversation
    texts = RasaResidents(base, token=settings.rasa_api_token).tell(conversation, CSAT, {"ticket_id": "T-1"})
    assert texts  # the satisfaction question, through trigger_intent with the token
