"""Every adapter passes these: parametrised over the samples in conftest.py."""

from __future__ import annotations

import pytest

from assistant.channels import Adapter, AdapterError, AdminAction, IncomingMessage, MemberJoined, MemberLeft, OutgoingMessage
from assistant.errors import AssistantError
from assistant.channels.gateway import Gateway, GatewayResult

from .conftest import FakeAnswerer, Samples, flatten


def test_is_an_adapter(samples: Samples) -> None:
    adapter = samples.make()
    assert isinstance(adapter, Adapter)
    assert adapter.platform and isinstance(adapter.supports_admin_actions, bool)


def test_group_mention_is_addressed(samples: Samples) -> None:
    msg = samples.make().parse(samples.group_mention)
    assert isinstance(msg, IncomingMessage)
    assert msg.is_group and msg.is_tome()
    assert msg.conversation_id and msg.sender_id and "垃圾几点扔" in msg.text
    assert msg.time.tzinfo is not None


def test_group_plain_is_not_addressed(samples: Samples) -> None:
    msg = samples.make().parse(samples.group_plain)
    assert isinstance(msg, IncomingMessage)
    assert msg.is_group and not msg.is_tome()


def test_private_chat_is_addressed(samples: Samples) -> None:
    msg = samples.make().parse(samples.private)
    assert isinstance(msg, IncomingMessage)
    assert not msg.is_group and msg.is_tome()
    assert msg.text == "车位怎么租"


def test_member_joined_and_left(samples: Samples) -> None:
    adapter = samples.make()
    joined = adapter.parse(samples.joined)
    assert isinstance(joined, MemberJoined) and joined.nickname == "6-202-李四" and joined.member_id
    left = adapter.parse(samples.left)
    assert isinstance(left, MemberLeft) and left.member_id == joined.member_id


def test_malformed_input_names_the_field(samples: Samples) -> None:
    adapter = samples.make()
    for raw, fld in samples.malformed:
        with pytest.raises(AdapterError) as info:
            adapter.parse(raw)
        assert info.value.field == fld, (raw, str(info.value))
        assert fld in str(info.value)
        assert isinstance(info.value, AssistantError)


def test_unknown_extra_fields_are_ignored(samples: Samples) -> None:
    msg = samples.make().parse(samples.extra_fields)
    assert isinstance(msg, IncomingMessage) and msg.is_tome() and msg.sender_id == "u1"


def test_render_outgoing_and_admin_actions(samples: Samples) -> None:
    adapter = samples.make()
    result = GatewayResult(
        outgoing=[OutgoingMessage("g1", "群里的回复", at="u1"), OutgoingMessage("g1", "私下的提醒", private_to="u9")],
        actions=[AdminAction("recall", "g1", "u9", "ad.wechat", "m7"), AdminAction("mute", "g1", "u9", "abuse")],
        route="moderation")
    text = flatten(adapter.render(result))
    assert "群里的回复" in text and "私下的提醒" in text and "u9" in text
    if adapter.supports_admin_actions:
        assert "ad.wechat" in text and "abuse" in text
    empty = flatten(adapter.render(GatewayResult()))
    assert "群里的回复" not in empty


def test_through_the_gateway(samples: Samples, gateway: Gateway, answerer: FakeAnswerer) -> None:
    adapter = samples.make()
    result = gateway.handle(adapter.parse(samples.group_mention))
    assert answerer.texts == ["垃圾几点扔"]
    assert "答：垃圾几点扔" in flatten(adapter.render(result))
    assert gateway.handle(adapter.parse(samples.group_plain)).outgoing == []
    greeting = flatten(adapter.render(gateway.handle(adapter.parse(samples.joined))))
    assert "欢迎" in greeting
    assert len(answerer.calls) == 1
