"""The group's routines in the gateway: admins' chat commands and the discussion hours.

    routines = GroupRoutines(store, admins={"物业-王经理"}, hours=DiscussionHours.parse("19:00-21:00"))
    gateway = Gateway(moderator, answerer, routines=routines)

Chat commands (from a sender in $ASSISTANT_GROUP_ADMINS, in the group or privately; the reply goes
to the admin privately):

    #停水# 12月5日 9:00-12:00 5栋停水检修 有效至 2026-12-05 12:00     publish a notice (default: 7 days)
    #辟谣# 谣言：小区要拆迁 澄清：没有任何拆迁计划 来源：街道办 2026-11-30 公告
    通知列表 / 删除通知 3                                                list / withdraw notices

A message starting with an unknown #tag# gets the list of known tags; a bad date says which.

Discussion hours (``$ASSISTANT_DISCUSSION_HOURS``, e.g. ``19:00-21:00``; unset: always open):
outside them, a resident's non-urgent group message gets one gentle reminder a day (per person and
group, kept in the database so a restart does not repeat it). Urgent matters (repairs, safety,
complaints: anything in the ticket categories' words, or 急/救命/着火/漏水 …) are never reminded, and
nothing is ever held back: questions to the bot are still answered.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING

from assistant.channels.base import IncomingMessage, OutgoingMessage
from assistant.schedule.errors import ScheduleInputError
from assistant.schedule.models import RUMOUR_TAG
from assistant.schedule.rules import DEFAULT_TZ, zone
from assistant.vocabulary import infer_category

if TYPE_CHECKING:
    from assistant.schedule.store import ScheduleStore

log = logging.getLogger("assistant.schedule.routines")

DEFAULT_VALIDITY = timedelta(days=7)
_TAG_HEAD = re.compile(r"^\s*[#＃]([^#＃\s]{1,12})[#＃]")
_UNTIL = re.compile(r"有效(?:期)?(?:至|到)\s*[:：]?\s*(?P<when>\S+(?:\s+\d{1,2}[:：]\d{2})?)\s*$")
_PART = re.compile(r"(谣言|澄清|来源)\s*[:：]")
_REMOVE = re.compile(r"^\s*(?:删除|撤回)通知\s*#?(\S+)\s*$")
_URGENT = re.compile(r"急|救命|着火|失火|火灾|冒烟|漏水|跑水|爆管|停电|停水|燃气|煤气|困人|受伤|报警|报修|投诉|"
                     r"坏了|危险|小偷|被盗|有人晕倒|求助")

QUIET_REMINDER = ("温馨提示：本群讨论时段为 {hours}，其他时间请尽量只发紧急事项"
                  "（报修、安全、投诉不受限制，可随时 @助手）。谢谢配合！")


@dataclass(frozen=True)
class DiscussionHours:
    start: time
    end: time

    @classmethod
    def parse(cls, value: str) -> DiscussionHours:
        m = re.fullmatch(r"\s*(\d{1,2})[:：](\d{2})\s*[-~至到]\s*(\d{1,2})[:：](\d{2})\s*", value or "")
        if not m:
            raise ScheduleInputError("discussion_hours", f"{value!r} is not a span like 19:00-21:00")
        h1, m1, h2, m2 = map(int, m.groups())
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
            raise ScheduleInputError("discussion_hours", f"{value!r} has a time out of range")
        end = time(0, 0) if h2 == 24 else time(h2, m2)
        if time(h1, m1) == end:
            raise ScheduleInputError("discussion_hours", f"{value!r} starts and ends at the same time")
        return cls(time(h1, m1), end)

    def open_at(self, local: time) -> bool:
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end           # across midnight

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def is_urgent(text: str) -> bool:
    """Repairs, safety, complaints: never held back or reminded about."""
    return infer_category(text) != "other" or bool(_URGENT.search(text))


def parse_when(value: str, now: datetime) -> datetime:
    """``2026-12-05``, ``2026-12-05 18:00``, ``12月5日``, ``12月5日 18:00`` (local; a date alone: 23:59 that day)."""
    text = value.strip().replace("：", ":")
    m = re.fullmatch(r"(?:(\d{4})年)?(\d{1,2})月(\d{1,2})[日号]?(?:\s*(\d{1,2}):(\d{2}))?", text)
    try:
        if m:
            year = int(m.group(1) or now.year)
            t = datetime(year, int(m.group(2)), int(m.group(3)), tzinfo=now.tzinfo)
            if not m.group(1) and t.date() < now.date():
                t = t.replace(year=year + 1)
            if m.group(4):
                return t.replace(hour=int(m.group(4)), minute=int(m.group(5)))
            return t.replace(hour=23, minute=59)
        t = datetime.fromisoformat(text)
    except ValueError:
        raise ScheduleInputError("valid_until", f"{value!r} is not a date like 2026-12-05 18:00 or 12月5日") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=now.tzinfo)
    if len(text) <= 10:
        t = t.replace(hour=23, minute=59)                          # a date alone: valid through that day
    return t


class GroupRoutines:
    def __init__(self, store: ScheduleStore, *, admins: frozenset[str] | set[str] = frozenset(),
                 hours: DiscussionHours | None = None, tz: str = DEFAULT_TZ,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.store, self.admins, self.hours = store, frozenset(admins), hours
        self.tz = zone(tz)
        self.clock = clock

    def _now(self, msg: IncomingMessage) -> datetime:
        return (self.clock() if self.clock else msg.time or datetime.now(UTC)).astimezone(self.tz)

    def on_message(self, msg: IncomingMessage, text: str) -> tuple[list[OutgoingMessage], bool]:
        """Messages to send, and whether the message was a command (then nothing else answers it)."""
        now = self._now(msg)
        if msg.sender_id in self.admins:
            reply = self.command(text, msg.sender_id, now)
            if reply is not None:
                return [OutgoingMessage(msg.conversation_id, reply, private_to=msg.sender_id)], True
            return [], False
        quiet = msg.is_group and self.hours is not None and not self.hours.open_at(now.time())
        if quiet and not is_urgent(text) and self.store.claim_quiet_reminder(
                f"{msg.platform}:{msg.conversation_id}", msg.sender_id, now.date().isoformat()):
            assert self.hours is not None
            log.info("routines: quiet-hours reminder to sender=%s conversation=%s", msg.sender_id,
                     msg.conversation_id)
            return [OutgoingMessage(msg.conversation_id, QUIET_REMINDER.format(hours=self.hours),
                                    at=msg.sender_id)], False
        return [], False

    def command(self, text: str, admin: str, now: datetime) -> str | None:
        """An admin's command's reply, or None when ``text`` is not a command."""
        stripped = text.strip()
        if stripped in ("通知列表", "/通知列表"):
            notices = self.store.notices(current_at=now)
            if not notices:
                return "当前没有生效中的通知。"
            return "生效中的通知：\n" + "\n".join(
                f"{n.id}. {n.title}（至 {n.valid_until.astimezone(self.tz):%m-%d %H:%M}）" for n in notices)
        m = _REMOVE.match(stripped)
        if m:
            try:
                n = self.store.remove_notice(m.group(1))
            except ScheduleInputError as exc:
                return f"未能删除：{exc}"
            return f"已删除通知 {n.id}。"
        if not _TAG_HEAD.match(stripped):
            return None
        try:
            notice = self.publish(stripped, admin, now)
        except ScheduleInputError as exc:
            return f"通知未发布：{exc}"
        until = notice.valid_until.astimezone(self.tz)
        return f"已发布通知 {notice.id}（{notice.title}），有效至 {until:%Y-%m-%d %H:%M}；居民提问时助手将据此回答。"

    def publish(self, text: str, admin: str, now: datetime):
        tags: list[str] = []
        rest = text
        while (m := _TAG_HEAD.match(rest)) is not None:
            tags.append(m.group(1))
            rest = rest[m.end():]
        until = now + DEFAULT_VALIDITY
        u = _UNTIL.search(rest)
        if u:
            until = parse_when(u.group("when"), now)
            rest = rest[:u.start()]
        rumour = source = ""
        body = rest.strip()
        if RUMOUR_TAG in tags:
            parts = dict.fromkeys(("谣言", "澄清", "来源"), "")
            pieces = _PART.split(rest)
            for key, value in zip(pieces[1::2], pieces[2::2], strict=False):
                parts[key] = value.strip(" ，,；;。\n")
            missing = [k for k, v in parts.items() if not v]
            if missing:
                raise ScheduleInputError("rumour", "辟谣通知需写明 谣言：… 澄清：… 来源：…，缺少 " + "、".join(missing))
            rumour, body, source = parts["谣言"], parts["澄清"], parts["来源"]
        return self.store.add_notice(tags, body, valid_until=until, rumour=rumour, source=source, actor=admin)

    def deliver(self, platform: str) -> list[OutgoingMessage]:
        """Scheduled posts waiting for ``platform``'s groups, each claimed once."""
        return [OutgoingMessage(conv, text) for conv, text in self.store.claim_group(platform)]
