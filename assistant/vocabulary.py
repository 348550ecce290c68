"""The words the project shares, in one place: complaint categories (key, Chinese name, aliases,
inference keywords), ticket statuses and priorities, handoff reasons and overdue kinds, each
with the Chinese name residents and admins see. A leaf module: it imports nothing from the
project, so the dialogue, the desk, the console and the CLI can all read it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Category:
    key: str                      # stored in tickets, used in SLA files and slots
    name: str                     # shown to residents and admins
    aliases: tuple[str, ...]      # other words accepted for the key (CLI, console, API)
    keywords: str                 # regex that infers the category from a message; "" never inferred


# In menu order (the complaint form numbers them 1-10 in this order).
CATEGORY_TABLE = (
    Category("noise", "噪音", ("噪音", "噪声", "扰民"), "吵|噪音|噪声|声音|广场舞|音响|电钻|半夜.*响|noise|noisy|loud"),
    Category("pets", "宠物", ("宠物", "养狗"),
             r"狗|猫|宠物|遛狗|拴绳|狗屎|猫砂|\bdogs?\b|\bcats?\b|\bpets?\b|bark"),
    Category("parking", "停车纠纷", ("停车", "车位"), "车位|停车|乱停|占位|挡住|堵住|车库|地库|parking|parked"),
    Category("service", "物业服务", ("服务", "物业服务"),
             "保安|物业|客服|态度|没人管|不理|维修|报修|电梯|门禁|路灯"),
    Category("fees", "费用账单", ("费用", "物业费", "收费"),
             r"物业费|收费|费用|多收|多扣|扣费|账单|涨价|发票|退费|乱收|\bfees?\b|overcharg"),
    Category("neighbour", "邻里纠纷", ("邻里", "邻居", "neighbor"), "邻居|隔壁|楼上|楼下|对门"),
    Category("cleaning", "环境卫生", ("卫生", "保洁"),
             "脏|卫生(?!间)|保洁|打扫|臭|异味|垃圾没人|蟑螂|老鼠|dirty|smell|stink"),
    Category("safety", "安全隐患", ("安全", "消防"),
             "高空抛物|消防|安全通道|隐患|危险|楼道充电|飞线充电|堆满|杂物"),
    Category("renovation", "装修", ("装修",), "装修|施工|敲墙|砸墙|renovat|drilling"),
    Category("other", "其他", ("其他",), ""),
)
# Inference checks categories in this order; the first whose keywords appear wins.
INFERENCE_ORDER = ("safety", "pets", "noise", "parking", "fees", "cleaning", "renovation", "neighbour", "service")

CATEGORIES = tuple(c.key for c in CATEGORY_TABLE)
CATEGORY_NAMES = {c.key: c.name for c in CATEGORY_TABLE}
CATEGORY_ALIASES = {alias: c.key for c in CATEGORY_TABLE for alias in c.aliases}
_BY_KEY = {c.key: c for c in CATEGORY_TABLE}
CATEGORY_WORDS = tuple((key, _BY_KEY[key].keywords) for key in INFERENCE_ORDER)
_CATEGORY_RES = tuple((key, re.compile(words, re.I)) for key, words in CATEGORY_WORDS)


def infer_category(text: str) -> str:
    """The category a message is about ("楼上半夜还在敲" -> noise); "other" when nothing matches."""
    for key, words in _CATEGORY_RES:
        if words.search(text):
            return key
    return "other"


# Ticket lifecycle states and priorities (the transitions live with the tickets).
STATUSES = ("open", "assigned", "in_progress", "waiting_resident", "resolved", "closed")
ACTIVE = STATUSES[:4]                                           # not yet resolved
STATUS_NAMES = {"open": "待处理", "assigned": "已指派", "in_progress": "处理中", "waiting_resident": "等待居民",
                "resolved": "已解决", "closed": "已关闭"}
PRIORITIES = ("low", "normal", "high", "urgent")
PRIORITY_NAMES = {"low": "低", "normal": "普通", "high": "高", "urgent": "紧急"}          # for admins
URGENCY_NAMES = {"urgent": "紧急", "high": "较急", "normal": "一般", "low": "不急"}       # the same, for residents
OVERDUE_KINDS = ("first_response", "resolution")
OVERDUE_NAMES = {"first_response": "首次响应", "resolution": "解决"}                   # "...超时" is added where shown

# Why a conversation was handed to a person.
REASONS = ("request_human", "low_confidence", "abusive", "sensitive_category")
REASON_NAMES = {"request_human": "居民要求人工", "low_confidence": "助手多次未能解答", "abusive": "言辞激烈",
                "sensitive_category": "敏感类别"}
