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


@pytest.mark.parametrize(("text", "words"), [
    ("bao xiu 怎么弄", ["报修"]),                        # a syllable at a time
    ("la ji ji dian shou", ["垃圾", "几点"]),
    ("kuaidi gui zai nali", ["快递柜", "哪里"]),          # a word and a syllable
    ("zhoumo ne", ["周末"]),                              # a particle is pinyin too
])
def test_pinyin_typed_in_pieces_becomes_the_words(text: str, words: list[str]) -> None:
    out = prepare(text)
    assert all(w in out for w in words), out


@pytest.mark.parametrize("text", ["can I see the man", "long time no see", "I am in 5-101 and my neighbour is noisy"])
def test_english_words_that_are_also_syllables_stay(text: str) -> None:
    assert pinyin.restore(text) == text


@pytest.mark.parametrize(("text", "fixed"), [
    ("我要头诉", "我要投诉"), ("怎么报休啊", "怎么报修啊"), ("拉圾怎么分", "垃圾怎么分"), ("物页费涨了", "物业费涨了"),
    ("电题坏了", "电梯坏了"),
    # real words, grammar and names stay
    ("购物也方便", "购物也方便"), ("充不上电是要找谁", "充不上电是要找谁"), ("那个姓李的", "那个姓李的"),
    ("楼下那家的狗", "楼下那家的狗"), ("让我加QQ", "让我加QQ")])
def test_homophone_typos_of_the_estates_words(text: str, fixed: str) -> None:
    assert pinyin.fix_typos(text) == fixed
    assert prepare(text) == fixed
