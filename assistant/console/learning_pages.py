"""The console's learning pages: the review queue (groups of unanswered questions, the four
decisions, the new-entry form), hit testing, and per-entry hits and feedback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, File, Form, Request, UploadFile
from fastapi.responses import Response

from assistant.errors import AssistantError, DataError
from assistant.knowledge.kb import TOPIC_NAMES, TOPICS
from assistant.learning.hittest import parse_questions
from assistant.learning.kbedit import EntryDraft
from assistant.learning.service import Learning
from assistant.learning.store import KIND_NAMES

MAX_UPLOAD = 2 * 1024 * 1024      # a question sheet for hit testing


def _ids(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip().isdigit()]


def add_learning_pages(app: FastAPI, learning: Learning, current: Callable[..., Any], acting: Callable[..., Any],
                       page: Callable[..., Response], redirect: Callable[[str], Response]) -> None:
    def review_page(request: Request, auth: Any, status: int = 200, flashes: list[tuple[str, str]] | None = None,
                    ) -> Response:
        groups = learning.review.groups()
        kb = learning.files.load()
        return page(request, "review.html", auth, status, groups=groups, KIND_NAMES=KIND_NAMES, topics=TOPICS,
                    TOPIC_NAMES=TOPIC_NAMES, entries=kb.entries, flashes=flashes or [])

    @app.get("/review")
    def review(request: Request, auth: Any = Depends(current)) -> Response:
        return review_page(request, auth)

    @app.post("/review/decide")
    def decide(request: Request, ids: str = Form(""), decision: str = Form(""), entry: str = Form(""),
               topic: str = Form(""), title: str = Form(""), answer: str = Form(""), questions: str = Form(""),
               tags: str = Form(""), auth: Any = Depends(acting)) -> Response:
        qids, who, r = _ids(ids), f"admin:{auth.admin}", learning.review
        try:
            if decision == "attach":
                done = f"已并入条目 {r.attach(qids, entry.strip(), who)}"
            elif decision == "new":
                draft = EntryDraft(topic=topic.strip(), title=title.strip(), answer=answer,
                                   questions=[q.strip() for q in questions.splitlines() if q.strip()],
                                   tags=[t.strip() for t in tags.replace("，", ",").split(",") if t.strip()])
                done = f"已新建条目 {r.write_entry(qids, draft, who)}，助手已生效"
            elif decision == "out_of_scope":
                r.out_of_scope(qids, who)
                done = "已标记为超出范围（作为校准的反例）"
            elif decision == "dismiss":
                done = f"已忽略 {r.dismiss(qids, who)} 个问题"
            else:
                return review_page(request, auth, 400, [("error", "未知的操作")])
        except AssistantError as exc:
            return review_page(request, auth, 400, [("error", f"未保存：{exc}")])
        auth.flash("ok", done)
        return redirect("/review")

    @app.get("/hittest")
    def hittest(request: Request, q: str = "", auth: Any = Depends(current)) -> Response:
        hit = learning.hit(q) if q.strip() else None
        return page(request, "hittest.html", auth, q=q, hit=hit)

    @app.post("/hittest/file")
    async def hittest_file(request: Request, file: Annotated[UploadFile, File()],
                          auth: Any = Depends(acting)) -> Response:
        """A .csv/.xlsx of questions, read as the CLI's ``hittest --file`` reads it; one row per question."""
        data = await file.read(MAX_UPLOAD + 1)
        name = file.filename or "upload"
        try:
            if len(data) > MAX_UPLOAD:
                raise DataError(f"larger than {MAX_UPLOAD // (1024 * 1024)} MiB", path=name)
            questions = parse_questions(data, name)
        except AssistantError as exc:
            return page(request, "hittest.html", auth, 400, q="", hit=None, flashes=[("error", f"无法读取：{exc}")])
        hits = [learning.hit(q) for q in questions]
        return page(request, "hittest.html", auth, q="", hit=None, hits=hits, filename=name)

    @app.get("/entries")
    def entries(request: Request, auth: Any = Depends(current)) -> Response:
        kb = learning.files.load()
        stats = learning.store.entry_stats()
        return page(request, "entries.html", auth, kb=kb, stats=stats, TOPIC_NAMES=TOPIC_NAMES)
