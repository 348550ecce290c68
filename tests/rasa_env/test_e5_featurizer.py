"""Runs in the Rasa environment (Python 3.10): the e5 ONNX featurizer gives DIET the retriever's sentence vectors.

Needs the export made by setup (models/e5-onnx); the cosine check also runs sentence-transformers in the app
environment. Both are skipped, saying why, when missing."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from assistant.errors import ModelError
from assistant.rasa_server.e5_featurizer import E5Featurizer

ROOT = Path(__file__).resolve().parents[2]
ONNX = ROOT / "models" / "e5-onnx"
APP_PYTHON = ROOT / ".venv" / "app" / "bin" / "python"
TEXTS = ["车位怎么租", "楼上邻居半夜一直在剁东西，吵得孩子睡不着", "where do I put recycling", "你好"]
needs_model = pytest.mark.skipif(not (ONNX / "model.onnx").is_file(), reason=f"{ONNX} not exported (run setup)")


def featurizer(tmp_path: Path, **cfg: object) -> E5Featurizer:
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    own = next(c for c in config["pipeline"] if c["name"].endswith("E5Featurizer"))
    merged = {**E5Featurizer.get_default_config(), **{k: v for k, v in own.items() if k != "name"}, **cfg}
    if not Path(str(merged["model_path"])).is_absolute():
        merged["model_path"] = str(ROOT / str(merged["model_path"]))
    return E5Featurizer.create(merged, LocalModelStorage(tmp_path), Resource("e5"),
                               ExecutionContext(graph_schema=None, node_name="e5"))  # type: ignore[arg-type]


def sentence_vectors(messages: list[Message]) -> np.ndarray:
    rows = []
    for m in messages:
        seq, sent = m.get_dense_features(TEXT, ["e5"])
        assert seq is None, "only sentence features: e5 sub-words do not line up with jieba tokens"
        assert sent is not None
        rows.append(sent.features)
    return np.vstack(rows)


@needs_model
def test_sentence_features_shape_norm_and_batching(tmp_path: Path) -> None:
    f = featurizer(tmp_path, alias="e5", batch_size=3)
    data = TrainingData([Message(data={TEXT: t, "intent": "x"}) for t in TEXTS] + [Message(data={"intent": "y"})])
    f.process_training_data(data)
    vecs = sentence_vectors(data.training_examples[:4])
    assert vecs.shape == (4, 384)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)
    assert not data.training_examples[4].features, "a message without text gets no features"
    # batched training features equal the one-by-one features used at parse time
    single = [Message(data={TEXT: t}) for t in TEXTS]
    for m in single:
        f.process([m])
    assert np.allclose(sentence_vectors(single), vecs, atol=1e-4)
    # similar meanings are closer than unrelated ones
    a, b, c = featurizer(tmp_path).encoder.encode(["停车位怎么租", "想租个车位", "垃圾几点扔"])
    assert float(a @ b) > float(a @ c)


@needs_model
@pytest.mark.skipif(not APP_PYTHON.exists(), reason="the app environment (.venv/app) is missing")
def test_cosine_matches_the_app_embedding(tmp_path: Path) -> None:
    code = ("import json,sys; from assistant.knowledge.embedding import SentenceTransformerEmbedder as E;"
            "print(json.dumps(E(sys.argv[1]).encode_queries(json.loads(sys.argv[2])).tolist()))")
    out = subprocess.run([str(APP_PYTHON), "-c", code, str(ROOT / "models" / "e5-small"), json.dumps(TEXTS)],
                         cwd=ROOT, capture_output=True, text=True, check=True, timeout=300).stdout
    ref = np.array(json.loads(out.strip().splitlines()[-1]), dtype=np.float32)
    got = featurizer(tmp_path).encoder.encode(TEXTS)
    assert np.min(np.sum(ref * got, axis=1)) >= 0.999


def test_missing_model_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-e5"
    f = featurizer(tmp_path, model_path=str(missing))  # loads lazily: creating it does not fail
    with pytest.raises(ModelError, match="no-such-e5/model.onnx"):
        f.process([Message(data={TEXT: "车位怎么租"})])
    assert E5Featurizer.fingerprint_addon({"model_path": str(missing)}) is None


def test_bad_config_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="threads"):
        featurizer(tmp_path, threads=0)


@needs_model
def test_parse_output_carries_the_query_vectors_of_the_texts_retrieval_searches(tmp_path: Path) -> None:
    from assistant.knowledge.shared import KEY, model_id, searched_texts, unpack

    f = featurizer(tmp_path, alias="e5")
    model = model_id(str(f.encoder.meta["fingerprint"]), f.encoder.prefix)
    plain, emoji, two = (Message(data={TEXT: t}) for t in ("车位怎么租", "垃圾几点扔😀😀", "能按年交吗,有没有折扣"))
    for m in (plain, emoji, two):
        f.process([m])
    # a plain message: the DIET sentence feature itself, nothing encoded twice
    assert KEY in plain.as_dict(only_output_properties=True)
    got = unpack(plain.get(KEY), ["车位怎么租"], model, dim=384)
    assert set(got) == {"车位怎么租"} and np.allclose(got["车位怎么租"], sentence_vectors([plain])[0], atol=1e-4)
    # emoji: retrieval embeds the text without them, so that text's vector is sent, not DIET's
    assert searched_texts("垃圾几点扔😀😀") == ["垃圾几点扔"]
    assert unpack(emoji.get(KEY), ["垃圾几点扔😀😀"], model) == {}
    got = unpack(emoji.get(KEY), ["垃圾几点扔"], model, dim=384)
    assert np.allclose(got["垃圾几点扔"], f.encoder.encode(["垃圾几点扔"])[0], atol=1e-4)
    assert not np.allclose(got["垃圾几点扔"], sentence_vectors([emoji])[0], atol=1e-3)
    # a two-part question: each part's vector too
    texts = searched_texts("能按年交吗,有没有折扣")
    got = unpack(two.get(KEY), texts, model, dim=384)
    assert list(got) == texts == ["能按年交吗,有没有折扣", "能按年交吗", "有没有折扣"]
    for text in texts[1:]:
        assert np.allclose(got[text], f.encoder.encode([text])[0], atol=1e-4)
    # training examples carry no such field
    data = TrainingData([Message(data={TEXT: "车位怎么租", "intent": "x"})])
    f.process_training_data(data)
    assert data.training_examples[0].get(KEY) is None
