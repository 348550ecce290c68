"""The one place the running app is assembled from ``Settings``: the assistant behind ask/chat/eval,
the group gateway with its live answerer (chat --group, webhook, telegram), the desk and its
sweeper, and the engine the action server runs. Every command, the action server and the tests
build through these functions.

    settings = load_settings()
    with open_assistant(settings) as bot:          # starts the servers when not running
        bot.ask("车位怎么租")
    with open_desk(settings) as desk:              # tickets, handoffs, roster, notifier, outbox
        desk.complain("wx-1", "楼上太吵", category="noise")
"""

from __future__ import annotations

import logging
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from assistant.errors import AssistantError

if TYPE_CHECKING:
    from assistant.channels.client import Assistant, Reply
    from assistant.channels.gateway import Answerer, Gateway
    from assistant.community.service import Community
    from assistant.desk.desk import Desk
    from assistant.desk.handoff import HandoffStore
    from assistant.desk.notices import Outbox
    from assistant.dialogue.engine import Engine
    from assistant.learning.observer import Observer
    from assistant.learning.reload import KnowledgeReloader
    from assistant.learning.service import Learning
    from assistant.learning.store import LearningStore
    from assistant.moderation import Roster
    from assistant.schedule.routines import GroupRoutines
    from assistant.schedule.runner import Poster
    from assistant.schedule.store import ScheduleStore
    from assistant.settings import Settings

log = logging.getLogger(__name__)


# -- the desk ---------------------------------------------------------------------------------------

def open_desk(settings: Settings, url: str | None = None) -> Desk:
    """The desk on the database at ``url`` (default ``settings.desk_url``): tickets, handoffs, the
    duty roster ($ASSISTANT_HANDOFF_ROSTER), the admins' notifier, residents told through the Rasa
    server, the outbox on the ticket store's engine. Close it (or use ``with``) to dispose the stores."""
    from assistant.desk.admin_notify import notifier_from_settings
    from assistant.desk.desk import Desk
    from assistant.desk.handoff import load_roster, open_handoffs
    from assistant.desk.notices import SQLOutbox
    from assistant.desk.push import RasaResidents
    from assistant.desk.tickets.store import open_store

    url = url or settings.desk_url
    roster = load_roster(settings.handoff_roster)
    tickets = open_store(url)
    try:
        handoffs = open_handoffs(url)
    except BaseException:
        tickets.dispose()
        raise
    return Desk(tickets, handoffs, roster, notifier_from_settings(settings),
                RasaResidents(settings.rasa_url, token=settings.rasa_api_token),
                SQLOutbox(tickets.engine), dedup_window=settings.dedup_window,
                handoff_timeout=settings.handoff_timeout)


@contextmanager
def desk_sweeper(settings: Settings) -> Iterator[Desk | None]:
    """While the assistant runs: expire handoffs nobody took and remind admins of overdue tickets,
    every $ASSISTANT_SWEEP_SECONDS (default 60). Safe to run in several processes at once.
    Yields the desk (for its notifier), or None when its database is unavailable."""
    from assistant.desk.sweep import Sweeper

    try:
        desk = open_desk(settings)
    except AssistantError as exc:
        print(f"warning: no handoff/SLA sweeps: {exc}", file=sys.stderr)
        yield None
        return
    with desk, Sweeper(desk, every=settings.sweep_every), schedule_runner(settings, desk.notifier):
        yield desk


# -- the group's routines (assistant/schedule) ------------------------------------------------------

def open_schedule_store(settings: Settings, url: str | None = None) -> ScheduleStore:
    """The schedule's store in the desk's database (its own tables and Alembic version table)."""
    from assistant.schedule.store import open_schedule

    return open_schedule(url or settings.desk_url)


def schedule_posters(settings: Settings, store: ScheduleStore, notifier: Any) -> dict[str, Poster]:
    """Where scheduled posts go: ``group`` to the groups of $ASSISTANT_SCHEDULE_GROUPS through the group
    outbox (each platform's gateway sends them), ``admins`` through the desk's notifier."""
    from assistant.schedule.runner import GroupOutboxPoster, NotifierPoster

    groups = [(g.split(":", 1)[0], g.split(":", 1)[1]) for g in settings.schedule_groups]
    return {"group": GroupOutboxPoster(store, groups), "admins": NotifierPoster(notifier)}


@contextmanager
def schedule_runner(settings: Settings, notifier: Any) -> Iterator[None]:
    """Scheduled posts and event reminders, every $ASSISTANT_SWEEP_SECONDS, beside the desk's sweeper.
    Safe in several processes at once (each due time is claimed once)."""
    from datetime import timedelta

    from assistant.schedule.runner import ScheduleRunner

    try:
        store = open_schedule_store(settings)
    except AssistantError as exc:
        print(f"warning: no scheduled posts: {exc}", file=sys.stderr)
        yield None
        return
    grace = timedelta(minutes=settings.schedule_grace_minutes)
    with store, ScheduleRunner(store, schedule_posters(settings, store, notifier), notifier,
                               every=settings.sweep_every, grace=grace):
        yield None


