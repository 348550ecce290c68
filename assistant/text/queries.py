"""The texts the engine searches for a message besides the message itself: the parts of a two-part
question, the subject of an elliptical follow-up. Pure (``re`` only): the engine
(``assistant.dialogue.engine``) reads messages with these rules, and the Rasa process embeds these texts
ahead for the action server (``assistant.knowledge.shared``)."""

from __future__ import annotations

import re

ELLIPSIS_HEAD = re.compile(r"^(?:那么?|还有|另外|要是|如果是|(?:what|how)\s+about\s+|and\s+)", re.I)   # "那X呢": X
                                                                                      # instead of the last subject
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
