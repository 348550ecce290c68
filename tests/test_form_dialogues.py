"""The complaint form end to end: the dialogues in tests/data/form_dialogues.yml through the REST channel
of the real Rasa server and action server (NLU, rules, the form, the actions, the ticket database)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from assistant.channels.client import Assistant, RasaClient
from assistant.runtime.services import Services
from assistant.settings import Settings

from .conftest import DATA

pytestmark = pytest.mark.services
DIALOGUES = yaml.safe_load((DATA / "form_dialogues.yml").read_text(encoding="utf-8"))["dialogues"]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.fixture(scope="module")
def bot(served: tuple[Settings, Services]):  # noqa: ANN201
    b = Assistant(RasaClient(served[0].rasa_url))
    yield b
    b.close()


@pytest.mark.parametrize("dialogue", DIALOGUES, ids=[d["name"] for d in DIALOGUES])
def test_form_dialogue(bot: Assistant, dialogue: dict) -> None:
    sender = "form-e2e-" + str(DIALOGUES.index(dialogue))
    first: str | None = None
    for n, turn in enumerate(dialogue["turns"], 1):
        reply = bot.ask(turn["text"], sender=sender)
        said = "\n".join(reply.replies)
        where = f"turn {n} {turn['text']!r}: route={reply.route} topic={reply.topic} replies={said!r}"
        expect = turn["expect"]
        if "route" in expect:
            assert reply.route in as_list(expect["route"]), where
        if "topic" in expect:
            assert reply.topic in as_list(expect["topic"]), where
        for part in expect.get("reply_contains", []):
            assert part in said, where
        for part in expect.get("reply_not_contains", []):
            assert part not in said, where
        if expect.get("ticket") == "same":           # appended to the dialogue's first ticket
            assert reply.ticket_id and reply.ticket_id == first, where
        elif "ticket" in expect:
            assert bool(reply.ticket_id) is expect["ticket"], where
        first = first or reply.ticket_id
