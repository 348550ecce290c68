"""What the schedule's store hands out: plain frozen records (aware UTC times)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from assistant.schedule.rules import Rule

# Tags an admin may put on a notice (#物业通知#); anything else is rejected, naming these.
TAGS = ("物业通知", "停水", "停电", "停气", "电梯", "维修", "装修", "缴费", "停车", "垃圾分类", "安全提示",
        "活动", "社区公告", "群规", "话题", "辟谣")
RUMOUR_TAG = "辟谣"
TARGETS = ("group", "admins")


@dataclass(frozen=True)
class Post:
    id: int
    name: str
    template: str
    text: str
    rule: Rule
    target: str
    active: bool
    created_by: str
    created_at: datetime
    checked_until: datetime

    @property
    def job(self) -> str:
        return f"post:{self.id}"


@dataclass(frozen=True)
class Run:
    job: str
    due_at: datetime
    status: str                  # claimed | posted | missed | failed
    at: datetime


@dataclass(frozen=True)
class Notice:
    id: int
    kind: str                    # notice | rumour
    tags: tuple[str, ...]
    body: str                    # the notice, or the official clarification
    rumour: str                  # the rumour being cleared ("" for a notice)
    source: str
    valid_from: datetime
    valid_until: datetime
    created_by: str
    created_at: datetime
    removed: bool = False

    def current(self, now: datetime) -> bool:
        return not self.removed and self.valid_from <= now < self.valid_until

    @property
    def title(self) -> str:
        head = "".join(f"#{t}#" for t in self.tags)
        first = (self.rumour or self.body).splitlines()[0] if (self.rumour or self.body) else ""
        return f"{head} {first[:30]}".strip()


@dataclass(frozen=True)
class Event:
    id: int
    title: str
    place: str
    start: datetime
    end: datetime
    signup_id: str | None
    remind: tuple[int, ...]      # minutes before the start
    created_by: str
    created_at: datetime
    removed: bool = False
