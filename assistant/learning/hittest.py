"""Hit testing: what the live bot would do with a question — Rasa's NLU reading (from the running
Rasa server when it is up), then the engine's own routed turn (``Engine.respond``, the code the
action server runs), with the retriever's top entries and scores. Nothing is recorded: the engine
used here has no desk (no ticket, no handoff) and no learning port."""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from assistant.dialogue.engine import Engine, State
from assistant.dialogue.router import NLU
from assistant.errors import DataError
from assistant.text.normalize import limit, prepare

log = logging.getLogger(__name__)


class Parser(Protocol):
    def __call__(self, text: str) -> NLU | None: ...


@dataclass
class Hit:
    text: str
    route: str
    confidence: float | None
    intent: str | None
    reply: str
    answered_by: str | None               # the entry the bot would cite, if it answers
    top: list[dict[str, Any]] = field(default_factory=list)   # retriever's best entries with scores
    nlu: bool = True                      # False: Rasa was not reachable, routed without its reading

    def as_dict(self) -> dict[str, Any]:
        return {"text": self.text, "route": self.route, "confidence": self.confidence, "intent": self.intent,
                "answered_by": self.answered_by, "reply": self.reply, "top": self.top, "nlu": self.nlu}


def rasa_parser(rasa_url: str, token: str, timeout: float = 10.0) -> Parser:
    """Rasa's ``/model/parse`` on the running server; None when it is not reachable."""
    import httpx

    def parse(text: str) -> NLU | None:
        try:
            r = httpx.post(f"{rasa_url}/model/parse", params={"token": token}, json={"text": text}, timeout=timeout)
            r.raise_for_status()
            return NLU.from_message(r.json())
        except (httpx.HTTPError, ValueError) as exc:
            log.info("hittest: Rasa not reachable (%s), routing without NLU", type(exc).__name__)
            return None
    return parse


def hit_test(engine: Engine, text: str, parser: Parser | None = None, k: int = 5) -> Hit:
    clean = prepare(limit(text))
    nlu = parser(clean) if parser is not None else None
    reading = nlu or NLU()
    turn = engine.respond(clean, reading, State(), sender="")
    result = engine.retriever.search(clean, topic=reading.faq_topic(), k=k)
    top = [{"id": h.entry.id, "title": h.entry.title, "topic": h.entry.topic, "score": round(h.score, 4)}
           for h in result.hits]
    answered = str(turn.sources[0]["id"]) if turn.route == "answer" and turn.sources else None
    return Hit(text, turn.route, turn.confidence, reading.top, "\n".join(turn.replies), answered, top,
               nlu is not None)


MAX_QUESTIONS = 500          # per file: hit testing runs the whole engine on each


def read_questions(path: Path) -> list[str]:
    """Questions from a .csv (first column, or a column named question/问题/text) or .xlsx (same) file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read the file: {exc.strerror}", path=str(path)) from None
    return parse_questions(data, path.name)


def parse_questions(data: bytes, name: str) -> list[str]:
    """The questions of a file's bytes (``name``'s suffix says .csv/.txt or .xlsx); the CLI's ``--file``
    and the console's upload both read through here. A bad file raises DataError naming it."""
    suffix = Path(name).suffix.lower()
    rows: list[list[str]]
    if suffix in (".xlsx", ".xlsm"):
        from zipfile import BadZipFile

        from openpyxl import load_workbook

        try:
            wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except (BadZipFile, OSError, KeyError, ValueError) as exc:
            raise DataError(f"not a readable .xlsx workbook ({type(exc).__name__})", path=name) from None
        sheet = wb.active
        rows = [[("" if c is None else str(c)) for c in r] for r in sheet.iter_rows(values_only=True)] if sheet else []
        wb.close()
    elif suffix in (".csv", ".txt"):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise DataError(f"not UTF-8 text (byte {exc.start}); save the sheet as CSV UTF-8", path=name) from None
        try:
            rows = list(csv.reader(io.StringIO(text)))
        except csv.Error as exc:
            raise DataError(f"not a readable CSV file: {exc}", path=name) from None
    else:
        raise DataError("questions must be a .csv or .xlsx file", path=name)
    if not rows:
        return []
    col, start = 0, 0
    head = [h.strip().lower() for h in rows[0]]
    for key in ("question", "问题", "text"):
        if key in head:
            col, start = head.index(key), 1
    questions = [r[col].strip() for r in rows[start:] if len(r) > col and r[col].strip()]
    if len(questions) > MAX_QUESTIONS:
        raise DataError(f"{len(questions)} questions; at most {MAX_QUESTIONS} per file", path=name)
    return questions
