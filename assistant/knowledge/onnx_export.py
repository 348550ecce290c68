"""Export the converted multilingual-e5-small to ONNX (app environment: torch), for the Rasa process.

The XLM-R encoder is wrapped to take only input_ids and attention_mask and return the token states
(pooling stays outside the graph, so a featurizer can use sentence and token features alike), exported
with dynamic batch and sequence axes, then checked: the ONNX sentence vectors must match
sentence-transformers' (cosine >= ``MIN_COSINE``) on a few Chinese sentences, else ModelError.
A fingerprint of the source model and this exporter makes a second run a no-op.

    python -m assistant.knowledge.onnx_export SRC_DIR OUT_DIR [--force]
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
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import ModelError
from assistant.knowledge.onnx_encoder import META_FILE, MODEL_FILE, TOKENIZER_FILE, OnnxE5

FORMAT_VERSION = 1  # bump when the exported graph or meta changes
OPSET = 17
MIN_COSINE = 0.999
CHECK_SENTENCES = ("车位怎么租？一个月多少钱", "楼上天天半夜装修吵得睡不着", "榴莲壳属于哪类垃圾",
                   "物业电话是多少", "有人冒充物业让我转账，怎么办", "tingche怎么收费",
                   "where do I put recycling", "你好",
                   "我家住五号楼一单元，最近楼上邻居每天晚上十一点以后还在拖椅子、跺脚，声音特别大，"
                   "孩子根本睡不着，跟他们说过两次也没用，想问问物业能不能出面协调一下，或者有没有别的办法")
_SOURCE_FILES = ("config.json", "model.safetensors", "tokenizer.json", "modules.json", "1_Pooling/config.json")


def source_fingerprint(src: Path, prefix: str) -> str:
    """sha256 over the source model's files, the prefix and this exporter's version."""
    h = hashlib.sha256(f"e5-onnx|{FORMAT_VERSION}|{OPSET}|{prefix}".encode())
    for rel in _SOURCE_FILES:
        path = src / rel
        if not path.is_file():
            raise ModelError(f"cannot export to ONNX: {path} is missing (run `python -m assistant setup`)")
        h.update(rel.encode())
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def is_current(out: Path, src: Path, prefix: str) -> bool:
    try:
        meta = json.loads((out / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (all((out / n).is_file() for n in (MODEL_FILE, TOKENIZER_FILE))
            and meta.get("fingerprint") == source_fingerprint(src, prefix))


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


def export(src: Path, out: Path, *, prefix: str = "query: ", force: bool = False) -> dict[str, Any]:
    """Write OUT (model.onnx, tokenizer.json, meta.json) from the SentenceTransformer folder SRC, atomically.

    Returns the meta; does nothing when OUT is current (same fingerprint) unless ``force``."""
    src, out = Path(src).resolve(), Path(out).resolve()
    if not force and is_current(out, src, prefix):
        return json.loads((out / META_FILE).read_text(encoding="utf-8"))
    fingerprint = source_fingerprint(src, prefix)
    pooling = _pooling(src)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".e5-onnx-", dir=out.parent))
    try:
        t0 = time.perf_counter()
        dim = _export_graph(src, tmp / MODEL_FILE)
        shutil.copyfile(src / "tokenizer.json", tmp / TOKENIZER_FILE)
        meta = {"fingerprint": fingerprint, "dim": dim, "pooling": pooling, "prefix": prefix, "normalize": True,
                "opset": OPSET, "format_version": FORMAT_VERSION, "source": str(src)}
        (tmp / META_FILE).write_text(json.dumps(meta, indent=1), encoding="utf-8")
        meta["min_cosine"] = round(check(tmp, src, prefix), 6)
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
    args = ap.parse_args(argv)
    try:
        meta = export(args.src, args.out, prefix=args.prefix, force=args.force)
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(meta, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
