"""Baselines for ``bench baselines``, on the same knowledge base and the same NLU data as the assistant.

- ``bm25`` / ``dense``: nearest labelled text. The labelled texts are the knowledge base's titles and
  questions (route answer, the entry's topic; the dense one also has the answers, as the index does)
  and the examples of the project's non-FAQ intents in nlu_data/ (complain → ticket, …). Below a
  threshold the route is fallback. The threshold is fitted by leave-one-out on these texts themselves,
  never on the case file.
- ``rasa-faq``: Rasa's own FAQ recipe, a ResponseSelector over retrieval intents ``faq/<entry id>``
  beside DIET for the non-FAQ intents, trained in the Rasa environment in a temporary project and cached
  by fingerprint (``faq_project``, ``train_faq``; ``rasa_parse.py`` runs it).

Each baseline answers like the assistant: ``ask(text) -> Reply`` with a route and a topic.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import yaml

from assistant.channels.client import Reply
from assistant.knowledge.embedding import Embedder
from assistant.knowledge.index import DenseIndex
from assistant.knowledge.kb import KnowledgeBase
from assistant.settings import Settings
from assistant.text.normalize import prepare

log = logging.getLogger(__name__)

# The route each non-FAQ intent of nlu_data/ leads to (as the rules in nlu_data/rules.yml do).
INTENT_ROUTES = {"complain": "ticket", "request_human": "handoff", "greet": "chitchat", "goodbye": "chitchat",
                 "thank": "chitchat", "bot_challenge": "chitchat", "affirm": "chitchat", "deny": "chitchat",
                 "out_of_scope": "fallback", "inform": "fallback", "nlu_fallback": "fallback"}
PARSE_MARK = "@parse "                      # rasa_parse.py's result lines
TRAIN_LOCK = Path("/tmp/rasa-train.lock")   # one Rasa training at a time on the machine
_MARKUP = re.compile(r"\[([^\]]+)\]\((?:[^)]*)\)|\[([^\]]+)\]\{[^}]*\}")   # Rasa entity annotations


@dataclass(frozen=True)
class Label:
    route: str
    topic: str | None = None
    key: str = ""                 # entry id or intent

    def reply(self, confidence: float | None) -> Reply:
        return Reply(self.route, [], intent=self.key, confidence=confidence,
                     topic=self.topic if self.route == "answer" else None)


def kb_examples(kb: KnowledgeBase) -> list[tuple[str, Label]]:
    """Titles and question phrasings, labelled with their entry."""
    out = []
    for e in kb.entries:
        for text in dict.fromkeys((e.title, *e.questions)):
            out.append((text, Label("answer", e.topic, e.id)))
    return out


def nlu_examples(root: Path) -> list[tuple[str, Label]]:
    """Examples of the non-FAQ intents in nlu_data/ whose route is known (INTENT_ROUTES)."""
    out = []
    for path in sorted((root / "nlu_data").rglob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8-sig")) or {}
        for block in data.get("nlu", []) or []:
            intent = block.get("intent")
            if intent not in INTENT_ROUTES:
                continue
            for ln in str(block.get("examples", "")).splitlines():
                if ln.strip().startswith("- "):
                    text = _MARKUP.sub(lambda m: m.group(1) or m.group(2), ln.strip()[2:].strip())
                    if text:
                        out.append((text, Label(INTENT_ROUTES[intent], None, intent)))
    return out


# -- nearest labelled text ------------------------------------------------------------------------

class Scorer(Protocol):
    def scores(self, queries: Sequence[str]) -> np.ndarray:
        """(len(queries), documents) similarity matrix."""
        ...


class BM25Scorer:
    """bm25s over the estate's jieba terms, one document per labelled text."""

    def __init__(self, docs: Sequence[str]) -> None:
        import bm25s

        from assistant.text.segment import default_segmenter

        logging.getLogger("bm25s").setLevel(logging.WARNING)
        self.seg = default_segmenter()
        self.bm25 = bm25s.BM25()
        self.bm25.index([self.seg.terms(d) or ["\x00"] for d in docs], show_progress=False)
        self.n = len(docs)

    def scores(self, queries: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(queries), self.n), dtype=np.float32)
        for i, q in enumerate(queries):
            terms = self.seg.terms(q)
            if terms:
                out[i] = self.bm25.get_scores(terms)
        return out


