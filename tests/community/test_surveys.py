"""Surveys: the quarterly template, answering one question at a time, one answer per unit, anonymity,
100 units' results plotted with Chinese glyphs (not tofu), and bad templates and answers refused."""

from __future__ import annotations

import io
import random
import threading
import warnings
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image, ImageChops
from sqlalchemy import inspect, select

from assistant.community.errors import BadInput, Refused
from assistant.community.plot import cjk_font, plot_results, render_text
from assistant.community.service import Community
from assistant.community.surveys import MULTIPLE, SINGLE, Question, load_template, parse_answer
from assistant.community.tables import RespondentRow, ResponseRow
from assistant.errors import DataError


def _png(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("L")


def test_a_hundred_units_answer_and_the_results_are_counted_and_plotted(lite: Community) -> None:
    community = lite
    survey = community.surveys.from_template("quarterly_satisfaction")
    assert survey.anonymous and [q.kind for q in survey.questions][-2:] == [MULTIPLE, "text"]
    want: dict[str, Counter[str]] = {q.id: Counter() for q in survey.questions}
    texts: list[str] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def resident(i: int) -> None:          # one unit answering in its private chat, question by question
        rng = random.Random(i)
        unit = f"{i // 10 + 1}-{100 + i % 10 + 1}"
        key = f"terminal:{unit}-居民"
        step = community.surveys.start(key, survey.id, unit)
        for q in survey.questions:
            assert q.text in step.text
            if q.kind == SINGLE:
                n = rng.randint(1, len(q.options))
                chosen = [q.options[n - 1]]
                reply = str(n)
            elif q.kind == MULTIPLE:
                picks = sorted(rng.sample(range(1, len(q.options) + 1), rng.randint(1, 3)))
                chosen = [q.options[n - 1] for n in picks]
                reply = "，".join(map(str, picks))
            else:
                chosen = []
                reply = "跳过" if i % 2 else f"建议{i}：电话13812345678"
                if not i % 2:
                    with lock:
                        texts.append(f"建议{i}:电话[手机号已隐藏]")   # NFKC: the full-width colon
            with lock:
                want[q.id].update(chosen)
            step = community.surveys.reply(key, reply)
        assert step.done

    def worker(ids: range) -> None:
        try:
            for i in ids:
                resident(i)
        except BaseException as exc:      # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(range(k, 100, 10),)) for k in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    res = community.surveys.results(survey.id)
    assert res.responses == 100
    for r in res.questions:
        if r.question.options:
            assert Counter({k: v for k, v in r.counts.items() if v}) == want[r.question.id]
        else:
            assert sorted(r.texts) == sorted(texts) and r.answered == 50
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # matplotlib warns "Glyph … missing from font(s)" for tofu
        png = plot_results(res)
    img = Image.open(io.BytesIO(png))
    assert img.format == "PNG" and img.size[0] >= 800 and img.size[1] >= 600
    # anonymous: the answers carry no unit; who answered is kept apart
    with community.tables.read() as s:
        assert all(u is None for u in s.scalars(select(ResponseRow.unit)))
        assert len(s.scalars(select(RespondentRow.unit)).all()) == 100
    cols = {c["name"] for c in inspect(community.engine).get_columns("community_survey_responses")}
    assert cols == {"id", "survey_id", "unit", "answers"}            # no time to pair them by


def test_one_answer_per_unit_when_ten_arrive_at_once(community: Community) -> None:
    survey = community.surveys.from_template("quarterly_satisfaction")
    answers = {q.id: q.options[0] for q in survey.questions if q.kind == SINGLE} | {"priorities": ["停车管理"]}
    barrier = threading.Barrier(10)
    outcomes: list[str] = []

    def submit() -> None:
        barrier.wait()
        try:
            community.surveys.submit(survey.id, "5-101", answers)
            outcomes.append("stored")
        except Refused:
            outcomes.append("refused")

    threads = [threading.Thread(target=submit) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes) == ["refused"] * 9 + ["stored"]
    assert community.surveys.results(survey.id).responses == 1


def test_the_plot_font_draws_chinese_glyphs_not_tofu() -> None:
    from matplotlib import font_manager

    font = cjk_font()
    a, b = _png(render_text("满", font)), _png(render_text("意", font))
    assert ImageChops.difference(a, b).getbbox() is not None            # two different glyphs
    # the same check on a font without Chinese draws the same empty box twice: the check can fail
    latin = Path(font_manager.findfont("DejaVu Sans"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ta, tb = _png(render_text("满", latin)), _png(render_text("意", latin))
    assert ImageChops.difference(ta, tb).getbbox() is None
    assert ImageChops.difference(a, ta).getbbox() is not None


def test_one_answer_per_unit_and_bad_answers_keep_the_question(lite: Community) -> None:
    s = lite.surveys.from_template("quarterly_satisfaction")
    lite.surveys.start("k1", s.id, "5-101")
    with pytest.raises(BadInput, match="没有选项 7"):
        lite.surveys.reply("k1", "7")
    with pytest.raises(BadInput, match="没有“很好”这个选项"):
        lite.surveys.reply("k1", "很好")
    assert "第 2/7 题" in lite.surveys.reply("k1", "非常满意").text
    for answer in ("1", "2", "3", "4", "1 3"):
        lite.surveys.reply("k1", answer)
    assert lite.surveys.reply("k1", "跳过").done
    with pytest.raises(Refused, match="每户只填一次"):
        lite.surveys.start("k2", s.id, "5-101")
    with pytest.raises(Refused, match="每户只填一次"):
        lite.surveys.submit(s.id, "5-101", {"overall": "满意"})


@pytest.mark.parametrize("text, says", [
    ("0", "没有选项 0"), ("1 9", "没有选项 9"), ("", "回答是空的"), ("停车", "没有“停车”这个选项"),
])
def test_multiple_choice_answers_are_checked(text: str, says: str) -> None:
    q = Question("p", "改进哪些方面", MULTIPLE, ("停车管理", "电梯维护", "噪音管理"))
    with pytest.raises(BadInput, match=says):
        parse_answer(q, text)
    assert parse_answer(q, "3、1") == ["停车管理", "噪音管理"]
    assert parse_answer(q, "13") == ["停车管理", "噪音管理"]


def test_submitted_answers_must_be_the_survey_options(lite: Community) -> None:
    s = lite.surveys.from_template("quarterly_satisfaction")
    good = {q.id: q.options[0] for q in s.questions if q.kind == SINGLE} | {"priorities": ["停车管理"]}
    with pytest.raises(BadInput, match="没有“棒极了”这个选项"):
        lite.surveys.submit(s.id, "5-101", good | {"overall": "棒极了"})
    with pytest.raises(BadInput, match="选项不对"):
        lite.surveys.submit(s.id, "5-101", good | {"priorities": ["游泳池"]})
    with pytest.raises(BadInput, match="没有这些题"):
        lite.surveys.submit(s.id, "5-101", good | {"bogus": "x"})
    lite.surveys.submit(s.id, "5-101", good)
    assert lite.surveys.results(s.id).responses == 1


@pytest.mark.parametrize("body, line, field", [
    ("survey:\n  title: T\n  questions:\n    - text: 好吗\n      kind: rating\n      options: [a, b]\n", 4, "kind"),
    ("survey:\n  title: T\n  questions:\n    - text: 好吗\n      options: [a, a]\n", 4, "options"),
    ("survey:\n  title: T\n  questions:\n    - text: 好吗\n      options: [a]\n", 4, "options"),
    ("survey:\n  title: T\n  questions:\n    - text: 说说\n      kind: text\n      options: [a, b]\n", 4, "options"),
    ("survey:\n  title: T\n  questions: []\n", 2, "questions"),
    ("survey:\n  questions:\n    - text: 好吗\n", 2, "title"),
    ("survey:\n  title: T\n  anonymous: maybe\n  questions:\n    - text: x\n      options: [a, b]\n", 2,
     "anonymous"),
    ("survey:\n  title: T\n  questions:\n    - text: x\n      options: [a, b]\n      colour: red\n", 4, "colour"),
    ("survey: [\n", 2, None),
])
def test_bad_templates_name_file_line_and_field(tmp_path: Path, body: str, line: int, field: str | None) -> None:
    p = tmp_path / "s.yml"
    p.write_text(body, encoding="utf-8")
    with pytest.raises(DataError) as err:
        load_template(p)
    assert err.value.path == str(p) and err.value.line == line and err.value.field == field