def group_routines(settings: Settings) -> GroupRoutines | None:
    """Admins' chat commands and the discussion hours for a group gateway; None (logged) without
    the schedule's database."""
    from assistant.schedule.routines import DiscussionHours, GroupRoutines

    try:
        store = open_schedule_store(settings)
    except AssistantError as exc:
        log.error("group routines unavailable: %s", type(exc).__name__)
        return None
    hours = DiscussionHours.parse(settings.discussion_hours) if settings.discussion_hours else None
    return GroupRoutines(store, admins=settings.group_admins, hours=hours)


def scratch_settings(settings: Settings, is_running: bool) -> Settings:
    """For an eval or a benchmark: when the servers are started for it (not ``is_running``), its
    tickets and handoffs go to a temporary database, out of the real queue, unless
    $ASSISTANT_TICKETS_URL names one. The servers get the URL through their environment."""
    if settings.tickets_url is not None or is_running:
        return settings
    scratch = tempfile.mkdtemp(prefix="assistant-eval-")
    return settings.replace(tickets_url=SecretStr(f"sqlite:///{scratch}/tickets.db"))


# -- the community: sign-ups, surveys, feedback, the mutual-help list ---------------------------------

def open_community(settings: Settings, url: str | None = None) -> Community:
    """The community tables in the desk's database (``url`` or ``settings.desk_url``), migrated to
    head under their own version table. Close it (or use ``with``)."""
    from assistant.community.service import open_community as _open

    return _open(url or settings.desk_url, key_file=settings.feedback_key_path,
                 daily_limit=settings.feedback_daily_limit)


# -- the engine (the action server) -----------------------------------------------------------------

def build_engine(settings: Settings) -> Engine:
    """The dialogue engine the action server runs: retriever (model, index, calibration) and the
    desk; answering goes on without the desk when its database is unavailable."""
    from assistant.dialogue.engine import Engine
    from assistant.knowledge.build import load_retriever
    from assistant.schedule.bulletin import Bulletin
    from assistant.text import pinyin

    retriever = load_retriever(settings)
    retriever.items.warm()      # the garbage matcher's jieba words: loaded now, not at the first question
    pinyin.warm()               # the same for pinyin and typos
    try:
        desk: Desk | None = open_desk(settings)
    except AssistantError as exc:
        log.error("ticket/handoff database unavailable, complaints are only acknowledged: %s", exc)
        desk = None
    try:
        bulletin: Bulletin | None = Bulletin(open_schedule_store(settings), retriever.embedder,
                                             min_score=settings.notice_min_score)
    except AssistantError as exc:
        log.error("schedule database unavailable, no answers from notices or the calendar: %s", type(exc).__name__)
        bulletin = None
    return Engine(retriever.kb, retriever, desk, sensitive_categories=settings.sensitive_categories,
                  bulletin=bulletin, learning=learning_observer(settings))


# -- learning (assistant/learning): the review queue's store, the engine's observer, live reloads -----

def open_learning(settings: Settings, url: str | None = None) -> LearningStore:
    """The learning tables, in the desk's database (``url`` default ``settings.desk_url``)."""
    from assistant.learning.store import LearningStore

    return LearningStore(url or settings.desk_url)


def learning_observer(settings: Settings) -> Observer | None:
    """The engine's learning port; None (logged) when its database is unavailable."""
    from assistant.learning.observer import Observer

    try:
        return Observer(open_learning(settings))
    except AssistantError as exc:
        log.error("learning store unavailable, questions are not kept for review: %s", type(exc).__name__)
        return None


def learning_service(settings: Settings, *, hit_testing: bool = True) -> Learning:
    """The review queue, hit testing and the knowledge files for the CLI and the console: the
    project's embedder (loaded now) groups questions; hit testing builds its own engine on first
    use (no desk, no learning port: nothing is recorded) with Rasa's NLU from the running server."""
    from assistant.dialogue.engine import Engine
    from assistant.knowledge.build import load_retriever
    from assistant.learning.hittest import rasa_parser
    from assistant.learning.kbedit import KnowledgeFiles
    from assistant.learning.service import Learning

    store = open_learning(settings)
    retriever = load_retriever(settings)

    def engine() -> Engine:
        return Engine(retriever.kb, retriever, None, sensitive_categories=settings.sensitive_categories)

    return Learning(store, KnowledgeFiles(settings.knowledge_dir), retriever.embedder, settings.index_dir,
                    engine if hit_testing else None, rasa_parser(settings.rasa_url, settings.rasa_api_token()))


def knowledge_reloader(settings: Settings, engine: Engine) -> KnowledgeReloader:
    """Swaps the engine's knowledge and index when the knowledge files change (checked per turn)."""
    from assistant.learning.reload import KnowledgeReloader

    return KnowledgeReloader(engine, settings.knowledge_dir, settings.index_dir, every=0.2)


