"""The texts of scheduled posts: a template name and the admin's own words (``text``).

    render("property_weekly", "本周五下午 2 号楼水箱清洗", due, tz)

``{date}`` (e.g. 12月4日 周五), ``{festival}`` (the public holiday of the post's day, e.g. 国庆节, or
节日) and ``{text}`` may appear in the admin's text of a ``text`` post too.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from assistant.schedule.errors import ScheduleInputError
from assistant.schedule.rules import holiday_name

TEMPLATES = {
    "text": "{text}",
    "property_weekly": "【物业通知】{date}\n本周物业工作安排：{text}\n如有报修、投诉，可直接 @助手 说明情况。",
    "weekly_topic": "【每周话题】{date}\n本周话题：{text}\n欢迎在讨论时段内文明交流。",
    "rules_monthly": ("【群规提醒】{date}\n1. 文明交流，不发广告、不刷屏；2. 不发布他人身份证、电话等个人信息；"
                      "3. 报修投诉请 @助手 或联系物业；4. 讨论时段外请勿闲聊。{text}"),
    "festival": "【节日祝福】{festival}快乐！锦山壹号物业与全体业主志愿者祝大家阖家安康。{text}",
}
TEMPLATE_NAMES = {"text": "自定义文本", "property_weekly": "每周物业通知", "weekly_topic": "每周话题",
                  "rules_monthly": "每月群规提醒", "festival": "节日祝福"}
_WEEKDAYS = "一二三四五六日"


def check(template: str, text: str) -> None:
    if template not in TEMPLATES:
        raise ScheduleInputError("template", f"unknown template {template!r}; one of {', '.join(TEMPLATES)}")
    if template in ("text", "weekly_topic") and not text.strip():
        raise ScheduleInputError("text", f"the {template!r} template needs a text")
    try:
        render(template, text, datetime(2026, 1, 1, tzinfo=ZoneInfo("UTC")), ZoneInfo("UTC"), _check=True)
    except (KeyError, IndexError, ValueError) as exc:
        raise ScheduleInputError("text", f"bad placeholder in the text: {exc}; use {{date}} or {{festival}}, "
                                         "or double the braces") from None


def render(template: str, text: str, due: datetime, tz: ZoneInfo, *, _check: bool = False) -> str:
    local = due.astimezone(tz)
    values = {"date": f"{local.month}月{local.day}日 周{_WEEKDAYS[local.weekday()]}",
              "festival": (None if _check else holiday_name(local.date())) or "节日"}
    own = text.format(**values) if text else ""
    return TEMPLATES[template].format(text=own, **values).strip()
