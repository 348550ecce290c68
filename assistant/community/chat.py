"""The community's chat commands, consulted by the gateway before the answerer (``Gateway(commands=…)``).

In the group (no @mention needed):
    接龙 周六亲子运动会 限30人 截止周五18:00     start a sign-up
    +1 / 接龙 5-101 / 报名                       join the group's current sign-up (unit from the nickname)
    退出接龙 / -1                                leave it (the first waiting unit moves up)
    接龙 / 查看接龙                              show the list           结束接龙  close it (its starter)
In a private chat with the bot:
    问卷 / 问卷 2                                list the open surveys / answer survey 2, one question at a time
    匿名建议 …                                   an anonymous suggestion (refused in the group: not anonymous there)
Both:
    互助 提供 宠物 周末可以帮忙喂猫 / 互助 需要 工具 想借电钻   the mutual-help list; matches told privately
    互助清单 / 取消互助 3

The unit is the one written in the message (5-101, 5栋101), else the nickname's (5-101-张三).
Bad input gets a reply that says what is wrong; the message is never passed on to the answerer.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable

from assistant.channels.base import IncomingMessage, OutgoingMessage
from assistant.community.errors import CommunityError, CommunityUnavailable
from assistant.community.helplist import CATEGORY_NAMES, KIND_NAMES
from assistant.community.service import Community
from assistant.moderation.members import parse_nickname
from assistant.text.units import normalize_unit

log = logging.getLogger(__name__)

NO_UNIT = "请把群昵称改成“楼号-房号-姓名”（如 5-101-张三），或在消息里写上房号，如：接龙 5-101"
_JOIN = re.compile(r"^(?:\+\s*1|＋1|报名|参加|我报名|接龙\s*\+\s*1)(?:\s+(?P<unit>\S+))?$")
_LEAVE = re.compile(r"^(?:退出接龙|取消接龙|取消报名|退出报名|-\s*1)(?:\s+(?P<unit>\S+))?$")
_CLOSE = re.compile(r"^(?:结束接龙|关闭接龙|接龙结束)$")
_SHOW = re.compile(r"^(?:接龙|查看接龙|接龙名单|接龙列表)$")
_START = re.compile(r"^(?:接龙|发起接龙|群接龙)\s+(?P<rest>.+)$", re.DOTALL)
_FEEDBACK = re.compile(r"^(?:匿名建议|匿名反馈|匿名意见)\s*[:：]?\s*(?P<text>.*)$", re.DOTALL)
_SURVEY = re.compile(r"^(?:问卷|填问卷|填写问卷)(?:\s*(?P<id>\d+))?(?:\s+(?P<unit>\S+))?$")
_HELP = re.compile(r"^互助\s+(?P<text>.+)$", re.DOTALL)
_HELP_LIST = re.compile(r"^(?:互助清单|互助列表|互助)$")
_HELP_WITHDRAW = re.compile(r"^(?:取消互助|撤回互助)\s*(?P<id>\d+)$")

Out = list[OutgoingMessage]


class CommunityCommands:
    """A gateway command handler: ``(message, text) -> messages to send``, or None when the text is
    none of the community's commands (the gateway then goes on as before)."""

    def __init__(self, community: Community) -> None:
        self.c = community

    def __call__(self, msg: IncomingMessage, text: str) -> Out | None:
        t = unicodedata.normalize("NFKC", text or "").strip()
        key = f"{msg.platform}:{msg.sender_id}"
        handlers: list[tuple[re.Pattern[str], Callable[[IncomingMessage, re.Match[str]], Out | None]]] = [
            (_JOIN, self._join), (_LEAVE, self._leave), (_SHOW, self._show), (_CLOSE, self._close_cmd),
            (_START, self._start_or_join),
            (_FEEDBACK, self._feedback), (_SURVEY, self._survey), (_HELP_LIST, self._help_list),
            (_HELP_WITHDRAW, self._help_withdraw), (_HELP, self._help),
        ]
        try:
            if not msg.is_group and self.c.surveys.active(key):
                if t in ("退出问卷", "取消问卷"):
                    self.c.surveys.cancel(key)
                    return self._private(msg, "已退出问卷，已填的答案没有保存。")
                return self._private(msg, self.c.surveys.reply(key, t).text)
            for pattern, handler in handlers:
                m = pattern.match(t)
                if m:
                    return handler(msg, m)      # None: not a command after all (a "+1" with no sign-up)
            return None
        except CommunityUnavailable:
            log.exception("community platform=%s sender=%s database unavailable", msg.platform, msg.sender_id)
            return self._reply(msg, "社区功能暂时不可用，请稍后再试。")
        except CommunityError as exc:
            return self._reply(msg, str(exc))

    # -- helpers ---------------------------------------------------------------------------------

    @staticmethod
    def _private(msg: IncomingMessage, text: str) -> Out:
        return [OutgoingMessage(msg.conversation_id, text, private_to=msg.sender_id)]

    @staticmethod
    def _reply(msg: IncomingMessage, text: str) -> Out:
        if msg.is_group:
            return [OutgoingMessage(msg.conversation_id, text, at=msg.sender_id)]
        return [OutgoingMessage(msg.conversation_id, text, private_to=msg.sender_id)]

    @staticmethod
    def _unit(msg: IncomingMessage, written: str | None) -> str | None:
        if written:
            return normalize_unit(written)
        unit = parse_nickname(msg.sender_nickname) or parse_nickname(msg.sender_id)
        return str(unit) if unit else None

    def _group_only(self, msg: IncomingMessage) -> Out | None:
        return None if msg.is_group else self._reply(msg, "接龙请在业主群里发。")

    # -- sign-ups ----------------------------------------------------------------------------------

    def _join(self, msg: IncomingMessage, m: re.Match[str]) -> Out | None:
        return self._join_as(msg, m.group("unit"), bare=True)

    def _join_as(self, msg: IncomingMessage, written: str | None, bare: bool = False) -> Out | None:
        """``bare``: a "+1" that may just agree with someone: without a sign-up, not a command."""
        if (refused := self._group_only(msg)) is not None:
            return refused
        signup = self.c.signups.current(msg.conversation_id)
        if signup is None:
            if bare and not msg.to_me:
                return None
            return self._reply(msg, "群里现在没有进行中的接龙。发起：接龙 活动名称 限30人 截止周五18:00")
        unit = self._unit(msg, written)
        if unit is None:
            return self._reply(msg, f"看不懂房号“{written}”。{NO_UNIT}" if written else NO_UNIT)
        r = self.c.signups.join(signup.id, unit, msg.sender_id)
        if r.already:
            where = "名单" if r.entry.status == "in" else "候补"
            return self._reply(msg, f"{unit} 已在{where}第 {r.entry.position} 位，不用重复接龙。")
        log.info("community signup=%s joined status=%s", signup.id, r.entry.status)
        return [OutgoingMessage(msg.conversation_id, self.c.signups.render(signup.id))]

    def _leave(self, msg: IncomingMessage, m: re.Match[str]) -> Out | None:
        if (refused := self._group_only(msg)) is not None:
            return refused
        signup = self.c.signups.current(msg.conversation_id)
        if signup is None:
            if not msg.to_me and m.group(0).startswith("-"):          # "-1": disagreement, not a command
                return None
            return self._reply(msg, "群里现在没有进行中的接龙。")
        written = m.group("unit")
        unit = self._unit(msg, written)
        if unit is None:
            return self._reply(msg, f"看不懂房号“{written}”。{NO_UNIT}" if written else NO_UNIT)
        r = self.c.signups.leave(signup.id, unit)
        log.info("community signup=%s left promoted=%s", signup.id, r.promoted is not None)
        out = [OutgoingMessage(msg.conversation_id, f"{unit} 已退出接龙“{signup.title}”。", at=msg.sender_id)]
        if r.promoted is not None:
            out.append(OutgoingMessage(msg.conversation_id,
                                       f"{r.promoted.unit} 由候补转为正式报名（接龙“{signup.title}”）。",
                                       at=r.promoted.sender_id))
        out.append(OutgoingMessage(msg.conversation_id, self.c.signups.render(signup.id)))
        return out

    def _show(self, msg: IncomingMessage, _m: re.Match[str]) -> Out:
        if (refused := self._group_only(msg)) is not None:
            return refused
        signup = self.c.signups.current(msg.conversation_id)
        if signup is None:
            return self._reply(msg, "群里现在没有进行中的接龙。发起：接龙 活动名称 限30人 截止周五18:00")
        return [OutgoingMessage(msg.conversation_id, self.c.signups.render(signup.id))]

    def _start_or_join(self, msg: IncomingMessage, m: re.Match[str]) -> Out | None:
        if (refused := self._group_only(msg)) is not None:
            return refused
        rest = m.group("rest").strip()
        if rest in ("结束", "关闭"):
            return self._close(msg)
        if normalize_unit(rest):          # 接龙 5-101: join with that unit
            return self._join_as(msg, rest)
        signup = self.c.signups.start(msg.conversation_id, rest, msg.sender_id)
        log.info("community signup=%s started conversation=%s", signup.id, msg.conversation_id)
        return [OutgoingMessage(msg.conversation_id, self.c.signups.render(signup.id))]

    def _close_cmd(self, msg: IncomingMessage, _m: re.Match[str]) -> Out:
        if (refused := self._group_only(msg)) is not None:
            return refused
        return self._close(msg)

    def _close(self, msg: IncomingMessage) -> Out:
        signup = self.c.signups.current(msg.conversation_id)
        if signup is None:
            return self._reply(msg, "群里现在没有进行中的接龙。")
        if signup.created_by != msg.sender_id:
            return self._reply(msg, "只有发起人（或管理员在后台）可以结束这个接龙。")
        self.c.signups.close(signup.id)
        return [OutgoingMessage(msg.conversation_id, self.c.signups.render(signup.id))]

    # -- anonymous feedback ------------------------------------------------------------------------

    def _feedback(self, msg: IncomingMessage, m: re.Match[str]) -> Out:
        if msg.is_group:
            return self._reply(msg, "匿名建议请私聊我发送（群里发的大家都能看到，不是匿名的），这条没有记录。")
        self.c.feedback.submit(f"{msg.platform}:{msg.sender_id}", m.group("text"))
        return self._private(msg, "已匿名记录您的建议：不保存发送人，管理员只能看到内容和日期。谢谢！")

    # -- surveys -----------------------------------------------------------------------------------

    def _survey(self, msg: IncomingMessage, m: re.Match[str]) -> Out:
        if msg.is_group:
            open_ = self.c.surveys.list(open_only=True)
            if not open_:
                return self._reply(msg, "现在没有进行中的问卷。")
            names = "；".join(f"{s.id}.《{s.title}》" for s in open_)
            return self._reply(msg, f"进行中的问卷：{names}。请私聊我回复“问卷 编号”填写（每户一份）。")
        unit = self._unit(msg, m.group("unit"))
        if unit is None:
            return self._private(msg, f"填问卷需要房号。{NO_UNIT.replace('接龙 5-101', '问卷 1 5-101')}")
        if m.group("id"):
            step = self.c.surveys.start(f"{msg.platform}:{msg.sender_id}", int(m.group("id")), unit)
            return self._private(msg, step.text)
        todo = [s for s in self.c.surveys.list(open_only=True) if not self.c.surveys.answered(s.id, unit)]
        if not todo:
            return self._private(msg, "现在没有您（" + unit + "）可以填写的问卷。")
        if len(todo) == 1:
            return self._private(msg, self.c.surveys.start(f"{msg.platform}:{msg.sender_id}", todo[0].id, unit).text)
        names = "\n".join(f"{s.id}.《{s.title}》{'（匿名）' if s.anonymous else ''}" for s in todo)
        return self._private(msg, f"可以填写的问卷：\n{names}\n回复“问卷 编号”开始。")

    # -- the mutual-help list ----------------------------------------------------------------------

    def _help(self, msg: IncomingMessage, m: re.Match[str]) -> Out:
        unit = self._unit(msg, None)
        if unit is None:
            return self._reply(msg, NO_UNIT.replace("接龙 5-101", "互助 提供 …"))
        posted = self.c.help.post(unit, msg.sender_id, m.group("text"))
        p = posted.post
        log.info("community help=%s kind=%s category=%s matches=%d", p.id, p.kind, p.category, len(posted.matches))
        name = CATEGORY_NAMES[p.category]
        head = f"已登记（第 {p.id} 条，{KIND_NAMES[p.kind]} · {name}）。回复“取消互助 {p.id}”可撤回。"
        if not posted.matches:
            return self._private(msg, head + "暂时没有匹配的邻居，有了会私聊告诉您。")
        lines = "\n".join(f"· {x.unit}：{x.text}" for x in posted.matches)
        other = "可以提供帮助" if p.kind == "ask" else "需要帮助"
        out = self._private(msg, f"{head}\n这些邻居{other}（{name}）：\n{lines}\n请私下联系，互助不收费。")
        what = "需要帮助" if p.kind == "ask" else "可以提供帮助"
        for x in posted.matches:
            out.append(OutgoingMessage(msg.conversation_id,
                                       f"互助匹配：{p.unit} {what}（{CATEGORY_NAMES[p.category]}）：{p.text}",
                                       private_to=x.sender_id))
        return out

    def _help_list(self, msg: IncomingMessage, _m: re.Match[str]) -> Out:
        posts = self.c.help.list()
        if not posts:
            return self._private(msg, "互助清单还是空的。登记：互助 提供 宠物 周末可以帮忙喂猫")
        lines = [f"· [{CATEGORY_NAMES[p.category]}] {KIND_NAMES[p.kind]} {p.unit}：{p.text}" for p in posts[:30]]
        return self._private(msg, "互助清单：\n" + "\n".join(lines))

    def _help_withdraw(self, msg: IncomingMessage, m: re.Match[str]) -> Out:
        unit = self._unit(msg, None)
        if unit is None:
            return self._reply(msg, NO_UNIT)
        p = self.c.help.withdraw(int(m.group("id")), unit)
        return self._private(msg, f"已撤回第 {p.id} 条互助信息。")