# -- the assistant (ask, chat, eval) ----------------------------------------------------------------

@contextmanager
def open_assistant(settings: Settings) -> Iterator[Assistant]:
    """The assistant as ``ask``, ``chat`` and ``eval`` use it: the servers (started when not
    running, stopped after), its own moderator, the handoff queue and the residents' outbox."""
    from assistant.channels.client import Assistant, RasaClient
    from assistant.desk.handoff import open_handoffs
    from assistant.desk.notices import open_outbox
    from assistant.moderation import Moderator
    from assistant.runtime.services import Services

    with Services(settings):
        handoffs: HandoffStore | None = None
        outbox: Outbox | None = None
        try:
            handoffs = open_handoffs(settings.desk_url)
            outbox = open_outbox(settings.desk_url)
        except AssistantError as exc:
            log.error("handoff queue / outbox unavailable: %s", exc)
            handoffs = outbox = None
        client = RasaClient(settings.rasa_url, health_url=f"{settings.action_url}/health")
        bot = Assistant(client, Moderator(), handoffs, outbox)
        try:
            yield bot
        finally:
            bot.close()


# -- the residents' group (chat --group, webhook, telegram) -----------------------------------------

def residents_roster(settings: Settings, path: Path | str | None = None) -> Roster | None:
    """The units roster at ``path``, else at $ASSISTANT_RESIDENTS_CSV, else None (the rules file's
    own ``members.roster``, if any, applies). A bad file raises ``DataError`` naming the file and line."""
    from assistant.moderation import Roster

    path = path or settings.residents_csv
    if path is None:
        return None
    roster = Roster.load(Path(path))
    log.info("residents roster: %d units", len(roster.units))
    return roster


def residents_outbox(settings: Settings) -> Outbox | None:
    """The outbox of notices for residents (``assistant.desk.notices``) in the desk's database;
    None (logged) when it cannot be opened."""
    from assistant.desk.notices import open_outbox

    try:
        return open_outbox(settings.desk_url)
    except AssistantError as exc:
        log.error("residents' outbox unavailable, notices are not delivered: %s", type(exc).__name__,
                  exc_info=log.isEnabledFor(logging.DEBUG))
        return None


def group_gateway(settings: Settings, roster: Roster | None = None, *, answerer: Answerer | None = None,
                  persistent_strikes: bool = True, notices: bool = True, community: bool = True) -> Gateway:
    """A gateway for a real group: the estate's rules, the roster (``residents_roster``), strikes
    kept in the strike database (``strikes.database`` in the rules file) so they survive a restart,
    (``notices``) the residents' outbox in the desk's database (``residents_outbox``), and
    (``community``) the community's chat commands (sign-ups, surveys, feedback, mutual help)."""
    from assistant.channels.gateway import Gateway
    from assistant.moderation import Moderator, load_config, store_from_config

    config = load_config()
    store = store_from_config(config, settings.root) if persistent_strikes else None
    outbox = residents_outbox(settings) if notices else None
    routines = group_routines(settings) if notices else None
    commands = community_commands(settings) if community else []
    return Gateway(Moderator(config, store, roster), answerer or not_ready, outbox=outbox, routines=routines,
                   commands=commands)


def community_commands(settings: Settings) -> list[Callable[..., Any]]:
    """The community's chat commands for a gateway; none (logged) when its database is unavailable."""
    from assistant.community.chat import CommunityCommands

    try:
        return [CommunityCommands(open_community(settings))]
    except AssistantError as exc:
        log.error("community commands unavailable (sign-ups, surveys): %s", type(exc).__name__,
                  exc_info=log.isEnabledFor(logging.DEBUG))
        return []


def not_ready(text: str, sender: str) -> Reply:
    """The answerer until the servers are up (the gateway turns the error into SERVICE_DOWN)."""
    raise RuntimeError("the assistant is not ready yet")


@contextmanager
def live_answerer(settings: Settings) -> Iterator[Answerer]:
    """The real assistant (Rasa and action servers started when not running, stopped after) as
    the group gateway's answerer: no moderator of its own (the gateway moderates), with the handoff
    queue so conversations taken by a human admin stay quiet."""
    from assistant.channels.client import Assistant, RasaClient
    from assistant.desk.handoff import HandoffError, open_handoffs
    from assistant.runtime.services import Services

    with Services(settings):
        try:
            handoffs = open_handoffs(settings.desk_url)
        except HandoffError as exc:
            log.error("handoff queue unavailable: %s", type(exc).__name__, exc_info=log.isEnabledFor(logging.DEBUG))
            handoffs = None
        bot = Assistant(RasaClient(settings.rasa_url, health_url=f"{settings.action_url}/health"), None, handoffs)
        try:
            yield bot.ask
        finally:
            bot.close()
            if handoffs is not None:
                handoffs.dispose()
