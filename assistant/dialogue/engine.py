"""The dialogue brain behind the Rasa custom actions: from an understood message to a reply.

Each public method returns a Turn (route, topic, replies, sources and the state to remember);
the actions in ``actions/`` only translate between Rasa and these calls.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from assistant.dialogue import complaint, replies
from assistant.dialogue.router import NLU, Decision, RouterModel, Signals
from assistant.errors import AssistantError
from assistant.knowledge.garbage import Item, asks_disposal
from assistant.knowledge.kb import TOPIC_NAMES, TOPICS, Entry, KnowledgeBase
from assistant.knowledge.retrieval import Result, Retriever
from assistant.moderation.pii import redact_text
from assistant.text import queries
from assistant.text.normalize import is_blank, mostly_latin, prepare
from assistant.text.readable import unreadable
from assistant.text.units import find_unit
from assistant.vocabulary import ACTIVE, CATEGORY_NAMES

if TYPE_CHECKING:
    from assistant.dialogue.ports import BulletinPort, DeskPort, LearningPort

log = logging.getLogger(__name__)

ROUTES = ("answer", "ticket", "handoff", "fallback", "moderation", "chitchat")
CHITCHAT = ("greet", "goodbye", "thank", "bot_challenge", "affirm", "deny")
MAX_MISSES = 2
SURE_INTENT = 0.5            # Rasa's confidence at which the form takes its affirm/deny for a yes or no
# an entry that is not a garbage category's answers instead of the item table at this answer confidence
# (chosen on tests/heldout/tune_entries.yml: the entries that should win scored 0.85-0.93, the table's right
# answers that an entry would have taken 0.63)
ENTRY_OVER_ITEM = 0.8
# an in-domain question (the router chose answer, Rasa's faq topic is the top entry's) below the hedged tier
# still gets that entry, said to be the nearest, down to this answer confidence: writers who never saw the guide
# ask in-domain questions it answers at 0.2-0.5. Route accuracy on both tuning case sets at 0.05 / 0.15 / 0.3:
# 0.948 / 0.942 / 0.937, out-of-scope answered the same; 0.15 keeps the weakest matches out for 4 cases of 741
FORM_TURN = 0.97            # a form question's confidence: 0.99 of 220 in-form turns of the tuning dialogues were
FORM_AGAIN = 0.85           # right (Rasa's own confidence there was 0.5-0.8); asked again after an unclear answer
HEDGE_AT = 0.15
_CHOICE = re.compile(r"^\s*(?:第\s*)?([1-9一二三])\s*(?:个|项|条|号)?\s*[。.!！]?\s*$")
_CN_DIGIT = {"一": 1, "二": 2, "三": 3}
_SCORE = re.compile(r"^\s*(?:打|给|评)?\s*([1-5一二三四五])\s*(?:分|星)?\s*[。.!！]?\s*$")
_SCORE_WORDS = (("非常满意", 5), ("很满意", 5), ("不满意", 2), ("满意", 4), ("一般", 3), ("很差", 1), ("太差", 1))
_CN_SCORE = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5}
_FRAUD = re.compile(r"诈骗|骗")                 # knowledge entries (title or tags) that warn about fraud
# a story of a deception or an impostor
_VICTIM = re.compile(r"被骗|骗了|骗走|上当|受骗|自称|冒充|假冒|假扮|冒牌|诈骗|骗局|盗刷|被(?:转|扣|刷)走"
                     r"|说(?:他|她|自己|我们)是|没(?:有)?这(?:回)?事|把我拉黑"
                     r"|\b(?:claim(?:ing|ed|s)?|pretend(?:ing|ed|s)?)\s+to\s+be\b|\bscam|\bimpersonat", re.I)
_ELLIPSIS_HEAD, _ELLIPSIS_TAIL = queries.ELLIPSIS_HEAD, queries.ELLIPSIS_TAIL
FOLLOWUP_CHARS = queries.FOLLOWUP_CHARS          # longer messages carry their own subject
SAME_SUBJECT_CHARS = 6                           # 要收钱吗, 周末呢: too short to carry a subject of their own
_ASKS_TAIL = re.compile(r"(?:不|没有?|么|嘛|吗)[?？。.!！~]*$")      # 要钱不, 能修么: a yes/no question
_SOCIAL = ("goodbye", "thank", "bot_challenge")          # not about the last answer ("你是机器人吗")
# 开不开门, 要不要卸载, 找谁换: a question without a question word
_A_NOT_A = re.compile(r"([\u4e00-\u9fff])不\1|怎么办|咋办|咋整|找谁|谁来|谁负责|谁管|归谁")
SURE_OTHER = 0.85          # Rasa this sure that a short message is out of scope or social: not a follow-up (tuning
                           # dialogues: follow-ups read as out_of_scope at 0.32-0.77, real ones at 0.90-1.00)
FRAUD_STORY_CHARS = 10     # after a fraud warning a follow-up may be this much longer (the story goes on)
BARE_UNKNOWN = 0.1         # share of words no entry has: above it an out-of-scope reading names its own subject
OWN_SUBJECT_MARGIN = 0.05  # searched within the last topic, this much below its own best: its own subject
RELATED_AT = 0.5           # a message's own retrieval this sure, on the topic Rasa is sure of: a question of its own
# learning: a resident's verdict on the last answer, the whole message ("👍", "有用", "没用！")
_FEEDBACK = re.compile(r"^\s*(👍|👎|有用|没用|没有用|有帮助|没帮助|没有帮助)\s*[。.!！~]*\s*$")
_HELPFUL = ("👍", "有用", "有帮助")


def read_score(text: str) -> int | None:
    """A 1-5 satisfaction score: 5, 5分, 五星, 非常满意 ...; None when the message is not a score."""
    clean = prepare(text)
    m = _SCORE.match(clean)
    if m:
        d = m.group(1)
        return _CN_SCORE.get(d) or int(d)
    if len(clean) <= 8:
        for word, score in _SCORE_WORDS:
            if word in clean:
                return score
    return None


@dataclass
class State:
    """What the conversation remembers between turns (Rasa slots)."""

    misses: int = 0
    pending: list[str] = field(default_factory=list)  # entry ids offered in a clarifying question
    offered_human: bool = False
    csat_ticket: str | None = None                      # a resolved ticket awaiting the resident's 1-5
    last_topic: str | None = None                       # topic of the last answer (context for follow-ups)
    last_entry: str | None = None                       # the entry (or garbage-items#name) last answered

    def as_slots(self) -> dict[str, Any]:
        return {"miss_count": float(self.misses), "pending_options": self.pending or None,
                "offered_human": self.offered_human, "csat_ticket": self.csat_ticket,
                "last_topic": self.last_topic, "last_entry": self.last_entry}

    @classmethod
    def from_slots(cls, slots: dict[str, Any]) -> State:
        return cls(misses=int(slots.get("miss_count") or 0), pending=list(slots.get("pending_options") or []),
                   offered_human=bool(slots.get("offered_human")), csat_ticket=slots.get("csat_ticket") or None,
                   last_topic=slots.get("last_topic") or None, last_entry=slots.get("last_entry") or None)


@dataclass
class Turn:
    route: str
    replies: list[str]
    topic: str | None = None
    sources: list[dict[str, Any]] = field(default_factory=list)
    state: State = field(default_factory=State)
    ticket_id: str | None = None
    slots: dict[str, Any] = field(default_factory=dict)   # other slots to set (the complaint form's)
    followup: str | None = None                              # an action to run next (the complaint form)
    rated: bool = False                                      # this turn took the awaited satisfaction score
    confidence: float | None = None                          # the router's calibrated confidence in the route
    answer_confidence: float | None = None                   # P(the entry answered is the right one)

    def meta(self) -> dict[str, Any]:
        return {"route": self.route, "topic": self.topic, "sources": self.sources, "ticket_id": self.ticket_id,
                "answer_confidence": self.answer_confidence}


def _elsewhere(clean: str) -> bool:
    """About another estate, and not asking for a person."""
    return queries.elsewhere(clean) and not complaint.wants_human(clean)


def intent_topic(intent: str | None) -> str | None:
    if intent and intent.startswith("faq_") and intent[4:] in TOPICS:
        return intent[4:]
    return None


def _fraud_hits(result: Result) -> list[Any]:
    return [h for h in (*result.fused, *result.hits) if is_fraud_warning(h.entry)]


def is_fraud_warning(entry: Entry) -> bool:
    """A knowledge entry that warns about fraud (its title or tags say so)."""
    return bool(_FRAUD.search(entry.title) or any(_FRAUD.search(t) for t in entry.tags))


def source_of(entry: Entry, score: float) -> dict[str, Any]:
    return {"id": entry.id, "title": entry.title, "topic": entry.topic, "score": round(score, 4)}


class Engine:
    """Built from Settings by ``assistant.runtime.app.build_engine``. ``sensitive_categories``: ticket
    categories that also go to a human ($ASSISTANT_SENSITIVE_CATEGORIES)."""

    def __init__(self, kb: KnowledgeBase, retriever: Retriever, desk: DeskPort | None = None, *,
                 sensitive_categories: frozenset[str] = frozenset({"fees"}),
                 router: RouterModel | None = None, bulletin: BulletinPort | None = None,
                 learning: LearningPort | None = None) -> None:
        self.kb, self.retriever, self.desk = kb, retriever, desk
        self.bulletin = bulletin
        self.sensitive_categories = sensitive_categories
        self.router = router or RouterModel.load()
        self.learning = learning

    # -- learning (assistant/learning): what was asked and how it went, and feedback on answers --
    def observe(self, text: str, sender: str, turn: Turn) -> None:
        """Tell the learning seam about a finished turn; doubtful ones (a fallback, a clarifying
        question, an answer offered with alternatives) are kept for the admins' review."""
        if self.learning is None or turn.followup or (turn.replies and turn.replies[0] == replies.UNREADABLE):
            return
        doubt = None
        if turn.route == "fallback":
            doubt = "clarify" if turn.sources else "fallback"
        elif turn.route == "answer" and len(turn.sources) > 1:
            doubt = "low_confidence"
        self.learning.observe(sender, text, turn.route, turn.topic, turn.sources, turn.confidence, doubt)

    def _feedback(self, text: str, state: State, sender: str) -> Turn | None:
        m = _FEEDBACK.match(text)
        if m is None or self.learning is None or not state.last_entry:
            return None
        helpful = m.group(1) in _HELPFUL
        self.learning.feedback(sender, state.last_entry, helpful)
        return Turn("chitchat", [replies.FEEDBACK_THANKS if helpful else replies.FEEDBACK_SORRY], state=state)

    def handed_off(self, sender: str) -> bool:
        """Whether a human admin has this conversation: then the bot says nothing in it, whatever
        channel the message came through (the web chat talks to Rasa directly)."""
        if self.desk is None or not sender:
            return False
        try:
            return self.desk.handoffs.is_paused(sender)
        except AssistantError as exc:
            log.warning("handoff state of sender=%s unknown: %s", sender, type(exc).__name__,
                        exc_info=log.isEnabledFor(logging.DEBUG))
            return False

    def abusive(self, text: str, sender: str) -> Turn | None:
        """A very angry message, or abuse at the bot: a human admin takes over (abuse of others gets the
        group's warning on the channel, and the message is answered)."""
        clean = prepare(text)
        if not complaint.is_angry(clean) or complaint.insults_others(clean):
            return None
        return self.handoff(text, State(), sender, reason="abusive")

    def unreadable(self, text: str, state: State) -> Turn | None:
        """Markup, code, noise or a script the assistant does not read: a short clarifying reply,
        whatever NLU made of it; not a ticket or a handoff, but a miss toward the automatic handoff."""
        why = unreadable(text)
        if why is None:
            return None
        log.info("unreadable message (%s): clarifying", why)
        # it counts toward the two misses (a real miss next hands off), but never hands off itself
        return Turn("fallback", [replies.UNREADABLE], state=State(misses=min(state.misses + 1, MAX_MISSES - 1),
                                                                  last_topic=state.last_topic,
                                                                  last_entry=state.last_entry))

    # -- the routed turn (every non-form action) ------------------------------------------------
    def signals(self, clean: str, nlu: NLU) -> tuple[Signals, Result, Item | None]:
        """The router's inputs for a prepared message, with the retrieval result and item they came from."""
        topic = nlu.faq_topic()
        item = self.retriever.items.match(clean, topic)
        result = self.retriever.search(clean, topic=topic, k=3)
        top = result.top
        # how close the best fraud warning among the top hits (by fused score, before reranking) comes to the
        # best fused score (1: it is the top hit)
        best = (result.fused or result.hits)[0] if result.hits else None
        fraud = max((h.score / best.score for h in _fraud_hits(result)), default=0.0) \
            if best is not None and best.score > 0 else 0.0
        opened = complaint.opening(clean)
        latin = mostly_latin(clean)
        sig = Signals(
            nlu=nlu, retrieval=result.confidence, item=item is not None,
            topic_agrees=bool(top is not None and topic == top.entry.topic), fraud=fraud,
            complaining=complaint.is_complaint(clean),
            question=complaint.is_question(clean) or bool(_ELLIPSIS_TAIL.search(clean)),
            describes=complaint.DESCRIPTION in opened, category=complaint.CATEGORY in opened,
            unit=bool(find_unit(clean) or complaint.UNIT in opened or complaint.OTHER_PARTY in opened),
            wants_human=complaint.wants_human(clean), length=len(clean),
            answer=result.answer_confidence if result.answer_confidence is not None else result.confidence,
            # English words are in no entry: not a sign of a subject the guide lacks (the dense vectors read them)
            unknown=0.0 if latin else result.unknown, latin=latin, announces=complaint.announces(clean),
            reports=complaint.reports(clean, opened),
            victim=self._victim(clean))
        return sig, result, item

    def _elsewhere(self, clean: str, nlu: NLU, state: State) -> Turn:
        """Another estate's matter: the guide's scope said (not a miss). The entry the question would have
        had here becomes the context, so "那我们小区的呢" next gets it."""
        top = self.retriever.search(clean, topic=nlu.faq_topic(), k=1).top
        kept = State(last_topic=top.entry.topic, last_entry=top.entry.id) if top is not None else \
            State(last_topic=state.last_topic, last_entry=state.last_entry)
        return Turn("fallback", [replies.ELSEWHERE], confidence=1.0, state=kept)

    def _victim(self, clean: str) -> float:
        """For a story of a deception: how close the best fraud warning comes to the best safety entry for it."""
        if not _VICTIM.search(clean):
            return 0.0
        safety = self.retriever.search(clean, topic="safety", k=5)
        best = (safety.fused or safety.hits)[0] if safety.hits else None
        if best is None or best.score <= 0:
            return 0.0
        return max((h.score / best.score for h in _fraud_hits(safety)), default=0.0)

    def decide(self, text: str, nlu: NLU, state: State | None = None, sender: str = "") -> Decision:
        """The router's decision alone (the complaint form's opening asks it); with the conversation's
        ``state``, a follow-up of the last answer ("他还在门口 我开不开门" after a fraud warning) is an answer;
        with the ``sender``, more about their ticket open from a moment ago ("又来了 凌晨两点") is that ticket's."""
        clean = prepare(text)
        if _elsewhere(clean):
            return Decision("fallback", 1.0, "another estate")
        if self._open_ticket(clean, sender) is not None:
            return Decision("ticket", 1.0, "goes on about the open ticket")
        sig, result, _ = self.signals(clean, nlu)
        if state is not None and self._followup(clean, sig, result, state, nlu) is not None:
            return Decision("answer", 1.0, "follow-up of the last answer")
        return self.router.decide(sig)

    def _open_ticket(self, clean: str, sender: str) -> Any | None:
        """The sender's ticket, open from a moment ago, that a message saying it again ("又来了 凌晨两点",
        "今天还是没清") goes on about; None for a question or when there is none."""
        if self.desk is None or not sender or not complaint.goes_on(clean) or (
                complaint.is_question(clean) and not complaint.is_complaint(clean)):
            return None
        try:
            earlier = self.desk.tickets.list(reporter_id=sender, limit=1)
        except AssistantError as exc:
            log.warning("looking up sender=%s's tickets failed: %s", sender, type(exc).__name__,
                        exc_info=log.isEnabledFor(logging.DEBUG))
            return None
        return earlier[0] if earlier and self._recent(earlier[0]) else None

    def _recent(self, ticket: Any) -> bool:
        assert self.desk is not None
        created = ticket.created_at if ticket.created_at.tzinfo else ticket.created_at.replace(tzinfo=UTC)
        return ticket.status in ACTIVE and created >= datetime.now(UTC) - self.desk.dedup_window

    def respond(self, text: str, nlu: NLU, state: State, sender: str = "", *, form: bool = True) -> Turn:
        """One turn outside the complaint form: a pending choice or score, a follow-up read against
        the last answer, else the router's route. ``form=False``: the form already declined this message."""
        picked = self._feedback(text, state, sender) or self._pending_choice(text, state) or self._csat(text, state)
        if picked:
            return self._remember(picked, state)
        clean = prepare(text)
        if is_blank(clean):
            return self.blank(text, state)
        if nlu.top == "affirm" and state.offered_human:
            return self.handoff(text, State(), sender, reason="low_confidence")
        # -- the group's bulletin (assistant/schedule): a current notice, a 辟谣, the activity calendar --
        asks = self.bulletin is not None and not (complaint.is_complaint(clean) or complaint.wants_human(clean))
        hit = self.bulletin.lookup(clean) if self.bulletin is not None and asks else None
        if hit is not None:
            log.info("sender=%s route=answer from the bulletin (%s)", sender,
                     hit.sources[0]["id"] if hit.sources else "-")
            return Turn("answer", [hit.text], topic=hit.topic, sources=list(hit.sources), confidence=1.0,
                        state=State(last_topic=state.last_topic, last_entry=state.last_entry))
        # -- end of the bulletin --
        if _elsewhere(clean):
            log.info("sender=%s route=fallback: another estate", sender)
            return self._elsewhere(clean, nlu, state)
        if form and self._open_ticket(clean, sender) is not None:
            log.info("sender=%s route=ticket: goes on about the open ticket", sender)
            return self._remember(Turn("ticket", [], followup="complaint_form", confidence=1.0), state)
        sig, result, item = self.signals(clean, nlu)
        followup = self._followup(clean, sig, result, state, nlu)
        if followup is not None:
            return self._remember(followup, state)
        decision = self.router.decide(sig)
        log.info("sender=%s route=%s confidence=%.3f reason=%s", sender, decision.route, decision.confidence,
                 decision.reason)
        turn = self._act(decision, clean, nlu, sig, result, item, state, text, sender, form)
        turn.confidence = round(decision.confidence, 4)
        return self._remember(turn, state)

    def _act(self, decision: Decision, clean: str, nlu: NLU, sig: Signals, result: Result, item: Item | None,
             state: State, text: str, sender: str, form: bool) -> Turn:
        route, cal = decision.route, self.retriever.calibration
        topic = nlu.faq_topic()
        if route == "answer" and decision.reason == "fraud warning first":
            hits = _fraud_hits(result) or _fraud_hits(self.retriever.search(clean, topic="safety", k=5))
            if hits:
                hit = max(hits, key=lambda h: h.score)
                return self._entry_turn(hit.entry, hit.score)
        if decision.unsure and route in ("answer", "ticket", "handoff"):
            if result.top is not None and result.confidence >= cal.clarify_at and not sig.complaining:
                return self._clarify(result.hits, topic or result.top.entry.topic, state, text, sender)
            return self.fallback(text, state, sender)
        if route == "answer":
            return self._answer_from(result, item, topic, state, text, sender)
        if route == "ticket":
            return Turn("ticket", [], followup="complaint_form") if form else self.fallback(text, state, sender)
        if route == "handoff":
            return self.handoff(text, State(), sender)
        if route == "chitchat":
            intent = nlu.best_of(CHITCHAT) or "greet"
            return Turn("chitchat", [replies.CHITCHAT.get(intent, replies.CHITCHAT["greet"])], state=state)
        if result.top is not None and result.confidence >= cal.clarify_at and sig.question and topic:
            return self._clarify(result.hits, topic, state, text, sender)
        return self.fallback(text, state, sender)

    def _followup(self, clean: str, sig: Signals, result: Result, state: State, nlu: NLU) -> Turn | None:
        """An elliptical follow-up ("那废灯泡呢", "周末也能办吗", "多少钱", "几点关门") read against the last answer.

        Only short questions qualify (after a fraud warning, also the story going on: "他还在门口"). It is a new
        question instead when Rasa is sure it is out of scope or social, or when it names a subject of its own:
        its own retrieval is sure of an entry on another topic and searching it within the last topic does not
        come close. Otherwise the last topic's best entry for it (failing that, for it with the last entry's
        title) answers, saying which entry was assumed."""
        if not state.last_entry or sig.wants_human:
            return None
        last = self._entry_of(state.last_entry)
        named = state.last_entry.partition("#")[2]             # the last answer was a garbage item's
        title = last.title if last else named
        fraud = last is not None and is_fraud_warning(last)
        size = 2 * len(clean.split()) if sig.latin else len(clean)    # an English word: about two characters
        if size > FOLLOWUP_CHARS + (FRAUD_STORY_CHARS if fraud else 0):
            return None
        cue = bool(_ELLIPSIS_HEAD.search(clean) or _ELLIPSIS_TAIL.search(clean))
        asks = sig.question or bool(_ASKS_TAIL.search(clean) or _A_NOT_A.search(clean))
        top_intent, top_conf = nlu.ranking[0] if nlu.ranking else (None, 0.0)
        # after a fraud warning the victim's story goes on in statements ("下了 还开了屏幕共享", "那些人说是社区
        # 组织的活动"), whatever Rasa makes of them: the warning's context, not a subject of their own
        story = fraud and (top_intent in ("complain", "inform", "out_of_scope", "nlu_fallback")
                           or (not asks and len(clean) > SAME_SUBJECT_CHARS))
        if not (cue or asks or story) or (sig.complaining and not fraud):
            return None
        telling = story and not asks
        # every word known to the guide (大概多少钱, not 股票会涨吗): measured with the answer model only
        subject = queries.subject(clean)
        english = mostly_latin(subject)
        known = self.retriever.answer_model is not None and sig.unknown < BARE_UNKNOWN
        social = top_intent in _SOCIAL or (top_intent == "greet" and not sig.question)
        oos = top_intent == "out_of_scope" and top_conf >= SURE_OTHER and not known     # Rasa sure: out of scope
        if not cue and top_conf >= SURE_OTHER and not story and (social or (oos and (
                self.retriever.answer_model is not None or len(subject) > SAME_SUBJECT_CHARS))):
            return None       # 今天天气怎么样, 你叫什么名字: not about the last answer (大概多少钱: every word known)
        cal, model = self.retriever.calibration, self.retriever.answer_model
        ctx = self.retriever.search(subject, topic=state.last_topic, k=3)
        top = result.top
        sure_at = model.answer_at if model is not None else cal.answer_at
        alone = result.answer_confidence if result.answer_confidence is not None else result.confidence
        near = ctx.answer_confidence if ctx.answer_confidence is not None else ctx.confidence
        named_topic = intent_topic(top_intent) if top_conf >= SURE_INTENT else None
        if named_topic not in (None, state.last_topic) and top_conf >= SURE_OTHER and not telling and (
                (not cue and len(subject) > SAME_SUBJECT_CHARS)
                or (top is not None and top.entry.topic == named_topic and alone >= RELATED_AT)):
            return None       # Rasa sure of another topic: long enough for a subject (物业服务中心几点下班), or its
                              # own retrieval agrees (那怎么查物业费 after a fraud warning)
        if top is not None and alone >= sure_at and top.entry.topic != state.last_topic and not telling and (
                ctx.top is None or ctx.top.entry.topic != state.last_topic or near < alone - OWN_SUBJECT_MARGIN) \
                and (len(subject) > SAME_SUBJECT_CHARS or named_topic == top.entry.topic):
            return None       # a subject of its own (物业费多少钱 after a parking answer; not 要收钱吗)
        table = self.kb.items
        if table is not None and state.last_topic == table.topic and cue:
            item = self.retriever.items.find(subject)
            if item is not None:
                return self._item_turn(item)
            asked = f"{subject}是什么垃圾"            # 那过期的感冒药呢 after an item: that thing's category
            item = self.retriever.items.match(asked, table.topic)
            if item is not None:
                return self._item_turn(item, asked)
            unknown = None if english else self._unknown_item_turn(asked, table.topic)
            if unknown is not None:
                return unknown
        # the title would pull any out-of-scope question to the entry (and English away from itself)
        if (ctx.top is None or ctx.top.entry.topic != state.last_topic or near < sure_at) and title and not oos \
                and not english:
            ctx = self.retriever.search(f"{subject} {title}", topic=state.last_topic, k=3)
        in_topic = ctx.top is not None and ctx.top.entry.topic == state.last_topic
        # English is read by the dense vectors alone: their best in the topic
        if not (in_topic and (english or ctx.confidence >= cal.clarify_at)):
            if len(subject) > SAME_SUBJECT_CHARS or oos:
                return None
            if last is not None:
                return self._assumed(last)      # 要收钱吗, 周末呢: the last entry, saying so (never 股票会涨吗)
            again = self.retriever.items.find(named) if named else None
            if again is None:
                return None
            turn = self._item_turn(again)
            turn.replies.insert(0, replies.ASSUMED.format(title=named))
            return turn
        hit = ctx.top
        if hit is None:
            return None
        turn = self._entry_turn(hit.entry, hit.score)
        if title:
            turn.replies.insert(0, replies.ASSUMED.format(title=title))
        return turn

    def _assumed(self, entry: Entry) -> Turn:
        turn = self._entry_turn(entry, 0.0)
        turn.replies.insert(0, replies.ASSUMED.format(title=entry.title))
        return turn

    def _entry_of(self, ref: str) -> Entry | None:
        if ref in self.kb.by_id:
            return self.kb.by_id[ref]
        return None

    def _remember(self, turn: Turn, state: State) -> Turn:
        """Carry the context slots: an answer becomes the last topic/entry; other turns keep them."""
        if turn.route == "answer" and turn.sources:
            turn.state.last_topic = turn.topic
            ref = str(turn.sources[0]["id"])
            turn.state.last_entry = ref.split("#")[0] if ref.split("#")[0] in self.kb.by_id else ref
        elif turn.route in ("fallback", "chitchat"):
            turn.state.last_topic, turn.state.last_entry = state.last_topic, state.last_entry
        return turn

    def _answer_from(self, result: Result, item: Item | None, topic: str | None, state: State, text: str,
                     sender: str) -> Turn:
        if item and not self._entry_beats_item(result, item):
            return self._item_turn(item, text)
        unknown = self._unknown_item_turn(text, topic, result)      # garbage table (issue 15): not a wrong item
        if unknown is not None and not self._entry_beats_item(result):
            return unknown
        top = result.top
        if top is None:
            return self.fallback(text, state, sender)
        cal, model = self.retriever.calibration, self.retriever.answer_model
        conf = result.answer_confidence
        if model is None or conf is None:      # no answer model fitted: the retrieval confidence alone
            sure, related = result.confidence >= cal.answer_at, result.confidence >= cal.clarify_at
        else:
            sure, related = conf >= model.answer_at, conf >= model.related_at
        clean = prepare(text)
        latin = mostly_latin(clean)
        lacking = model is not None and conf is not None and model.lacks(conf, result.unknown)
        # English is read by the dense vectors alone, so its answer confidence is low whatever it asks
        in_domain = topic is not None and top.entry.topic == topic and (
            (conf if conf is not None else result.confidence) >= HEDGE_AT or latin)
        if sure:
            turn = self._entry_turn(top.entry, top.score)
            self._other_part(turn, clean, topic, top.entry)
        elif (related and not lacking) or in_domain:
            turn = self._entry_turn(top.entry, top.score)
            nearest = (lacking or not related) and not latin
            if nearest:
                turn.replies.insert(0, replies.NEAREST)
            others = result.hits[1:3]
            turn.replies.append(replies.RELATED.format(
                options="\n".join(f"{i + 2}. {h.entry.title}" for i, h in enumerate(others))))
            turn.sources += [source_of(h.entry, h.score) for h in others]
            # only the nearest entry: half a miss (a miss next hands off; it never hands off by itself)
            turn.state = State(pending=[h.entry.id for h in result.hits[:3]],
                               misses=min(state.misses + 1, MAX_MISSES - 1) if nearest else 0)
        elif lacking:
            turn = self._not_in_guide(result, topic, state, text, sender)
        else:
            turn = self._clarify(result.hits, topic or top.entry.topic, state, text, sender)
        turn.answer_confidence = None if conf is None else round(conf, 4)
        return turn

    def _entry_beats_item(self, result: Result, item: Item | None = None) -> bool:
        """An entry that answers the question with confidence and is not just a category's (旧冰箱有人上门收吗:
        the appliance pick-up; 钥匙锁屋里了: the locksmith; 快递拆下的塑料袋和泡沫: the parcel entry) answers it
        rather than the item's category, when it talks about the ``item`` named: shares a two-character piece
        of its name or aliases (快递袋 entry, 塑料袋 item: 塑料; a confident entry with none, 旧电池扔哪 -> the
        greenery entry, is not about it)."""
        top, table = result.top, self.kb.items
        if top is None or result.answer_confidence is None or table is None:
            return False
        categories = {c.entry for c in table.categories.values()}
        if result.answer_confidence < ENTRY_OVER_ITEM or top.entry.id in categories:
            return False
        if item is None:
            return True
        e = top.entry
        said = "\n".join((e.title, *e.questions, e.answer, *e.tags)).lower()
        pieces = {n[i:i + 2] for n in (item.name.lower(), *(a.lower() for a in item.aliases))
                  for i in range(max(1, len(n) - 1))}
        return any(piece in said for piece in pieces)

    def _other_part(self, turn: Turn, clean: str, topic: str | None, answered: Entry) -> None:
        """A two-part question ("能按年交吗，有没有折扣") whose other part another entry answers surely:
        that entry's answer follows, named by the part it answers."""
        model = self.retriever.answer_model
        parts = queries.parts(clean)
        if model is None or not parts:
            return
        for part in parts:
            res = self.retriever.search(part, topic=topic, k=3)
            if res.top is None or res.top.entry.id == answered.id or res.answer_confidence is None:
                continue
            if res.answer_confidence >= model.answer_at and complaint.is_question(part):
                extra = self._entry_turn(res.top.entry, res.top.score)
                turn.replies.append(replies.ALSO.format(part=part.strip()) + extra.replies[0])
                turn.sources += extra.sources
                return

    def _not_in_guide(self, result: Result, topic: str | None, state: State, text: str, sender: str) -> Turn:
        options = result.hits[:3]
        lines = "\n".join(f"{i + 1}. {h.entry.title}" for i, h in enumerate(options))
        turn = Turn("fallback", [replies.NOT_IN_GUIDE.format(options=lines)], topic=topic,
                    sources=[source_of(h.entry, h.score) for h in options],
                    state=State(pending=[h.entry.id for h in options]))
        return self._miss(turn, state, text, sender)

    # -- routes ---------------------------------------------------------------------------------
    def answer(self, text: str, intent: str | None, state: State, sender: str = "") -> Turn:
        picked = self._pending_choice(text, state) or self._csat(text, state)
        if picked:
            return picked
        clean = prepare(text)
        if is_blank(clean):
            return self.blank(text, state)
        if complaint.is_complaint(clean):        # a grievance about a topic, not a question on it
            return Turn("ticket", [], followup="complaint_form")
        topic = intent_topic(intent)
        item = self.retriever.items.match(clean, topic)
        if item:
            return self._item_turn(item, text)
        return self._answer_from(self.retriever.search(clean, topic=topic, k=3), None, topic, state, text, sender)

    def chitchat(self, intent: str, text: str, state: State, sender: str = "") -> Turn:
        picked = self._pending_choice(text, state) or self._csat(text, state)
        if picked:
            return picked
        if intent == "affirm" and state.offered_human:
            return self.handoff(text, State(), sender, reason="low_confidence")
        return Turn("chitchat", [replies.CHITCHAT.get(intent, replies.CHITCHAT["greet"])])

    def complain(self, text: str) -> Turn | None:
        """A message read as a complaint: the answer when it is a question in complaint words that
        the knowledge base answers confidently ("楼道里可以放杂物吗"); None when it is a complaint."""
        clean = prepare(text)
        if not complaint.is_question(clean):
            return None
        result = self.retriever.search(clean, k=1)
        if result.top is None or result.confidence < self.retriever.calibration.answer_at:
            return None
        turn = self._entry_turn(result.top.entry, result.top.score)
        turn.replies.append(replies.COMPLAIN_HINT)
        return turn

    # -- the complaint form ---------------------------------------------------------------------
    def complaint_step(self, text: str, slots: dict[str, Any], asked: str | None, sender: str = "",
                       nlu: NLU | None = None, state: State | None = None) -> complaint.Step:
        """Read one message of the form; at the start, a unit the resident gave on an earlier ticket
        is taken rather than asked again. At the start the router decides (given Rasa's ``nlu``)
        whether the message is a complaint at all."""
        if asked is None and unreadable(text) is not None:       # junk does not start a complaint
            return complaint.Step({complaint.STOP: "unreadable"})
        if asked is None and (self.decide(text, nlu, state, sender).route != "ticket" if nlu is not None
                              else self.complain(text) is not None):
            return complaint.Step({complaint.STOP: "answered"})
        sure = nlu.ranking[0][0] if nlu is not None and nlu.ranking and nlu.ranking[0][1] >= SURE_INTENT else None
        step = complaint.step(text, slots, asked, intent=sure)
        if asked is None and self.desk is not None and sender:
            try:
                earlier = self.desk.tickets.list(reporter_id=sender, limit=5)
            except AssistantError as exc:
                log.warning("looking up sender=%s's tickets failed: %s", sender, type(exc).__name__,
                            exc_info=log.isEnabledFor(logging.DEBUG))
                earlier = []
            unit = next((t.unit for t in earlier if t.unit), None)
            if unit and complaint.UNIT not in step.updates:
                step.updates[complaint.UNIT] = unit
            if earlier and self._continues(text, step.updates, earlier[0]):
                step.updates |= complaint.appended_to(earlier[0])
                step.updates.setdefault(complaint.DESCRIPTION, redact_text(prepare(text)))
        return step

    def _continues(self, text: str, updates: dict[str, Any], ticket: Any) -> bool:
        """A message that goes on about the resident's ticket still open from a moment ago ("今晚又开始了",
        "补充一下…", "又来了 凌晨两点"): says it again, names no other category."""
        return (self._recent(ticket) and complaint.STOP not in updates
                and updates.get(complaint.CATEGORY) in (None, ticket.category) and complaint.goes_on(prepare(text)))

    def complaint_question(self, slot: str, slots: dict[str, Any]) -> Turn:
        """The form's next question; its confidence is how often staying in the form was right on the tuning
        dialogues (a question asked again, after an unclear answer, less)."""
        again = bool(slots.get(complaint.RETRIES))
        return Turn("ticket", [complaint.question(slot, slots)], confidence=FORM_AGAIN if again else FORM_TURN)

    def submit_complaint(self, slots: dict[str, Any], sender: str = "", text: str = "",
                         nlu: NLU | None = None, state: State | None = None) -> Turn:
        """The form is over: open (or append to) the ticket, or not, and hand off where needed. The form's
        own turns (a ticket, a cancel) have the form's confidence; a message the router took, its own."""
        turn = self._submit(slots, sender, text, nlu, state)
        if turn.confidence is None and slots.get(complaint.STOP) != "answered":
            turn.confidence = FORM_TURN
        return turn

    def _submit(self, slots: dict[str, Any], sender: str, text: str, nlu: NLU | None,
                state: State | None) -> Turn:
        stop = slots.get(complaint.STOP)
        reset = {name: None for name in complaint.SLOTS}
        if stop == "cancel":
            return Turn("ticket", [replies.COMPLAINT_CANCELLED], slots=reset)
        if stop == "unreadable":
            return Turn("fallback", [replies.UNREADABLE], slots=reset)
        if stop == "answered":
            if nlu is not None:       # the router's turn, with its context slots
                turn = self.respond(text, nlu, state or State(), sender, form=False)
                turn.slots = turn.state.as_slots() | reset
            else:
                turn = self.complain(text) or self.fallback(text, State(), sender)
                turn.slots = reset
            return turn
        if stop == "handoff" and not slots.get(complaint.DESCRIPTION):    # nothing told: a person, no empty ticket
            turn = self.handoff(text, State(), sender)
            turn.slots = reset
            return turn
        fields = complaint.ticket_fields(slots)
        if self.desk is None or not sender:
            return Turn("ticket", [replies.COMPLAIN_ACK], slots=reset)
        ticket, created = self.desk.complain(sender, fields.pop("text"), **fields)
        template = replies.TICKET_OPENED if created else replies.TICKET_APPENDED
        said = [template.format(id=ticket.id, category=CATEGORY_NAMES.get(ticket.category, ticket.category))]
        turn = Turn("ticket", said, ticket_id=ticket.id, slots=reset)
        reason = {"handoff": "request_human", "angry": "abusive"}.get(stop or "")
        if reason is None and ticket.category in self.sensitive_categories:
            reason = "sensitive_category"
        if reason:
            handed = self.handoff(f"工单 {ticket.id}：{ticket.description}", State(), sender, reason=reason)
            turn.replies += handed.replies
            turn.route = "handoff"
        return turn

    # -- told by the admins' side (push.py) ------------------------------------------------------
    def ask_csat(self, ticket_id: str) -> Turn:
        return Turn("ticket", [replies.CSAT_QUESTION.format(id=ticket_id)], ticket_id=ticket_id,
                    state=State(csat_ticket=ticket_id))

    def handoff_timed_out(self, ticket_id: str | None, handoff_id: str | None) -> Turn:
        return Turn("handoff", [replies.HANDOFF_TIMEOUT.format(ticket=ticket_id or "-", id=handoff_id or "-")],
                    ticket_id=ticket_id)

    def _csat(self, text: str, state: State) -> Turn | None:
        if not state.csat_ticket:
            return None
        score = read_score(text)
        if score is None:
            return None
        if self.desk is not None:
            try:
                self.desk.tickets.rate(state.csat_ticket, score, actor="resident")
            except AssistantError as exc:
                log.warning("rating ticket %s failed: %s", state.csat_ticket, type(exc).__name__,
                            exc_info=log.isEnabledFor(logging.DEBUG))
                return Turn("ticket", [replies.CSAT_FAILED], ticket_id=state.csat_ticket, rated=True)
        return Turn("ticket", [replies.CSAT_THANKS.format(score=score)], ticket_id=state.csat_ticket, rated=True)

    def handoff(self, text: str, state: State, sender: str = "", reason: str = "request_human") -> Turn:
        if self.desk is None or not sender:
            return Turn("handoff", [replies.HANDOFF_ACK])
        handoff, admin = self.desk.hand_off(sender, reason, prepare(text))
        minutes = round(self.desk.handoff_timeout.total_seconds() / 60)
        return Turn("handoff", [replies.HANDOFF_TO.format(name=admin.name, id=handoff.id, minutes=minutes)])

    def fallback(self, text: str, state: State, sender: str = "") -> Turn:
        picked = self._pending_choice(text, state) or self._csat(text, state)
        if picked:
            return picked
        clean = prepare(text)
        if is_blank(clean):
            return self.blank(text, state)
        return self._miss(Turn("fallback", [replies.FALLBACK]), state, text, sender)

    def blank(self, text: str, state: State) -> Turn:
        """Nothing word-like: emoji alone are a reaction (chitchat); punctuation alone ("？？？", "。。。") or
        nothing at all asks what the resident wants (a clarifying fallback, not a miss)."""
        route, reply = replies.blank(prepare(text))
        return Turn(route, [reply], state=state)

    # -- helpers --------------------------------------------------------------------------------
    def _miss(self, turn: Turn, state: State, text: str = "", sender: str = "") -> Turn:
        misses = state.misses + 1
        if misses >= MAX_MISSES and self.desk is not None and sender:
            # Two turns in a row the bot could not help: a person takes over.
            handed = self.handoff(text, State(), sender, reason="low_confidence")
            return Turn("handoff", [replies.MISSED_TWICE, *handed.replies], topic=turn.topic,
                        sources=turn.sources)
        if misses >= MAX_MISSES:
            turn.replies.append(replies.OFFER_HUMAN)
            turn.state = State(misses=misses, pending=turn.state.pending, offered_human=True)
        else:
            turn.state = State(misses=misses, pending=turn.state.pending)
        return turn

    def _clarify(self, hits: list[Any], topic: str | None, state: State, text: str = "", sender: str = "") -> Turn:
        options = hits[:3]
        lines = "\n".join(f"{i + 1}. {h.entry.title}" for i, h in enumerate(options))
        turn = Turn("fallback", [replies.CLARIFY.format(options=lines)], topic=topic,
                    sources=[source_of(h.entry, h.score) for h in options],
                    state=State(pending=[h.entry.id for h in options]))
        return self._miss(turn, state, text, sender)

    def _pending_choice(self, text: str, state: State) -> Turn | None:
        if not state.pending:
            return None
        clean = prepare(text)
        m = _CHOICE.match(clean)
        idx = None
        if m:
            d = m.group(1)
            idx = (_CN_DIGIT.get(d) or int(d)) - 1
        else:
            for i, eid in enumerate(state.pending):
                entry = self.kb.by_id.get(eid)
                if entry and entry.title in clean:
                    idx = i
        if idx is None or not 0 <= idx < len(state.pending) or state.pending[idx] not in self.kb.by_id:
            return None
        return self._entry_turn(self.kb.by_id[state.pending[idx]], 1.0)

    def _entry_turn(self, entry: Entry, score: float) -> Turn:
        body = self.kb.render(entry.answer)
        cite = replies.SOURCE.format(title=entry.title, topic_name=TOPIC_NAMES[entry.topic], id=entry.id,
                                     updated=entry.updated)
        return Turn("answer", [f"{body}\n{cite}"], topic=entry.topic, sources=[source_of(entry, score)])

    # -- garbage table (issue 15): every item the message names, safety first; unknown compounds --
    def _item_turn(self, item: Item, text: str = "", items: list[Item] | None = None) -> Turn:
        table = self.kb.items
        assert table is not None
        found = self.retriever.items.lookup(prepare(text)) if text else None
        if items is None:
            items = found.items if found and item in found.items else [item]
        body = table.describe(items)
        if found and found.unknown and asks_disposal(prepare(text)):
            body += "\n" + table.describe_unknown(found.unknown)
        cite = replies.SOURCE.format(title=table.title, topic_name=TOPIC_NAMES[table.topic], id=table.id,
                                     updated=table.updated)
        sources = [{"id": f"{table.id}#{it.name}", "title": table.title, "topic": table.topic, "score": 1.0,
                    "entry": table.categories[it.category].entry if it.category in table.categories else None}
                   for it in items]
        return Turn("answer", [f"{body}\n{cite}"], topic=table.topic, sources=sources)

    def _unknown_item_turn(self, text: str, topic: str | None, result: Result | None = None) -> Turn | None:
        """A thing the table does not list ("咖啡胶囊是什么垃圾" without 咖啡胶囊): said so, with the rule of thumb.
        Items written side by side (塑料瓶玻璃瓶) that share the category the retrieval confidently names are
        those items, not one unknown thing."""
        table, clean = self.kb.items, prepare(text)
        if table is None or not asks_disposal(clean):     # the message itself asks where it goes
            return None
        unknown = self.retriever.items.lookup(clean).unknown
        if not unknown:
            return None
        top = result.top if result is not None else None
        if top is not None and result is not None and (result.answer_confidence or 0.0) >= ENTRY_OVER_ITEM:
            parts = [self.retriever.items.parts(name) for name in unknown]
            if all(parts) and {table.categories[it.category].entry for p in parts for it in p
                               if it.category in table.categories} == {top.entry.id}:
                return self._item_turn(parts[0][0], text, [it for p in parts for it in p])
        cite = replies.SOURCE.format(title=table.title, topic_name=TOPIC_NAMES[table.topic], id=table.id,
                                     updated=table.updated)
        source = {"id": table.id, "title": table.title, "topic": table.topic, "score": 0.0}
        return Turn("answer", [f"{table.describe_unknown(unknown)}\n{cite}"], topic=table.topic, sources=[source])

