"""Surveys: single and multiple choice and free-text questions, answered in a private chat one
question at a time, one answer per unit, optionally anonymous; results per question.

A survey is made from a YAML template (``templates/quarterly_satisfaction.yml``, the guide's
quarterly satisfaction survey) or any file of the same shape::

    survey:
      title: 2026年第四季度物业服务满意度调查
      anonymous: true
      questions:
        - id: overall                   # optional; q1, q2 … otherwise
          text: 您对物业服务的总体评价？
          kind: single                  # single | multiple | text
          options: [非常满意, 满意, 一般, 不满意, 非常不满意]
        - text: 还有什么建议？
          kind: text
          optional: true                # may be skipped with 跳过

Anonymous surveys keep who answered (one row per unit, to refuse a second answer) apart from the
answers (a random id, no unit, no time); neither table has an order or a time that pairs them.
"""

from __future__ import annotations

import builtins
import datetime as dt
import json
import re
import secrets
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from assistant.community.errors import BadInput, NotFound, Refused
from assistant.community.store import Tables, known_id
from assistant.community.tables import RespondentRow, ResponseRow, SessionRow, SurveyRow
from assistant.errors import DataError
from assistant.moderation.pii import redact_text
from assistant.text.units import cn_number

SINGLE, MULTIPLE, TEXT = "single", "multiple", "text"
KINDS = {SINGLE: "单选", MULTIPLE: "多选", TEXT: "填空"}
TEMPLATES = Path(__file__).resolve().parent / "templates"
MAX_TEXT = 500
MAX_OPTIONS = 20
SKIP = ("跳过", "略过", "无", "没有")
SESSION_HOURS = 24          # an unfinished survey is forgotten after a day


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    kind: str
    options: tuple[str, ...] = ()
    optional: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "kind": self.kind, "options": list(self.options),
                "optional": self.optional}


@dataclass(frozen=True)
class Survey:
    id: int
    title: str
    anonymous: bool
    questions: tuple[Question, ...]
    created_at: dt.datetime
    closed_at: dt.datetime | None

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


@dataclass
class QuestionResult:
    question: Question
    counts: dict[str, int] = field(default_factory=dict)     # option -> units that chose it
    texts: list[str] = field(default_factory=list)
    answered: int = 0


@dataclass
class Results:
    survey: Survey
    responses: int
    questions: list[QuestionResult]


# -- templates -----------------------------------------------------------------------------------

def parse_questions(raw: Any, path: str = "<survey>", line: int | None = None) -> tuple[Question, ...]:
    """Questions from a template's ``questions`` list; ``DataError`` names file, line and field."""
    if not isinstance(raw, list) or not raw:
        raise DataError("questions must be a non-empty list", path=path, line=line, field="questions")
    out: list[Question] = []
    seen: set[str] = set()
    for i, q in enumerate(raw, 1):
        at = q.get("__line__", line) if isinstance(q, dict) else line
        if not isinstance(q, dict):
            raise DataError(f"question {i} must be a mapping", path=path, line=at, field="questions")
        unknown = set(q) - {"id", "text", "kind", "options", "optional", "__line__"}
        if unknown:
            raise DataError(f"question {i}: unknown field(s) {', '.join(sorted(map(str, unknown)))}",
                            path=path, line=at, field=sorted(map(str, unknown))[0])
        qid = str(q.get("id") or f"q{i}")
        if not re.fullmatch(r"[A-Za-z0-9_\-]{1,40}", qid) or qid in seen:
            raise DataError(f"question {i}: id {qid!r} must be unique letters/digits/_", path=path, line=at,
                            field="id")
        seen.add(qid)
        text = q.get("text")
        if not isinstance(text, str) or not text.strip() or len(text) > 200:
            raise DataError(f"question {i}: text must be 1-200 characters", path=path, line=at, field="text")
        kind = q.get("kind", SINGLE)
        if kind not in KINDS:
            raise DataError(f"question {i}: kind must be one of {', '.join(KINDS)}, got {kind!r}", path=path,
                            line=at, field="kind")
        options = q.get("options", [])
        if kind == TEXT:
            if options:
                raise DataError(f"question {i}: a text question has no options", path=path, line=at,
                                field="options")
            opts: tuple[str, ...] = ()
        else:
            if (not isinstance(options, list) or not 2 <= len(options) <= MAX_OPTIONS
                    or not all(isinstance(o, (str, int)) and str(o).strip() for o in options)):
                raise DataError(f"question {i}: options must be a list of 2-{MAX_OPTIONS} non-empty texts",
                                path=path, line=at, field="options")
            opts = tuple(str(o).strip() for o in options)
            if len(set(opts)) != len(opts):
                raise DataError(f"question {i}: options repeat", path=path, line=at, field="options")
        optional = q.get("optional", False)
        if not isinstance(optional, bool):
            raise DataError(f"question {i}: optional must be true or false", path=path, line=at, field="optional")
        out.append(Question(qid, text.strip(), kind, opts, optional))
    return tuple(out)


