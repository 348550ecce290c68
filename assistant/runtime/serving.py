"""What the platform commands (``chat --group``, ``webhook``, ``telegram``) share: the residents
roster option, the residents' outbox and the real assistant as the gateway's answerer."""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assistant.channels.client import Reply
    from assistant.settings import Settings
    from assistant.channels.gateway import Answerer, Gateway
    from assistant.moderation import Roster
    from assistant.desk.notices import Outbox

log = logging.getLogger(__name__)

RESIDENTS_ENV = "ASSISTANT_RESIDENTS_CSV"


def add_residents_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--residents", type=Path, metavar="CSV",
                   help=f"units that exist (columns building,unit,room): new members' nicknames are checked "
                        f"against it (default ${RESIDENTS_ENV}, else members.roster in the rules file)")


def residents_roster(path: Path | str | None = None) -> Roster | None:
    """The roster at ``path``, else at $ASSISTANT_RESIDENTS_CSV, else None (the rules file's own
    ``members.roster``, if any, applies). A bad file raises ``DataError`` naming the file and line."""
    from assistant.moderation import Roster

    path = path or os.environ.get(RESIDENTS_ENV, "").strip() or None
    if path is None:
        return None
    roster = Roster.load(Path(path))
    log.info("residents roster: %d units", len(roster.units))
    return roster


def group_gateway(settings: Settings, roster: Roster | None = None, *, answerer: Answerer | None = None,
                  persistent_strikes: bool = True, notices: bool = True) -> Gateway:
    """A gateway for a real group: the estate's rules, the roster (``residents_roster``), strikes
    kept in the strike database (``strikes.database`` in the rules file) so they survive a restart,
    and (``notices``) the residents' outbox in the desk's database (``open_outbox``)."""
    from assistant.channels.gateway import Gateway
    from assistant.moderation import Moderator, load_config, store_from_config

    config = load_config()
    store = store_from_config(config, settings.root) if persistent_strikes else None
    outbox = open_outbox(settings) if notices else None
    return Gateway(Moderator(config, store, roster), answerer or not_ready, outbox=outbox)


def open_outbox(settings: Settings) -> Outbox | None:
    """The outbox of notices for residents (``assistant.desk.notices``) in the desk's database
    ($ASSISTANT_TICKETS_URL, else models/tickets.db); None (logged) when it cannot be opened."""
    from assistant.errors import AssistantError
    from assistant.desk.notices import open_outbox as open_sql_outbox
    from assistant.desk.tickets.store import default_url

    try:
        return open_sql_outbox(default_url(settings.root))
    except AssistantError as exc:
        log.error("residents' outbox unavailable, notices are not delivered: %s", type(exc).__name__)
        return None


def not_ready(text: str, sender: str) -> Reply:
    """The answerer until the servers are up (the gateway turns the error into SERVICE_DOWN)."""
    raise RuntimeError("the assistant is not ready yet")


@contextmanager
def live_answerer(settings: Settings) -> Iterator[Answerer]:
    """The real assistant (Rasa and action servers started when not running, stopped after), as
    ``chat --group`` uses it: no moderator of its own (the gateway moderates), with the handoff
    queue so conversations taken by a human admin stay quiet."""
    from assistant.channels.client import Assistant, RasaClient
    from assistant.desk.handoff import HandoffError, open_handoffs
    from assistant.runtime.services import Services

    with Services(settings):
        try:
            handoffs = open_handoffs()
        except HandoffError as exc:
            log.error("handoff queue unavailable: %s", type(exc).__name__)
            handoffs = None
        bot = Assistant(RasaClient(settings.rasa_url), None, handoffs)
        try:
            yield bot.ask
        finally:
            bot.close()
