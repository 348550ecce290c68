"""The texts the engine searches for a message besides the message itself: the parts of a two-part
question, the subject of an elliptical follow-up. Pure (``re`` only): the engine
(``assistant.dialogue.engine``) reads messages with these rules, and the Rasa process embeds these texts
ahead for the action server (``assistant.knowledge.shared``)."""

from __future__ import annotations

import re

# "那X呢": X instead of the last subject (not 那个/那些: "那个东西", a vague reference)
ELLIPSIS_HEAD = re.compile(r"^(?:那(?![个些])么?|还有|另外|要是|如果是|(?:what|how)\s+about\s+|and\s+)", re.I)
ELLIPSIS_TAIL = re.compile(r"(?:呢|嘞|咧)[?？。.!！~]*$")
FOLLOWUP_CHARS = 16                              # longer messages carry their own subject
PARTS = re.compile(r"[，,；;？?]+|还有|另外|顺便问下?|以及")   # the parts of a two-part question


def subject(clean: str) -> str:
    """An elliptical follow-up's subject ("那废灯泡呢" -> "废灯泡")."""
    return ELLIPSIS_TAIL.sub("", ELLIPSIS_HEAD.sub("", clean)).strip("，,。.?？ ") or clean


def parts(clean: str) -> list[str]:
    """The parts of a two-part (to four-part) question, each of 4 characters or more; [] otherwise."""
    found = [p for p in PARTS.split(clean) if len(p.strip()) >= 4]
    return found if 2 <= len(found) <= 4 else []


def searched_besides(clean: str) -> list[str]:
    """The texts other than ``clean`` that the engine may search for this prepared message: its parts
    (a two-part question answered surely) and, for a short message, its follow-up subject."""
    out = parts(clean)
    if len(clean) <= FOLLOWUP_CHARS:
        out.append(subject(clean))
    return [t for t in dict.fromkeys(out) if t != clean]



# Another estate named or pointed at as the message's subject (翠湖花园的物业费, 翡翠湾小区,
# 隔壁小区, 我妈住的小区, 别的小区车位, 隔壁某某小区, 某某苑那边, 老家的房子, 老小区): the guide
# knows only this one. Said later in the message it is a comparison (听说别的小区有); a message
# that also points at this estate (咱们地库, 我们小区, 这边, 锦山) is about both.
_ELSEWHERE = re.compile(
    r"(?:(?:隔壁|别的|别人|其他|其它|附近的|对面|朋友|同事|亲戚|老家|[他她]们|之前|以前|原来"
    r"|我(?:妈|爸|父母|爸妈|婆婆|公公|丈母娘|岳父|姐|哥|弟|妹|姨|舅|奶奶|爷爷|外婆|姥姥)(?=住|家))"
    r"(?:住的[\u4e00-\u9fff]{0,4}?|家的?|那个|那边的?|的|家|[\u4e00-\u9fff]{2,3}?)?小区"
    r"|[\u4e00-\u9fff]{1,3}[湾湖苑城府庭景阁居山](?:花园|家园|小区|新村|公寓)"
    r"|[\u4e00-\u9fff]{1,3}[苑府](?:那边|那里|那儿)|老家的?(?:房子|那套房)|老小区)")
ELSEWHERE_AT = 6       # characters: an estate named this early is what the message is about
_HERE = re.compile(r"咱|我们(?:这|的)|我们小区|本小区|这边|这里|锦山|壹号|我家小区|我住的小区")


def elsewhere(clean: str) -> bool:
    """A question or story about another estate than this one (隔壁翠湖花园的物业费, 我妈住的阳光小区电梯坏了)."""
    m = _ELSEWHERE.search(clean)
    return m is not None and m.start() <= ELSEWHERE_AT and not _HERE.search(clean)