@dataclass(frozen=True)
class Template:
    title: str
    anonymous: bool
    questions: tuple[Question, ...]


def load_template(path: str | Path) -> Template:
    """A survey template (YAML); a name without a folder is one of ``templates/`` (quarterly_satisfaction)."""
    from assistant.text.yamlfile import LINE, read_yaml

    p = Path(path)
    if not p.suffix and len(p.parts) == 1:
        p = TEMPLATES / f"{p.name}.yml"
    data = read_yaml(p)
    where = str(p)
    if not isinstance(data, dict) or not isinstance(data.get("survey"), dict):
        raise DataError("the file must hold a mapping 'survey:' with title and questions", path=where, line=1,
                        field="survey")
    s = data["survey"]
    line = s.get(LINE)
    title = s.get("title")
    if not isinstance(title, str) or not title.strip() or len(title) > 200:
        raise DataError("title must be 1-200 characters", path=where, line=line, field="title")
    anonymous = s.get("anonymous", False)
    if not isinstance(anonymous, bool):
        raise DataError("anonymous must be true or false", path=where, line=line, field="anonymous")
    return Template(title.strip(), anonymous, parse_questions(s.get("questions"), where, line))


# -- answers ---------------------------------------------------------------------------------------

def prompt(q: Question, number: int, total: int) -> str:
    """How a question is asked in the chat."""
    head = f"第 {number}/{total} 题（{KINDS[q.kind]}{'，可回复“跳过”' if q.optional else ''}）：{q.text}"
    if q.kind == TEXT:
        return head
    opts = "\n".join(f"{i}. {o}" for i, o in enumerate(q.options, 1))
    how = "回复序号" if q.kind == SINGLE else "回复一个或多个序号，用空格或逗号分开，如 1 3"
    return f"{head}\n{opts}\n（{how}）"


def _choice(q: Question, token: str) -> str:
    t = token.strip()
    n = cn_number(t) if t else None
    if n is not None:
        if 1 <= n <= len(q.options):
            return q.options[n - 1]
        raise BadInput("option", f"没有选项 {t}：请回复 1-{len(q.options)} 之间的序号")
    for o in q.options:
        if t == o:
            return o
    raise BadInput("option", f"没有“{t[:20]}”这个选项：请回复 1-{len(q.options)} 之间的序号")


def parse_answer(q: Question, text: str) -> str | list[str] | None:
    """A chat reply to ``q``: the option chosen, the options chosen (in the template's order), the
    text, or None for a skipped optional question. ``BadInput`` says what is wrong."""
    t = unicodedata.normalize("NFKC", text or "").strip()
    if q.optional and t in SKIP:
        return None
    if not t:
        raise BadInput("answer", "回答是空的" + ("，不想回答可以回复“跳过”" if q.optional else ""))
    if q.kind == TEXT:
        if len(t) > MAX_TEXT:
            raise BadInput("answer", f"回答太长了（最多 {MAX_TEXT} 字）")
        return redact_text(t)
    if q.kind == SINGLE:
        return _choice(q, t)
    tokens = [x for x in re.split(r"[\s,，、;；/]+", t) if x]
    if len(tokens) == 1 and re.fullmatch(r"\d{2,}", tokens[0]) and len(q.options) < 10:
        tokens = list(tokens[0])                    # "135" means 1, 3 and 5
    chosen = {_choice(q, x) for x in tokens}
    return [o for o in q.options if o in chosen]


