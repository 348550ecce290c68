"""Running the group: sign-ups (接龙), surveys, anonymous feedback, the mutual-help list and
elderly residents' emergency contacts. See README.md.

    from assistant.community import open_community, CommunityCommands
    with open_community("sqlite:///models/tickets.db") as community:
        community.signups.start("group-1", "周六亲子运动会 限30人 截止周五18:00", created_by="u1")
        gateway = Gateway(moderator, answerer, commands=[CommunityCommands(community)])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant.community.chat import CommunityCommands
    from assistant.community.errors import BadInput, CommunityError, CommunityUnavailable, NotFound, Refused
    from assistant.community.service import Community, open_community

_LAZY = {"CommunityCommands": "chat", "Community": "service", "open_community": "service",
         "BadInput": "errors", "CommunityError": "errors", "CommunityUnavailable": "errors", "NotFound": "errors",
         "Refused": "errors"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"assistant.community.{_LAZY[name]}"), name)
    raise AttributeError(name)


__all__ = ["BadInput", "Community", "CommunityCommands", "CommunityError", "CommunityUnavailable", "NotFound",
           "Refused", "open_community"]
