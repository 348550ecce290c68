"""A group chat simulated in the terminal: several residents, one line per message.

    5-101-张三: @助手 垃圾几点扔        a resident speaks (later lines without a name: the same resident)
    /join 6-202-李四                  a member joins the group
    /leave 6-202-李四                 a member leaves
    /dm 5-101-张三: 车位怎么租          a private chat with the bot
    {"conversation_id": …}            a JSON line in the webhook format (replays captured traffic)
    /help, /quit

The terminal has no user ids: the nickname is the id. With an outbox on the gateway, notices
waiting for the terminal's conversations (``assistant.desk.notices``: a satisfaction question, a handoff
nobody took) are printed before the next prompt.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, TextIO

from assistant.channels.base import (
    DEFAULT_WAKE,
    MUTE,
    RECALL,
    REMOVE,
    WARN,
    AdapterError,
    Event,
    GatewayResult,
    IncomingMessage,
    MemberJoined,
    MemberLeft,
    Wake,
    parse_payload,
)

if TYPE_CHECKING:
    from assistant.channels.gateway import Gateway

GROUP = "terminal-group"
DEFAULT_SPEAKER = "访客"
BOT = "助手"
# "name: text": a name is up to 32 characters without spaces, not an @mention or a command;
# "8:30" is a time, not a speaker.
_SPEAKER = re.compile(r"^(?P<name>[^\s:：@＠/][^\s:：]{0,31})\s*[:：](?!\d\d)\s?(?P<text>.*)$", re.DOTALL)
_ACTION_NAMES = {WARN: "警告", MUTE: "建议禁言", REMOVE: "建议移出群聊", RECALL: "撤回消息"}

HELP = """\
模拟业主群：每行一条消息，格式“昵称: 内容”，例如 5-101-张三: @助手 垃圾几点扔
  不写昵称时沿用上一位发言人；@助手 或 @bot 表示问助手
  /join 昵称    新成员入群        /leave 昵称   成员退群
  /dm 昵称: 内容  私聊助手         /help 帮助      /quit 退出
  群接龙：接龙 活动 限30人 截止周五18:00 / +1 / 退出接龙；私聊：问卷、匿名建议 …；互助 提供|需要 …"""


class TerminalAdapter:
    platform = "terminal"
    supports_admin_actions = True      # shown as notes for the admins

    def __init__(self, conversation_id: str = GROUP, wake: Wake = DEFAULT_WAKE) -> None:
        self.conversation_id = conversation_id
        self.wake = wake
        self.speaker = DEFAULT_SPEAKER
        self._seq = 0

    def parse(self, raw: Any) -> Event:
        if not isinstance(raw, str):
            raise AdapterError("line", f"must be a line of text, got {type(raw).__name__}")
        line = raw.strip()
        if not line:
            raise AdapterError("line", "empty line")
        if line.startswith("{"):
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                raise AdapterError("line", f"malformed JSON: {exc.msg} at column {exc.colno}") from None
            return parse_payload(data, self.platform, self.wake)
        if line.startswith("/"):
            return self._command(line)
        m = _SPEAKER.match(line)
        if m:
            self.speaker = m.group("name")
            line = m.group("text").strip()
        return self._message(self.speaker, line, is_group=True)

    def _command(self, line: str) -> Event:
        cmd, _, rest = line.partition(" ")
        rest = rest.strip()
        if cmd in ("/join", "/leave"):
            name = rest.split()[0] if rest else ""
            if not name:
                raise AdapterError("name", f"{cmd} needs a nickname, e.g. {cmd} 5-101-张三")
            if cmd == "/join":
                return MemberJoined(self.platform, self.conversation_id, name, name)
            return MemberLeft(self.platform, self.conversation_id, name, name)
        if cmd == "/dm":
            m = _SPEAKER.match(rest)
            if not m:
                raise AdapterError("name", "/dm needs “昵称: 内容”, e.g. /dm 5-101-张三: 车位怎么租")
            return self._message(m.group("name"), m.group("text").strip(), is_group=False)
        raise AdapterError("command", f"unknown command {cmd[:20]!r}; /help lists the commands")

    def _message(self, speaker: str, text: str, is_group: bool) -> IncomingMessage:
        self._seq += 1
        conversation = self.conversation_id if is_group else f"dm:{speaker}"
        to_me = not is_group or self.wake.match(text)
        return IncomingMessage(self.platform, conversation, is_group, speaker, speaker, text, to_me,
                               message_id=f"t{self._seq}")

    def render(self, result: GatewayResult) -> list[str]:
        lines = []
        for m in result.outgoing:
            if m.private_to:
                lines.append(f"{BOT} → {m.private_to}（私聊）: {m.text}")
            else:
                lines.append(f"{BOT}: {'@' + m.at + ' ' if m.at else ''}{m.text}")
        for a in result.actions:
            lines.append(f"[管理] {_ACTION_NAMES.get(a.action, a.action)} {a.target}（{a.reason}）")
        return lines


def run_terminal(gateway: Gateway, stdin: TextIO, stdout: TextIO, adapter: TerminalAdapter | None = None,
                 prompt: str = "") -> int:
    """Read lines until EOF or /quit; write the bot's side of the group. Returns the lines handled."""
    adapter = adapter or TerminalAdapter(wake=gateway.wake)
    handled = 0
    stdout.write(HELP + "\n")
    while True:
        for out in adapter.render(GatewayResult(outgoing=gateway.deliver_notices(adapter.platform))):
            stdout.write(out + "\n")
        if prompt:
            stdout.write(prompt)
        stdout.flush()
        raw = stdin.readline()
        if not raw:
            break
        line = raw.strip()
        if not line:
            continue
        if line in ("/quit", "/exit", "/q"):
            break
        if line == "/help":
            stdout.write(HELP + "\n")
            continue
        try:
            event = adapter.parse(line)
        except AdapterError as exc:
            stdout.write(f"（格式错误 {exc}）\n")
            continue
        for out in adapter.render(gateway.handle(event)):
            stdout.write(out + "\n")
        handled += 1
    stdout.flush()
    return handled
