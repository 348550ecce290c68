"""Admin notifications in the admins' Telegram group, from any process (fake Bot API)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone

import pytest

from assistant.desk.admin_notify import notifier_from_settings
from assistant.settings import load_settings
from assistant.desk.handoff import Handoff, handoff_event, load_roster

from ..adapters.fake_telegram import TOKEN, FakeBotAPI


@pytest.fixture
def api() -> Iterator[FakeBotAPI]:
    server = FakeBotAPI().start()
    yield server
    server.stop()


def test_env_configured_notifier_posts_to_the_admins_telegram_group(api: FakeBotAPI,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("ASSISTANT_TELEGRAM_BASE_URL", api.base_url)
    monkeypatch.setenv("ASSISTANT_ADMIN_CONVERSATION", "-100777")
    monkeypatch.setenv("ASSISTANT_ADMIN_CHANNEL", "telegram")
    monkeypatch.delenv("ASSISTANT_NOTIFY_WEBHOOK", raising=False)
    now = datetime.now(timezone.utc)
    handoff = Handoff(id="H-20261124-0001", conversation_id="resident-9", resident_id="resident-9",
                      reason="low_confidence", summary="电话13812345678，问了两次没答上", state="waiting", admin=None,
                      created_at=now, updated_at=now)
    admin = load_roster().get("wang")
    notifier_from_settings(load_settings()).notify(handoff_event("handoff.requested", handoff, admin))
    api.wait_for(lambda: bool(api.calls_of("sendMessage")))
    sent = api.calls_of("sendMessage")[0]
    assert str(sent["chat_id"]) == "-100777"
    assert "H-20261124-0001" in sent["text"] and "@wang_placeholder" in sent["text"]
    assert "13812345678" not in sent["text"]


def test_without_a_token_or_conversation_only_the_log(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TELEGRAM_BOT_TOKEN", "ASSISTANT_ADMIN_CONVERSATION", "ASSISTANT_NOTIFY_WEBHOOK"):
        monkeypatch.delenv(name, raising=False)
    assert len(notifier_from_settings(load_settings()).notifiers) == 1