class DenseScorer:
    """Cosine against precomputed document vectors (normalised)."""

    def __init__(self, vectors: np.ndarray, encode: Callable[[list[str]], np.ndarray]) -> None:
        self.vectors, self.encode = vectors.astype(np.float32), encode

    def scores(self, queries: Sequence[str]) -> np.ndarray:
        if not queries:
            return np.zeros((0, len(self.vectors)), dtype=np.float32)
        return np.asarray(self.encode(list(queries)), dtype=np.float32) @ self.vectors.T


class NearestBaseline:
    """The label of the best-scoring document; fallback when that score is below ``threshold``."""

    def __init__(self, name: str, labels: Sequence[Label], scorer: Scorer, threshold: float = -np.inf, *,
                 cosine: bool = False) -> None:
        self.name, self.labels, self.scorer, self.threshold = name, list(labels), scorer, threshold
        self.cosine = cosine      # report the score as the reply's confidence (BM25 scores are unbounded)

    def decide(self, row: np.ndarray) -> Reply:
        top = int(np.argmax(row))
        score = float(row[top])
        conf = score if self.cosine else None
        if score < self.threshold:
            return Reply("fallback", [], intent="below_threshold", confidence=conf)
        return self.labels[top].reply(conf)

    def ask(self, text: str) -> Reply:
        start = time.perf_counter()
        reply = self.decide(self.scorer.scores([prepare(text)])[0])
        reply.latency_ms = (time.perf_counter() - start) * 1000
        return reply

    def fit_threshold(self, scores: np.ndarray, rows: Sequence[int]) -> dict[str, float]:
        """Leave-one-out on the labelled texts: ``scores[i]`` are the scores of the text of document
        ``rows[i]``, which is answered without its own document; the threshold that gets most routes
        and topics right is kept."""
        s = np.array(scores, dtype=np.float32)
        s[np.arange(len(rows)), np.asarray(rows)] = -np.inf
        tops = s.argmax(axis=1)
        best = s[np.arange(len(rows)), tops]
        gold = [self.labels[r] for r in rows]
        pred = [self.labels[t] for t in tops]
        # right if kept: the neighbour's route (and, for answers, topic) is the gold one
        kept_ok = np.array([p.route == g.route and (g.route != "answer" or p.topic == g.topic)
                            for p, g in zip(pred, gold, strict=True)])
        fallback_ok = np.array([g.route == "fallback" for g in gold])
        candidates = np.unique(np.quantile(best[np.isfinite(best)], np.linspace(0, 1, 201)))
        accs = [float(np.where(best >= c, kept_ok, fallback_ok).mean()) for c in candidates]
        i = int(np.argmax(accs))
        self.threshold = float(candidates[i])
        return {"threshold": round(self.threshold, 4), "loo_accuracy": round(accs[i], 4), "loo_texts": len(rows)}


def bm25_baseline(kb: KnowledgeBase, root: Path) -> tuple[NearestBaseline, dict[str, float]]:
    labelled = kb_examples(kb) + nlu_examples(root)
    texts = [prepare(t) for t, _ in labelled]
    scorer = BM25Scorer(texts)
    base = NearestBaseline("bm25", [lab for _, lab in labelled], scorer)
    return base, base.fit_threshold(scorer.scores(texts), range(len(texts)))


def dense_baseline(kb: KnowledgeBase, root: Path, index: DenseIndex, embedder: Embedder,
                   cache: Path | None = None) -> tuple[NearestBaseline, dict[str, float]]:
    """The assistant's embedder and its index vectors (titles, questions, answers), plus the non-FAQ
    intents' examples, encoded once (cached in ``cache``)."""
    extra = nlu_examples(root)
    extra_texts = [prepare(t) for t, _ in extra]
    key = hashlib.sha256(json.dumps([embedder.name, extra_texts], ensure_ascii=False).encode()).hexdigest()[:16]
    path = cache / f"dense-nlu-{key}.npy" if cache else None
    if path is not None and path.exists():
        extra_vecs = np.load(path)
    else:
        extra_vecs = embedder.encode_queries(extra_texts)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, extra_vecs)
    by_id = {e.id: e for e in kb.entries}
    labels = [Label("answer", by_id[d.entry_id].topic, d.entry_id) for d in index.docs] + [lab for _, lab in extra]
    vectors = np.concatenate([index.vectors, extra_vecs]) if len(extra) else index.vectors
    base = NearestBaseline("dense", labels, DenseScorer(vectors, embedder.encode_queries), cosine=True)
    rows = [i for i, d in enumerate(index.docs) if d.kind == "q"] + [len(index.docs) + i for i in range(len(extra))]
    # the questions' own vectors are query-encoded already: nothing to encode again
    return base, base.fit_threshold(vectors[rows] @ vectors.T, rows)