def check_answers(survey: Survey, answers: dict[str, Any]) -> dict[str, Any]:
    """A whole set of answers (as stored: option texts), checked against the survey."""
    out: dict[str, Any] = {}
    for q in survey.questions:
        a = answers.get(q.id)
        if a is None:
            if not q.optional:
                raise BadInput("answer", f"第“{q.id}”题没有回答")
            out[q.id] = None
        elif q.kind == SINGLE:
            if a not in q.options:
                raise BadInput("option", f"第“{q.id}”题没有“{a}”这个选项")
            out[q.id] = a
        elif q.kind == MULTIPLE:
            if not isinstance(a, list) or not a or any(x not in q.options for x in a):
                raise BadInput("option", f"第“{q.id}”题的选项不对：{a!r}")
            out[q.id] = [o for o in q.options if o in a]
        else:
            out[q.id] = parse_answer(q, str(a))
    extra = set(answers) - {q.id for q in survey.questions}
    if extra:
        raise BadInput("answer", f"问卷里没有这些题：{', '.join(sorted(extra))}")
    return out


# -- the store ------------------------------------------------------------------------------------

def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _survey(r: SurveyRow) -> Survey:
    qs = tuple(Question(q["id"], q["text"], q["kind"], tuple(q["options"]), q["optional"])
               for q in json.loads(r.questions))
    return Survey(r.id, r.title, r.anonymous, qs, r.created_at.replace(tzinfo=dt.UTC),
                  r.closed_at.replace(tzinfo=dt.UTC) if r.closed_at else None)


@dataclass(frozen=True)
class Step:
    """What the chat says next: the next question, or the end (``done``)."""

    text: str
    done: bool = False


