"""WeCom payloads as gateway events, and gateway results as WeCom calls (the adapter interface).

``parse`` takes one decrypted payload (a dict, JSON bytes/str, or the callback's XML):
- a 微信客服 message from ``kf/sync_msg`` (``msgid``, ``external_userid``, ``msgtype`` …): a private
  chat with the resident, always addressed to the bot;
- a message to the estate's 智能机器人 in an internal group or a single chat (``chatid``,
  ``chattype``, ``from.userid``, ``text.content``): addressed when it @-mentions the bot;
- a customer-group change callback (``Event`` ``change_external_chat``, ``UpdateDetail``
  ``add_member``/``del_member``, ``MemChangeList``): a member joined or left. WeCom sends ids only;
  the nickname comes from ``names`` (e.g. ``externalcontact/get``), else the id.

``render`` gives the calls to make: ``kf/send_msg`` for a private reply, the group robot's
``webhook/send`` (text with ``mentioned_list``) for a group. WeCom lets no bot recall, mute or
remove in a residents' group, so admin actions are rendered as a notice to the admins' group.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from assistant.channels.base import (
    DEFAULT_WAKE,
    AdapterError,
    Event,
    GatewayResult,
    IncomingMessage,
    MemberJoined,
    MemberLeft,
    Wake,
    parse_time,
)
from assistant.channels.wecom.api import chunks
from assistant.channels.wecom.crypto import parse_xml

PLATFORM = "wecom"
ACTION_NAMES = {"recall": "撤回", "warn": "警告", "mute": "禁言", "remove": "移出"}


def _text_field(data: dict[str, Any], key: str, name: str) -> str:
    value = data.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise AdapterError(name, "missing")
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise AdapterError(name, f"must be a string, got {type(value).__name__}")
    return str(value)


class WeComAdapter:
    platform = PLATFORM
    supports_admin_actions = False

    def __init__(self, wake: Wake = DEFAULT_WAKE, names: Callable[[str], str | None] | None = None,
                 open_kfid: str = "", admins_chat: str = "admins") -> None:
        self.wake, self.names = wake, names
        self.open_kfid, self.admins_chat = open_kfid, admins_chat

    def parse(self, raw: Any) -> Event:
        data = self._load(raw)
        if "Event" in data or "MsgType" in data:
            return self._group_change(data)
        if "chatid" in data or "chattype" in data:
            return self._robot(data)
        return self._kf(data)

    @staticmethod
    def _load(raw: Any) -> dict[str, Any]:
        if isinstance(raw, (bytes, bytearray)):
            try:
                raw = bytes(raw).decode("utf-8")
            except UnicodeDecodeError as exc:
                raise AdapterError("body", f"not UTF-8 (byte {exc.start})") from None
        if isinstance(raw, str):
            if raw.lstrip().startswith("<"):
                return parse_xml(raw)
            try:
                raw = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise AdapterError("body", f"malformed JSON: {exc.msg} (line {exc.lineno})") from None
        if not isinstance(raw, dict):
            raise AdapterError("body", f"must be a JSON object or WeCom XML, got {type(raw).__name__}")
        return raw

    def _kf(self, data: dict[str, Any]) -> IncomingMessage:
        msgid = _text_field(data, "msgid", "msgid")
        user = _text_field(data, "external_userid", "external_userid")
        if data.get("msgtype") != "text":
            raise AdapterError("msgtype", f"not a text message ({str(data.get('msgtype'))[:20]!r})")
        text = (data.get("text") or {}).get("content") if isinstance(data.get("text"), dict) else None
        if not isinstance(text, str):
            raise AdapterError("text.content", "missing")
        return IncomingMessage(PLATFORM, user, False, user, "", text, True,
                               parse_time(data.get("send_time"), "send_time"), msgid)

    def _robot(self, data: dict[str, Any]) -> IncomingMessage:
        chat = _text_field(data, "chatid", "chatid")
        sender = data.get("from")
        if not isinstance(sender, dict):
            raise AdapterError("from", "missing" if sender is None else "must be an object with userid")
        user = _text_field(sender, "userid", "from.userid")
        body = data.get("text")
        text = body.get("content") if isinstance(body, dict) else None
        if not isinstance(text, str):
            raise AdapterError("text.content", "missing")
        is_group = data.get("chattype", "group") == "group"
        to_me = not is_group or self.wake.match(text)
        nickname = str(sender.get("name") or (self.names(user) if self.names else "") or "")
        return IncomingMessage(PLATFORM, chat, is_group, user, nickname, text, to_me,
                               parse_time(data.get("create_time"), "create_time"), data.get("msgid"))

    def _group_change(self, data: dict[str, Any]) -> Event:
        if data.get("Event") != "change_external_chat":
            raise AdapterError("Event", f"not a customer-group change ({str(data.get('Event'))[:30]!r})")
        chat = _text_field(data, "ChatId", "ChatId")
        detail = data.get("UpdateDetail")
        if detail not in ("add_member", "del_member"):
            raise AdapterError("UpdateDetail", "not add_member or del_member")
        items = data.get("MemChangeList")
        item = items.get("Item") if isinstance(items, dict) else None
        members = item if isinstance(item, list) else [item] if isinstance(item, str) else []
        if not members:
            raise AdapterError("MemChangeList", "no member id")
        who = members[0]
        nickname = (self.names(who) if self.names else None) or who
        when = parse_time(int(data["CreateTime"]) if str(data.get("CreateTime", "")).isdigit() else None)
        if detail == "add_member":
            return MemberJoined(PLATFORM, chat, who, nickname, when)
        return MemberLeft(PLATFORM, chat, who, nickname, when)

    def render(self, result: GatewayResult) -> list[dict[str, Any]]:
        calls: list[dict[str, Any]] = []
        for m in result.outgoing:
            for part in chunks(m.text):
                if m.private_to:
                    calls.append({"api": "kf/send_msg", "touser": m.private_to, "open_kfid": self.open_kfid,
                                  "msgtype": "text", "text": {"content": part}})
                else:
                    calls.append({"api": "webhook/send", "chatid": m.conversation_id, "msgtype": "text",
                                  "text": {"content": part, "mentioned_list": [m.at] if m.at else []}})
        for a in result.actions:        # no bot may do these in WeCom: the admins are asked to
            what = ACTION_NAMES.get(a.action, a.action)
            calls.append({"api": "webhook/send", "chatid": self.admins_chat, "msgtype": "text", "text": {
                "content": f"请管理员在群 {a.conversation_id} 对 {a.target} 执行：{what}（规则 {a.reason}）",
                "mentioned_list": []}})
        return calls
