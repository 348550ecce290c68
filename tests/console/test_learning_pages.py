"""The console's learning pages (TestClient): a question the bot missed is in the review queue, the
admin writes a new entry in the form, the hit test then answers the question from it (no restart)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from assistant.console import create_app
from assistant.desk.desk import Desk
from assistant.dialogue.engine import Engine, State
from assistant.dialogue.router import NLU, RouterModel
from assistant.knowledge.index import build
from assistant.knowledge.kb import load
from assistant.knowledge.retrieval import Calibration, Retriever
from assistant.learning.kbedit import KnowledgeFiles
from assistant.learning.observer import Observer
from assistant.learning.service import Learning
from assistant.learning.store import LearningStore

from ..conftest import HashEmbedder, write_kb
from .conftest import CSRF_RE, TOKENS, login


def test_review_new_entry_then_hit_test_answers(tmp_path: Path, desk: Desk) -> None:
    folder = write_kb(tmp_path / "knowledge")
    store = LearningStore(f"sqlite:///{tmp_path}/learn.db")
    emb = HashEmbedder()

    def engine() -> Engine:
        kb = load(folder)
        index, _ = build(kb, emb, tmp_path / "index")
        return Engine(kb, Retriever(kb, index, emb, calibration=Calibration(answer_at=0.3, clarify_at=0.99)),
                      router=RouterModel.default())

    live = engine()
    live.learning = Observer(store)
    turn = live.respond("小区游泳池几点开门", NLU.of("out_of_scope", 0.9), State(), "wx-9")
    live.observe("小区游泳池几点开门", "wx-9", turn)
    assert turn.route == "fallback"
    learning = Learning(store, KnowledgeFiles(folder), emb, tmp_path / "index", engine, None)
    client = TestClient(create_app(desk, TOKENS, learning=learning))
    login(client)
    page = client.get("/review")
    assert page.status_code == 200 and "小区游泳池几点开门" in page.text
    ids = page.text.split('data-ids="', 1)[1].split('"', 1)[0]
    csrf = CSRF_RE.search(page.text).group(1)  # type: ignore[union-attr]
    bad = client.post("/review/decide", data={"csrf": csrf, "ids": ids, "decision": "new", "topic": "community",
                                              "title": "游泳池", "questions": "游泳池\n泳池",
                                              "answer": "电话 {{nobody}}"})
    assert bad.status_code == 400 and "nobody" in bad.text        # the checker's reason, nothing written
    done = client.post("/review/decide", data={"csrf": csrf, "ids": ids, "decision": "new", "topic": "community",
                                               "title": "游泳池开放时间", "questions": "游泳池几点开门\n游泳池开放时间",
                                               "answer": "游泳池夏季每天 9:00-21:00 开放。"})
    assert done.status_code == 200 and "已新建条目" in done.text
    assert "小区游泳池几点开门" not in client.get("/review").text
    hit = client.get("/hittest", params={"q": "小区游泳池几点开门"})
    assert '<span id="answered">community-' in hit.text and "9:00-21:00" in hit.text
    stats = client.get("/entries")
    assert stats.status_code == 200 and "游泳池开放时间" in stats.text and "从未命中" in stats.text
    audit = store.audits()
    assert audit[0].actor == "admin:wang" and audit[0].action == "new_entry"


def test_hit_test_upload_csv_and_xlsx_same_reading_as_the_cli(tmp_path: Path, desk: Desk) -> None:
    import io

    from openpyxl import Workbook

    from assistant.learning.hittest import read_questions

    folder = write_kb(tmp_path / "knowledge")
    emb = HashEmbedder()

    def engine() -> Engine:
        kb = load(folder)
        index, _ = build(kb, emb, tmp_path / "index")
        return Engine(kb, Retriever(kb, index, emb, calibration=Calibration(answer_at=0.3, clarify_at=0.99)),
                      router=RouterModel.default())

    learning = Learning(LearningStore(f"sqlite:///{tmp_path}/learn.db"), KnowledgeFiles(folder), emb,
                        tmp_path / "index", engine, None)
    client = TestClient(create_app(desk, TOKENS, learning=learning))
    csrf = login(client)
    questions = ["车位怎么租", "有害垃圾扔哪", "今天股票涨不涨"]
    sheet = tmp_path / "q.csv"
    sheet.write_text("编号,问题\n" + "".join(f"{i},{q}\n" for i, q in enumerate(questions)), encoding="utf-8-sig")
    wb = Workbook()
    wb.active.append(["问题"])
    for q in questions:
        wb.active.append([q])
    xlsx = io.BytesIO()
    wb.save(xlsx)
    (tmp_path / "q.xlsx").write_bytes(xlsx.getvalue())
    assert read_questions(sheet) == read_questions(tmp_path / "q.xlsx") == questions   # the CLI's reading

    expected = {q: learning.hit(q) for q in questions}
    for name, body in (("q.csv", sheet.read_bytes()), ("q.xlsx", xlsx.getvalue())):
        page = client.post("/hittest/file", data={"csrf": csrf}, files={"file": (name, body)})
        assert page.status_code == 200, page.text
        rows = page.text.split('id="hits"', 1)[1].split("</tbody>", 1)[0].split("<tr>")[2:]
        assert len(rows) == len(questions)
        for q, row in zip(questions, rows, strict=True):
            hit = expected[q]
            assert f"<td>{q}</td><td>{hit.route}</td>" in row
            assert f'<td class="id">{hit.answered_by or "无"}</td>' in row
        assert "parking-rent" in rows[0] and "garbage-hazardous" in rows[1]

    bad = client.post("/hittest/file", data={"csrf": csrf}, files={"file": ("broken.xlsx", b"not a zip")})
    assert bad.status_code == 400 and "broken.xlsx" in bad.text and "xlsx" in bad.text
    gbk = client.post("/hittest/file", data={"csrf": csrf}, files={"file": ("gbk.csv", "问题\n车位".encode("gbk"))})
    assert gbk.status_code == 400 and "UTF-8" in gbk.text
    forged = client.post("/hittest/file", data={"csrf": "x"}, files={"file": ("q.csv", sheet.read_bytes())})
    assert forged.status_code in (400, 403) and 'id="hits"' not in forged.text