class Surveys:
    def __init__(self, tables: Tables, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.tables = tables
        self.clock = clock

    def create(self, title: str, questions: tuple[Question, ...], *, anonymous: bool = False,
               created_by: str = "admin") -> Survey:
        if not title.strip() or len(title) > 200:
            raise BadInput("title", "问卷标题要有 1-200 个字")
        if not questions:
            raise BadInput("questions", "问卷至少要有一道题")
        row = SurveyRow(title=title.strip(), anonymous=anonymous,
                        questions=json.dumps([q.as_dict() for q in questions], ensure_ascii=False),
                        created_by=created_by, created_at=self.clock().astimezone(dt.UTC).replace(tzinfo=None))
        with self.tables.write() as s:
            s.add(row)
            s.flush()
            return _survey(row)

    def from_template(self, path: str | Path, created_by: str = "admin", title: str | None = None) -> Survey:
        t = load_template(path)
        return self.create(title or t.title, t.questions, anonymous=t.anonymous, created_by=created_by)

    def get(self, survey_id: int) -> Survey:
        with self.tables.read() as s:
            row = s.get(SurveyRow, known_id(survey_id))
            if row is None:
                raise NotFound(f"没有编号为 {survey_id} 的问卷")
            return _survey(row)

    def list(self, open_only: bool = False) -> builtins.list[Survey]:
        q = select(SurveyRow).order_by(SurveyRow.id.desc())
        if open_only:
            q = q.where(SurveyRow.closed_at.is_(None))
        with self.tables.read() as s:
            return [_survey(r) for r in s.scalars(q)]

    def close(self, survey_id: int) -> Survey:
        with self.tables.write() as s:
            row = s.get(SurveyRow, known_id(survey_id))
            if row is None:
                raise NotFound(f"没有编号为 {survey_id} 的问卷")
            if row.closed_at is None:
                row.closed_at = self.clock().astimezone(dt.UTC).replace(tzinfo=None)
            return _survey(row)

    def answered(self, survey_id: int, unit: str) -> bool:
        with self.tables.read() as s:
            return s.get(RespondentRow, (survey_id, unit)) is not None

    def submit(self, survey_id: int, unit: str, answers: dict[str, Any]) -> None:
        """Store one unit's answers (checked); ``Refused`` when the unit has answered already."""
        with self.tables.write() as s:
            row = s.get(SurveyRow, known_id(survey_id))
            if row is None:
                raise NotFound(f"没有编号为 {survey_id} 的问卷")
            self._store(s, _survey(row), unit, answers)

    def _store(self, s: Session, survey: Survey, unit: str, answers: dict[str, Any]) -> None:
        if not survey.is_open:
            raise Refused(f"问卷“{survey.title}”已结束")
        if s.get(RespondentRow, (survey.id, unit)) is not None:
            raise Refused(f"{unit} 已经填过问卷“{survey.title}”了，每户只填一次")
        clean = check_answers(survey, answers)
        try:
            with s.begin_nested():
                s.add(RespondentRow(survey_id=survey.id, unit=unit))
                s.add(ResponseRow(id=secrets.token_hex(16), survey_id=survey.id,
                                  unit=None if survey.anonymous else unit,
                                  answers=json.dumps(clean, ensure_ascii=False)))
        except IntegrityError:            # the same unit, at the same moment, from elsewhere
            raise Refused(f"{unit} 已经填过问卷“{survey.title}”了，每户只填一次") from None

    # -- one question at a time, in a private chat -----------------------------------------------

    def start(self, key: str, survey_id: int, unit: str) -> Step:
        now = self.clock().astimezone(dt.UTC).replace(tzinfo=None)
        with self.tables.write() as s:
            row = s.get(SurveyRow, known_id(survey_id))
            if row is None:
                raise NotFound(f"没有编号为 {survey_id} 的问卷")
            survey = _survey(row)
            if not survey.is_open:
                raise Refused(f"问卷“{survey.title}”已结束")
            if s.get(RespondentRow, (survey_id, unit)) is not None:
                raise Refused(f"{unit} 已经填过问卷“{survey.title}”了，每户只填一次")
            s.execute(delete(SessionRow).where(SessionRow.key == key))
            s.add(SessionRow(key=key, survey_id=survey_id, unit=unit, step=0, answers="{}", updated_at=now))
        anon = "本问卷匿名：答案不与房号关联。" if survey.anonymous else ""
        intro = f"开始填写《{survey.title}》（{unit}，共 {len(survey.questions)} 题）。{anon}回复“退出问卷”可随时退出。"
        return Step(intro + "\n" + prompt(survey.questions[0], 1, len(survey.questions)))

    def active(self, key: str) -> bool:
        """Whether ``key`` is answering a survey now (a session younger than a day)."""
        since = (self.clock() - dt.timedelta(hours=SESSION_HOURS)).astimezone(dt.UTC).replace(tzinfo=None)
        with self.tables.read() as s:
            row = s.get(SessionRow, key)
            return row is not None and row.updated_at >= since

    def cancel(self, key: str) -> bool:
        with self.tables.write() as s:
            return bool(s.execute(delete(SessionRow).where(SessionRow.key == key)).rowcount)  # type: ignore[attr-defined]

    def reply(self, key: str, text: str) -> Step:
        """The answer to the current question; the next question, or the end (answers stored).
        A bad answer raises ``BadInput`` and the question stays."""
        now = self.clock().astimezone(dt.UTC).replace(tzinfo=None)
        with self.tables.write() as s:
            row = s.get(SessionRow, key)
            if row is None:
                raise NotFound("您没有正在填写的问卷，回复“问卷”查看可填写的问卷")
            srow = s.get(SurveyRow, row.survey_id)
            assert srow is not None             # sessions go with their survey (ON DELETE CASCADE)
            survey = _survey(srow)
            answers = json.loads(row.answers)
            q = survey.questions[row.step]
            answers[q.id] = parse_answer(q, text)
            if row.step + 1 < len(survey.questions):
                row.step, row.answers, row.updated_at = row.step + 1, json.dumps(answers, ensure_ascii=False), now
                return Step(prompt(survey.questions[row.step], row.step + 1, len(survey.questions)))
            s.delete(row)
            self._store(s, survey, row.unit, answers)
        return Step(f"感谢填写《{survey.title}》！结果汇总后会在群里公布。", done=True)

    # -- results -----------------------------------------------------------------------------------

    def results(self, survey_id: int) -> Results:
        survey = self.get(survey_id)
        with self.tables.read() as s:
            rows = [json.loads(a) for a in s.scalars(select(ResponseRow.answers)
                                                       .where(ResponseRow.survey_id == survey_id)
                                                       .order_by(ResponseRow.id))]
            responded = s.scalar(select(func.count()).select_from(RespondentRow)
                                 .where(RespondentRow.survey_id == survey_id)) or 0
        out = []
        for q in survey.questions:
            r = QuestionResult(q, {o: 0 for o in q.options})
            for a in rows:
                v = a.get(q.id)
                if v is None:
                    continue
                r.answered += 1
                if q.kind == SINGLE:
                    r.counts[v] = r.counts.get(v, 0) + 1
                elif q.kind == MULTIPLE:
                    for o in v:
                        r.counts[o] = r.counts.get(o, 0) + 1
                else:
                    r.texts.append(v)
            out.append(r)
        return Results(survey, int(responded), out)
