"""Runs in the Rasa environment (Python 3.10): the NLU tokenizer uses the estate dictionary."""

from __future__ import annotations

from pathlib import Path

import yaml
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer
from rasa.shared.nlu.training_data.message import Message

ROOT = Path(__file__).resolve().parents[2]


def tokenizer(tmp_path: Path) -> JiebaTokenizer:
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    jieba_cfg = next(c for c in config["pipeline"] if c["name"] == "JiebaTokenizer")
    cfg = {**JiebaTokenizer.get_default_config(), **jieba_cfg}
    cfg["dictionary_path"] = str(ROOT / jieba_cfg["dictionary_path"])
    return JiebaTokenizer.create(cfg, LocalModelStorage(tmp_path), Resource("jieba"),
                                 ExecutionContext(graph_schema=None, node_name="jieba"))  # type: ignore[arg-type]


def test_estate_terms_are_single_tokens(tmp_path: Path) -> None:
    tk = tokenizer(tmp_path)
    words = {t.text for t in tk.tokenize(Message(data={"text": "锦山壹号的月租车位和门禁卡怎么办理"}), "text")}
    assert {"锦山壹号", "月租车位", "门禁卡"} <= words, words
