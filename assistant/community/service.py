"""The community seam assembled on one database: sign-ups, surveys, anonymous feedback, the
mutual-help list and emergency contacts. ``open_community(url)`` migrates its tables (own version
table) and returns a ``Community``; close it (or use ``with``) to dispose the engine."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Self

from sqlalchemy import Engine

from assistant.community.feedback import DEFAULT_LIMIT, FeedbackBox
from assistant.community.helplist import HelpList
from assistant.community.signups import Signups
from assistant.community.store import Tables, open_engine
from assistant.community.surveys import Surveys


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Community:
    def __init__(self, engine: Engine, *, key_file: Path | None = None, daily_limit: int = DEFAULT_LIMIT,
                 clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.engine = engine
        self.tables = Tables(engine)
        self.signups = Signups(self.tables, clock)
        self.surveys = Surveys(self.tables, clock)
        self.feedback = FeedbackBox(self.tables, key_file, daily_limit=daily_limit, clock=clock)
        self.help = HelpList(self.tables, clock)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self.engine.dispose()


def open_community(url: str, *, key_file: Path | None = None, daily_limit: int = DEFAULT_LIMIT,
                   clock: Callable[[], dt.datetime] = utcnow) -> Community:
    """The community tables in the database at ``url`` (the desk's by default), migrated to head."""
    return Community(open_engine(url), key_file=key_file, daily_limit=daily_limit, clock=clock)
