"""Group-rule moderation and privacy protection for the owners' group.

    from assistant.moderation import Moderator, Message
    decision = Moderator().check(Message("wx_u1", "group-1", "加V领福利 abc12345"))
    decision.action, decision.rule_id, decision.reply

Rules and thresholds live in one YAML file (``default_rules.yml`` here, or ``load_config(path)``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from assistant.moderation.config import DEFAULT_RULES, ModerationConfig, ModerationConfigError, Rule, load_config
from assistant.moderation.members import JoinReply, Roster, Unit, parse_nickname
from assistant.moderation.moderator import Decision, Message, ModerationError, Moderator, store_from_config
from assistant.moderation.pii import Finding, PiiSettings, find_pii, id_check_char, is_bank_card, is_id_number, is_mobile, luhn_check_digit, luhn_ok, redact
from assistant.moderation.strikes import MemoryStrikeStore, Strike, StrikeStore

if TYPE_CHECKING:
    from assistant.moderation.strikes_sql import SqlStrikeStore

__all__ = [
    "DEFAULT_RULES", "Decision", "Finding", "JoinReply", "MemoryStrikeStore", "Message", "ModerationConfig",
    "ModerationConfigError", "ModerationError", "Moderator", "PiiSettings", "Roster", "Rule", "SqlStrikeStore",
    "Strike", "StrikeStore", "Unit", "find_pii", "id_check_char", "is_bank_card", "is_id_number", "is_mobile",
    "load_config", "luhn_check_digit", "luhn_ok", "parse_nickname", "redact", "store_from_config",
]


def __getattr__(name: str) -> Any:
    """SqlStrikeStore, imported on first use (SQLAlchemy stays out of pure users such as the web chat's channel)."""
    if name == "SqlStrikeStore":
        from assistant.moderation.strikes_sql import SqlStrikeStore

        return SqlStrikeStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
