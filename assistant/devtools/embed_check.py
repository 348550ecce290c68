"""Two e5 ONNX exports side by side on the eval texts: token ids, cosine and largest difference of the vectors.

    python -m assistant.devtools.embed_check REF_DIR NEW_DIR [YAML ...]

The texts are every ``text:`` of the YAML files (default: tests/heldout/*.yml and tests/data/*.yml), each
embedded with the query and the passage prefix. Prints figures; checks nothing and fits nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from assistant.knowledge.onnx_encoder import OnnxE5, load_tokens

ROOT = Path(__file__).resolve().parents[2]


def yaml_texts(paths: Iterable[Path]) -> list[str]:
    """Every string under a ``text`` key, in file order, without repeats."""
    out: dict[str, None] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    out[value] = None
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in paths:
        walk(yaml.safe_load(path.read_text(encoding="utf-8")))
    return list(out)


def default_files() -> list[Path]:
    return sorted((ROOT / "tests" / "heldout").glob("*.yml")) + sorted((ROOT / "tests" / "data").glob("*.yml"))


def compare(ref_dir: Path, new_dir: Path, texts: list[str]) -> dict[str, Any]:
    ref, new = OnnxE5(ref_dir, threads=2), OnnxE5(new_dir, threads=2)
    ref_tok, new_tok = load_tokens(ref_dir), load_tokens(new_dir)
    out: dict[str, Any] = {"texts": len(texts), "ref": type(ref_tok).__name__, "new": type(new_tok).__name__}
    for prefix in ("query: ", "passage: "):
        same = sum(np.array_equal(ref_tok.batch([prefix + t])[0], new_tok.batch([prefix + t])[0]) for t in texts)
        a, b = ref.encode(texts, prefix), new.encode(texts, prefix)
        cos = np.sum(a * b, axis=1)
        out[prefix.strip(": ")] = {"ids_equal": int(same), "min_cosine": round(float(cos.min()), 6),
                                   "mean_cosine": round(float(cos.mean()), 6),
                                   "max_abs_diff": float(np.abs(a - b).max())}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ref", type=Path)
    ap.add_argument("new", type=Path)
    ap.add_argument("files", type=Path, nargs="*")
    args = ap.parse_args(argv)
    print(json.dumps(compare(args.ref, args.new, yaml_texts(args.files or default_files())), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
