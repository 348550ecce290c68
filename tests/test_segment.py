"""A segmenter made ``like`` another starts from its dictionary: same cuts, its own added words."""

from __future__ import annotations

from assistant.text.segment import Segmenter

TEXTS = ["锦山壹号地库B区的充电桩怎么收费", "楼上天天装修吵死了", "旧床垫和榴莲壳分别扔哪里", "物业电话多少"]


def test_a_segmenter_like_another_cuts_and_tags_the_same_and_keeps_its_words_to_itself() -> None:
    base, fresh = Segmenter(), Segmenter()
    copy = Segmenter(like=base)
    for text in TEXTS:
        assert copy.cut(text) == fresh.cut(text) and copy.tagged(text) == fresh.tagged(text)
    copy.add_words(["蓝莓酱瓶盖"], tag="n")
    assert "蓝莓酱瓶盖" in copy.cut("蓝莓酱瓶盖扔哪") and "蓝莓酱瓶盖" not in base.cut("蓝莓酱瓶盖扔哪")
    assert ("蓝莓酱瓶盖", "n") in copy.tagged("蓝莓酱瓶盖扔哪")


def test_the_shared_tag_table_tags_as_jiebas_own() -> None:
    import jieba
    import jieba.posseg

    from assistant.text.segment import userdict_path

    tk = jieba.Tokenizer()
    tk.initialize()
    tk.load_userdict(str(userdict_path()))
    own = jieba.posseg.POSTokenizer(tk)
    seg = Segmenter()
    for text in TEXTS + ["沙发太旧了扔哪", "昨天买的蓝牙耳机坏了"]:
        assert seg.tagged(text) == [(p.word, p.flag) for p in own.lcut(text) if p.word.strip()]