# -- Rasa's FAQ recipe --------------------------------------------------------------------------------

FAQ_CONFIG = """\
# Rasa's default pipeline with its FAQ recipe (ResponseSelector over retrieval intents), jieba for Chinese;
# 50 epochs instead of 100 (training accuracy is flat after ~15; the machine's cores are shared).
recipe: default.v1
language: zh
assistant_id: faq-baseline
pipeline:
  - name: JiebaTokenizer
    dictionary_path: {jieba}
  - name: LexicalSyntacticFeaturizer
  - name: CountVectorsFeaturizer
  - name: CountVectorsFeaturizer
    analyzer: char_wb
    min_ngram: 1
    max_ngram: 4
  - name: DIETClassifier
    epochs: 50
    constrain_similarities: true
    entity_recognition: false
    random_seed: 42
  - name: ResponseSelector
    retrieval_intent: faq
    epochs: 50
    constrain_similarities: true
    random_seed: 42
  - name: FallbackClassifier
    threshold: 0.3
    ambiguity_threshold: 0.1
policies: []
"""


def faq_project(settings: Settings, kb: KnowledgeBase, dest: Path) -> Path:
    """Write the baseline's Rasa project (config, domain, NLU data) into ``dest``; returns ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    jieba = settings.root / "assistant" / "resources" / "jieba"
    (dest / "config.yml").write_text(FAQ_CONFIG.format(jieba=jieba), encoding="utf-8")
    blocks: list[dict[str, Any]] = []
    seen: set[str] = set()
    for e in kb.entries:
        texts = [t for t in dict.fromkeys(" ".join(x.split()) for x in (e.title, *e.questions)) if t and t not in seen]
        seen.update(texts)
        if texts:
            blocks.append({"intent": f"faq/{e.id}", "examples": "".join(f"- {t}\n" for t in texts)})
    per_intent: dict[str, list[str]] = {}
    for text, lab in nlu_examples(settings.root):
        t = " ".join(text.split())
        if t not in seen and lab.key != "nlu_fallback":
            seen.add(t)
            per_intent.setdefault(lab.key, []).append(t)
    blocks += [{"intent": i, "examples": "".join(f"- {t}\n" for t in ts)} for i, ts in per_intent.items()]
    (dest / "nlu.yml").write_text(yaml.safe_dump({"version": "3.1", "nlu": blocks}, allow_unicode=True,
                                                 sort_keys=False, width=1000), encoding="utf-8")
    domain = {"version": "3.1", "intents": ["faq", *per_intent],
              "responses": {f"utter_faq/{e.id}": [{"text": e.title}] for e in kb.entries}}
    (dest / "domain.yml").write_text(yaml.safe_dump(domain, allow_unicode=True, sort_keys=False, width=1000),
                                     encoding="utf-8")
    return dest


def _fingerprint(project: Path, settings: Settings) -> str:
    h = hashlib.sha256()
    for name in ("config.yml", "domain.yml", "nlu.yml"):
        h.update((project / name).read_bytes())
    lock = settings.root / "requirements" / "rasa.lock"
    if lock.exists():
        h.update(lock.read_bytes())
    return h.hexdigest()[:16]


@contextlib.contextmanager
def train_lock(path: Path = TRAIN_LOCK) -> Iterator[None]:
    """The machine's Rasa training lock (the same file ``flock /tmp/rasa-train.lock`` takes)."""
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _runner_env() -> dict[str, str]:
    """The parse runner's environment: Rasa's quiet settings, nothing of ours."""
    from assistant.runtime.setup import RASA_ENV

    return {**RASA_ENV, "PATH": os.defpath, "PYTHONIOENCODING": "utf-8"}


