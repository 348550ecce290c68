"""Pinyin written for the estate's Chinese words is read as the words; English and other Latin text is left alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.text import pinyin
from assistant.text.normalize import prepare


@pytest.mark.parametrize(("text", "words"), [
    ("chewei zenme zu", ["车位", "怎么"]),            # all pinyin
    ("menjin丢了", ["门禁"]),                         # pinyin beside Chinese
    ("wuyefei zai nali jiao", ["物业费", "哪里"]),     # a compound and free syllables
])
def test_pinyin_becomes_the_words(text: str, words: list[str]) -> None:
    out = prepare(text)
    assert all(w in out for w in words), out


@pytest.mark.parametrize("text", ["where do I put recycling", "change my parking card", "long time no see",
                                  "APP上怎么交", "Wi-Fi密码多少", "SUV能进地库吗", "hello", "panda"])
def test_english_and_brand_names_stay(text: str) -> None:
    assert pinyin.restore(text) == text


def test_a_word_that_is_not_wholly_pinyin_stays() -> None:
    assert pinyin.restore("parking月卡怎么renew") == "parking月卡怎么renew"


def test_build_table_uses_the_estate_wording(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("pypinyin")
    out = pinyin.build_table(tmp_path / "terms.tsv")
    monkeypatch.setattr(pinyin, "table_path", lambda: out)
    pinyin._load.cache_clear()
    try:
        rows = dict(line.split("\t") for line in out.read_text(encoding="utf-8").splitlines()[1:])
        assert rows["wuye"] == "物业"  # the estate says 物业, not its homophone 呜咽
        assert pinyin.restore("tingche yueka") == "停车 月卡"
    finally:
        pinyin._load.cache_clear()
