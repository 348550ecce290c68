"""The learning seam with the hashing embedder: the engine's observer, the review queue's four
decisions written back to YAML (comments kept, checked, audited), the live reload, hit testing,
FAQ import (1,000 rows, 20 bad) and export round trip, metrics and the report's build."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pytest

from assistant.dialogue import replies
from assistant.dialogue.engine import Engine, State
from assistant.dialogue.router import NLU, RouterModel
from assistant.errors import KnowledgeError
from assistant.knowledge.build import out_of_scope_examples
from assistant.knowledge.index import build
from assistant.knowledge.kb import load
from assistant.knowledge.retrieval import Calibration, Retriever
from assistant.learning.faq_io import export_sheet, import_sheet, read_rows, write_sheet
from assistant.learning.hittest import hit_test
from assistant.learning.kbedit import EntryDraft, KnowledgeFiles
from assistant.learning.observer import Observer
from assistant.learning.reload import KnowledgeReloader
from assistant.learning.review import Review, group_questions
from assistant.learning.store import LearningStore

from ..conftest import HashEmbedder
from ..pg import sqlite_or_pg

ID_NUMBER = "11010519491231002X"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path):  # noqa: ANN201 - a SQLite file or a fresh PG schema
    yield from sqlite_or_pg(request, tmp_path, "learning_test")


@pytest.fixture
def store(db_url: str):  # noqa: ANN201
    s = LearningStore(db_url)
    yield s
    s.dispose()


def engine_for(folder: Path, store: LearningStore, answer_at: float = 0.0) -> Engine:
    kb = load(folder)
    emb = HashEmbedder()
    index, _ = build(kb, emb, folder.parent / "index")
    return Engine(kb, Retriever(kb, index, emb, calibration=Calibration(answer_at=answer_at, clarify_at=0.99)),
                  router=RouterModel.default(), learning=Observer(store))


def ask(engine: Engine, text: str, sender: str, state: State | None = None, intent: str | None = None):
    turn = engine.respond(text, NLU.of(intent, 0.9), state or State(), sender)
    engine.observe(text, sender, turn)
    return turn


def test_fallbacks_are_kept_redacted_and_feedback_counts(mini_kb_dir: Path, store: LearningStore) -> None:
    engine = engine_for(mini_kb_dir, store)
    miss = ask(engine, f"我身份证{ID_NUMBER}，小区游泳池几点开门", "wx-1", intent="out_of_scope")
    assert miss.route == "fallback"
    [q] = store.questions("open")
    assert ID_NUMBER not in q.text and "游泳池" in q.text and q.kind == "fallback"
    hit = ask(engine, "车位怎么租", "wx-2", intent="faq_parking")
    assert hit.route == "answer" and hit.sources[0]["id"] == "parking-rent"
    down = engine.respond("没用", NLU.of("deny", 0.9), hit.state, "wx-2")
    assert down.replies == [replies.FEEDBACK_SORRY] and down.state.last_entry == "parking-rent"
    up = engine.respond("👍", NLU(), hit.state, "wx-2")
    assert up.replies == [replies.FEEDBACK_THANKS]
    stats = store.entry_stats()["parking-rent"]
    assert (stats.hits, stats.helpful, stats.unhelpful) == (1, 1, 1) and stats.helpful_ratio == 0.5
    kinds = sorted(q.kind for q in store.questions("open"))
    assert kinds == ["fallback", "thumbs_down"]          # the answered question found useless goes to review


def test_clustering_groups_paraphrases_apart_from_other_topics() -> None:
    from assistant.learning.store import Question

    texts = ["小区游泳池几点开门", "游泳池几点开门啊", "小区的游泳池几点开", "快递柜满了怎么办", "快递柜满了咋办"]
    qs = [Question(i, dt.datetime(2026, 10, 1), t, "fallback", "fallback", None, None, [], "open")
          for i, t in enumerate(texts)]
    groups = group_questions(qs, HashEmbedder(), threshold=0.5)
    as_sets = sorted(sorted(q.text for q in g.questions) for g in groups)
    assert sorted(texts[:3]) in as_sets and sorted(texts[3:]) in as_sets


def test_review_writes_back_keeping_comments_and_the_engine_reloads(mini_kb_dir: Path, store: LearningStore) -> None:
    park = mini_kb_dir / "parking.yml"
    park.write_text("# 停车 · 管理员维护\n" + park.read_text(encoding="utf-8"), encoding="utf-8")
    engine = engine_for(mini_kb_dir, store)
    reloader = KnowledgeReloader(engine, mini_kb_dir, mini_kb_dir.parent / "index", every=0.0)
    ask(engine, "小区游泳池几点开门", "wx-1", intent="out_of_scope")
    ask(engine, "游泳池开放时间", "wx-2", intent="out_of_scope")
    ask(engine, "今天天气怎么样", "wx-3", intent="out_of_scope")
    ask(engine, "你们卖不卖保险", "wx-4", intent="out_of_scope")
    files = KnowledgeFiles(mini_kb_dir)
    review = Review(store, files, HashEmbedder(), mini_kb_dir / "out_of_scope.txt", reload=reloader.check)
    by_text = {q.text: q.id for q in store.questions("open")}
    eid = review.write_entry([by_text["小区游泳池几点开门"], by_text["游泳池开放时间"]],
                             EntryDraft(topic="community", title="游泳池开放时间", questions=[],
                                        answer="游泳池夏季每天 9:00-21:00 开放，电话 {{property_phone}}。"), "wang")
    kb = load(mini_kb_dir)
    assert kb.by_id[eid].questions == ("小区游泳池几点开门", "游泳池开放时间")
    assert engine.kb.by_id.get(eid) is not None           # swapped in without a restart
    turn = ask(engine, "小区游泳池几点开门", "wx-5")
    assert turn.route == "answer" and turn.sources[0]["id"] == eid
    review.attach([by_text["今天天气怎么样"]], "parking-visitor", "wang")
    assert "今天天气怎么样" in load(mini_kb_dir).by_id["parking-visitor"].questions
    assert park.read_text(encoding="utf-8").startswith("# 停车 · 管理员维护\n")    # comments kept
    review.out_of_scope([by_text["你们卖不卖保险"]], "li")
    assert "你们卖不卖保险" in out_of_scope_examples(mini_kb_dir.parent, mini_kb_dir)
    assert store.questions("open") == []
    actions = [(a.actor, a.action) for a in store.audits()]
    assert actions == [("li", "out_of_scope"), ("wang", "attached"), ("wang", "new_entry")]
    with pytest.raises(KnowledgeError, match="placeholder"):   # the checker refuses, nothing is written
        files.apply(drafts=[EntryDraft(topic="community", title="坏条目", questions=["a", "b"],
                                       answer="电话 {{nobody}}")])
    assert "坏条目" not in {e.title for e in load(mini_kb_dir).entries}


def test_a_lone_question_with_no_phrasings_given_takes_the_title_as_its_second(mini_kb_dir: Path,
                                                                             store: LearningStore) -> None:
    engine = engine_for(mini_kb_dir, store)
    ask(engine, "小区能放风筝吗", "wx-1", intent="out_of_scope")
    review = Review(store, KnowledgeFiles(mini_kb_dir), HashEmbedder(), mini_kb_dir / "out_of_scope.txt")
    [q] = store.questions("open")
    eid = review.write_entry([q.id], EntryDraft(topic="safety", title="小区内放风筝", questions=[],
                                                answer="请到中心广场放风筝，远离高压线。"), "wang")
    assert load(mini_kb_dir).by_id[eid].questions == ("小区能放风筝吗", "小区内放风筝")


def test_hit_test_is_the_engine_route_and_records_nothing(mini_kb_dir: Path, store: LearningStore) -> None:
    kb = load(mini_kb_dir)
    emb = HashEmbedder()
    index, _ = build(kb, emb)
    engine = Engine(kb, Retriever(kb, index, emb, calibration=Calibration(answer_at=0.0)), router=RouterModel.default())
    hit = hit_test(engine, "车位怎么租", lambda text: NLU.of("faq_parking", 0.95))
    assert hit.route == "answer" and hit.answered_by == "parking-rent" and hit.top[0]["id"] == "parking-rent"
    assert "物业服务中心" in hit.reply and hit.nlu
    assert store.questions(None) == []


def test_import_of_1000_rows_with_20_bad_rows(mini_kb_dir: Path, tmp_path: Path) -> None:
    rnd = random.Random(3)
    rows: list[list[str]] = [["id", "topic", "title", "questions", "answer", "tags", "updated"]]
    bad: dict[int, str] = {}
    for i in range(1000):
        row = ["", "community", f"测试条目{i}", f"问题{i}甲\n问题{i}乙", f"答案{i}", "标签", "2026-11-01"]
        if i % 50 == 7:
            kind = rnd.choice(("topic", "questions", "answer", "date", "placeholder", "dup"))
            if kind == "topic":
                row[1], reason = "weather", "unknown topic"
            elif kind == "questions":
                row[3], reason = "只有一个问法", "at least 2 questions"
            elif kind == "answer":
                row[4], reason = "", "missing answer"
            elif kind == "date":
                row[6], reason = "下周", "updated must be a date"
            elif kind == "placeholder":
                row[4], reason = "电话 {{nobody_phone}}", "placeholder"
            else:
                row[2], reason = "测试条目0", "also on row 2"
            bad[i + 2] = reason
        rows.append(row)
    sheet = tmp_path / "faq.xlsx"
    write_sheet(rows, sheet)
    report = import_sheet(sheet, KnowledgeFiles(mini_kb_dir))
    assert len(bad) == 20
    assert {e.row: e.reason for e in report.errors}.keys() == bad.keys()
    for e in report.errors:
        assert bad[e.row] in e.reason, (e.row, e.reason)
    kb = load(mini_kb_dir)
    assert len(report.written) == 980 and len(kb.entries) == 5 + 980
    out = tmp_path / "export.csv"
    export_sheet(kb, out)
    assert len(read_rows(out)) == len(kb.entries)
    before = {p.name: p.read_text(encoding="utf-8") for p in mini_kb_dir.glob("*.yml")}
    again = import_sheet(out, KnowledgeFiles(mini_kb_dir))           # round trip: nothing changes
    assert again.errors == [] and len(again.written) == len(kb.entries)
    assert {p.name: p.read_text(encoding="utf-8") for p in mini_kb_dir.glob("*.yml")} == before


def test_report_from_a_seeded_quarter_has_chinese_glyphs(tmp_path: Path, db_url: str) -> None:
    from assistant.desk.tickets.store import open_engine
    from assistant.learning.metrics import Period
    from assistant.learning.report import build as build_report
    from assistant.learning.report import cjk_font
    from assistant.learning.seed import seed_quarter

    url = db_url
    desk_engine = open_engine(url)
    store = LearningStore(url)
    period = Period.quarter("2026Q4")
    seed_quarter(store, desk_engine, period, messages=1500, tickets=120)
    seed_quarter(store, desk_engine, period.previous(), messages=1200, tickets=100, seed=8)
    try:
        html, pdf = build_report("2026Q4", store, desk_engine, None, None, HashEmbedder(), tmp_path / "out")
    finally:
        store.dispose()
        desk_engine.dispose()
    text = html.read_text(encoding="utf-8")
    assert "2026Q3" in text and "建议措施" in text and "1,500" in text
    assert pdf.read_bytes().startswith(b"%PDF")
    # the plots' font has the glyphs of the Chinese labels (no tofu boxes)
    from matplotlib.font_manager import FontProperties, findfont
    from matplotlib.ft2font import FT2Font

    font = FT2Font(findfont(FontProperties(family=cjk_font())))
    assert all(font.get_char_index(ord(c)) for c in "各主题回答率群活跃度工单类别")
    assert b"NotoSans" in pdf.read_bytes() or b"Noto" in pdf.read_bytes()   # the CJK font is embedded