def train_faq(settings: Settings, kb: KnowledgeBase, say: Callable[[str], None] = print) -> Path:
    """The trained FAQ-recipe model, from the cache (models/baselines/) when its inputs are unchanged."""
    cache = settings.models_dir / "baselines"
    with tempfile.TemporaryDirectory(prefix="faq-baseline-") as tmp:
        project = faq_project(settings, kb, Path(tmp))
        model = cache / f"rasa-faq-{_fingerprint(project, settings)}.tar.gz"
        if model.exists():
            return model
        cache.mkdir(parents=True, exist_ok=True)
        logfile = settings.run_dir / "baseline-train.log"
        logfile.parent.mkdir(parents=True, exist_ok=True)
        say(f"training Rasa's FAQ recipe (minutes; waits for {TRAIN_LOCK}; log {logfile}) …")
        start = time.perf_counter()
        from assistant.runtime.setup import _rasa as rasa_command  # Rasa in its environment, output to a log

        with train_lock():
            proc = rasa_command(settings, ["train", "nlu", "--nlu", str(project / "nlu.yml"), "--config",
                                           str(project / "config.yml"), "--domain", str(project / "domain.yml"),
                                           "--out", str(cache), "--fixed-model-name",
                                           model.name.removesuffix(".tar.gz")], logfile)
        if proc.returncode != 0 or not model.exists():
            from assistant.errors import ServiceError

            tail = logfile.read_text(errors="replace")[-2000:]
            raise ServiceError(f"training the FAQ baseline failed (exit {proc.returncode}); end of {logfile}:\n{tail}")
        say(f"FAQ recipe trained in {time.perf_counter() - start:.0f} s")
    return model


class RasaFaqBaseline:
    """The trained FAQ-recipe model, run by ``rasa_parse.py`` in the Rasa environment (one process)."""

    name = "rasa-faq"

    def __init__(self, settings: Settings, model: Path, kb: KnowledgeBase) -> None:
        self.topics = {e.id: e.topic for e in kb.entries}
        runner = Path(__file__).with_name("rasa_parse.py")
        self.proc = subprocess.Popen([str(settings.rasa_python), str(runner), str(model)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=_runner_env(), text=True,
                                     encoding="utf-8")
        self.parse("你好")       # the model loads on the first message: not counted as latency

    def parse(self, text: str) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")
        self.proc.stdin.flush()
        while True:
            line = self.proc.stdout.readline()
            if not line:
                from assistant.errors import ServiceError

                raise ServiceError(f"the FAQ baseline's Rasa process exited ({self.proc.poll()})")
            if line.startswith(PARSE_MARK):
                result: dict[str, Any] = json.loads(line[len(PARSE_MARK):])
                return result

    def ask(self, text: str) -> Reply:
        start = time.perf_counter()
        p = self.parse(prepare(text))
        intent, conf = p.get("intent") or "nlu_fallback", p.get("confidence")
        if intent == "faq":
            key = str(p.get("response_key") or "")
            entry = key.split("/", 1)[1] if "/" in key else ""
            reply = Reply("answer", [], intent=key, confidence=conf, topic=self.topics.get(entry))
        else:
            reply = Reply(INTENT_ROUTES.get(intent, "fallback"), [], intent=intent, confidence=conf)
        reply.latency_ms = (time.perf_counter() - start) * 1000
        return reply

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def moderated(ask: Callable[[str], Reply]) -> Callable[[str], Reply]:
    """The assistant's moderation in front of a baseline (as in ``Assistant.ask``): a message it stops is
    route moderation, so baselines and the assistant differ only in understanding."""
    import uuid

    from assistant.moderation import Message, Moderator
    from assistant.text.normalize import normalize

    moderator = Moderator()

    def answer(text: str) -> Reply:
        sender = f"bench-{uuid.uuid4().hex[:12]}"     # one message per sender: no flood or strike history
        if prepare(text):
            decision = moderator.check(Message(sender, sender, normalize(text)))
            if not decision.allowed:
                return Reply("moderation", [], intent=decision.rule_id)
        return ask(text)

    return answer
