"""Build (incrementally) and load everything retrieval needs: index and calibration."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import yaml

from assistant.errors import ModelError
from assistant.knowledge.calibrate import calibrate
from assistant.knowledge.embedding import Embedder, OnnxEmbedder, SentenceTransformerEmbedder
from assistant.knowledge.index import build as build_index
from assistant.knowledge.kb import load as load_kb
from assistant.knowledge.rerank import DEFAULT_PATH, AnswerModel
from assistant.knowledge.retrieval import Calibration, Retriever
from assistant.knowledge.shared import PASSAGES_FILE, SharedEmbedder
from assistant.settings import Settings

log = logging.getLogger(__name__)


NEGATIVES_FILE = "out_of_scope.txt"     # in the knowledge folder: questions admins marked out of scope


def out_of_scope_examples(root: Path, knowledge_dir: Path | None = None) -> list[str]:
    """Negatives for calibration: the ``out_of_scope`` examples of the Rasa NLU data, and the
    questions the admins marked out of scope in the review queue (``knowledge/out_of_scope.txt``)."""
    learned: list[str] = []
    marked = (knowledge_dir or root / "knowledge") / NEGATIVES_FILE
    if marked.is_file():
        learned = [ln.strip() for ln in marked.read_text(encoding="utf-8").splitlines() if ln.strip()]
    return _nlu_out_of_scope(root) + learned


def _nlu_out_of_scope(root: Path) -> list[str]:
    path = root / "nlu_data" / "nlu.yml"
    if not path.exists():
        return []
    data = yaml.safe_load(path.read_text(encoding="utf-8-sig")) or {}
    for block in data.get("nlu", []):
        if block.get("intent") == "out_of_scope":
            return [ln.strip()[2:].strip() for ln in block.get("examples", "").splitlines()
                    if ln.strip().startswith("- ")]
    return []


def _fingerprint(retriever_docs: list[list[str]], model: str, negatives: list[str]) -> str:
    blob = json.dumps([retriever_docs, model, negatives], ensure_ascii=False)
    return hashlib.sha1(blob.encode("utf-8")).hexdigest()


def make_embedder(settings: Settings) -> SharedEmbedder:
    """The default e5 through its ONNX export when setup has made it (no torch in the process);
    sentence-transformers for a configured model or before the export exists. Either loads on first
    use, behind a ``SharedEmbedder``: the vectors Rasa sent for a turn's text, and passage vectors
    kept at setup, before it."""
    query, passage = settings.query_prefix or "", settings.passage_prefix or ""
    onnx = settings.models_dir / "e5-onnx"
    inner: Embedder | None = None
    if not settings.embed_model and (onnx / "meta.json").is_file():
        try:
            inner = OnnxEmbedder(onnx, settings.model_path, query_prefix=query, passage_prefix=passage)
        except ModelError as exc:
            log.warning("e5 ONNX export unusable (%s); using sentence-transformers", exc)
    if inner is None:
        inner = SentenceTransformerEmbedder(settings.model_path, query_prefix=query, passage_prefix=passage)
    return SharedEmbedder(inner, getattr(inner, "vector_id", None), settings.index_dir / PASSAGES_FILE)


def load_retriever(settings: Settings, *, progress: bool = False, recalibrate: bool = False) -> Retriever:
    """Load the knowledge base, update the index for changed entries, calibrate when stale."""
    kb = load_kb(settings.knowledge_dir)
    # the settings validator fills both prefixes in; `or ""` only tells the type checker
    embedder = make_embedder(settings)
    index, encoded = build_index(kb, embedder, settings.index_dir, progress=progress)
    if encoded:
        log.info("index: encoded %d new or changed texts", encoded)
    negatives = out_of_scope_examples(settings.root, settings.knowledge_dir)
    fp = _fingerprint([[d.entry_id, d.kind, d.text] for d in index.docs], embedder.name, negatives)
    cal_path = settings.index_dir / "calibration.json"
    stamp = settings.index_dir / "calibration.fingerprint"
    calibration = None
    if not recalibrate and stamp.exists() and stamp.read_text().strip() == fp:
        calibration = Calibration.load(cal_path)
    if calibration is None:
        calibration = calibrate(kb, index, embedder, negatives)
        settings.index_dir.mkdir(parents=True, exist_ok=True)
        calibration.save(cal_path)
        stamp.write_text(fp)
        log.info("calibration refitted: %s", calibration.report)
    return Retriever(kb, index, embedder, calibration=calibration, answer_model=AnswerModel.load(DEFAULT_PATH))
