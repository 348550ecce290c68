"""Group-rule moderation and privacy protection for the owners' group.

    from assistant.moderation import Moderator, Message
    decision = Moderator().check(Message("wx_u1", "group-1", "加V领福利 abc12345"))
    decision.action, decision.rule_id, decision.reply

Rules and thresholds live in one YAML file (``default_rules.yml`` here, or ``load_config(path)``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant.moderation.config import DEFAULT_RULES, ModerationConfig, ModerationConfigError, Rule, load_config
    from assistant.moderation.members import JoinReply, Roster, Unit, parse_nickname
    from assistant.moderation.moderator import Decision, Message, ModerationError, Moderator, store_from_config
    from assistant.moderation.pii import (
        Finding,
        PiiSettings,
        find_pii,
        id_check_char,
        is_bank_card,
        is_id_number,
        is_mobile,
        luhn_check_digit,
        luhn_ok,
        redact,
    )
    from assistant.moderation.strikes import MemoryStrikeStore, Strike, StrikeStore
    from assistant.moderation.strikes_sql import SqlStrikeStore

# Names are loaded on first use, so ``assistant.moderation.pii`` (the one redactor, needed by pure
# modules such as the complaint form) can be imported without SQLAlchemy and YAML.
_WHERE = {
    "config": ("DEFAULT_RULES", "ModerationConfig", "ModerationConfigError", "Rule", "load_config"),
    "members": ("JoinReply", "Roster", "Unit", "parse_nickname"),
    "moderator": ("Decision", "Message", "ModerationError", "Moderator", "store_from_config"),
    "pii": ("Finding", "PiiSettings", "find_pii", "id_check_char", "is_bank_card", "is_id_number", "is_mobile",
            "luhn_check_digit", "luhn_ok", "redact"),
    "strikes": ("MemoryStrikeStore", "Strike", "StrikeStore"),
    "strikes_sql": ("SqlStrikeStore",),
}
_MODULE_OF = {name: module for module, names in _WHERE.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = [
    "DEFAULT_RULES", "Decision", "Finding", "JoinReply", "MemoryStrikeStore", "Message", "ModerationConfig",
    "ModerationConfigError", "ModerationError", "Moderator", "PiiSettings", "Roster", "Rule", "SqlStrikeStore",
    "Strike", "StrikeStore", "Unit", "find_pii", "id_check_char", "is_bank_card", "is_id_number", "is_mobile",
    "load_config", "luhn_check_digit", "luhn_ok", "parse_nickname", "redact", "store_from_config",
]
