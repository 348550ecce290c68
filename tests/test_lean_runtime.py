"""The action server runs without torch or sentence-transformers once the e5 ONNX export exists."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .conftest import ROOT

HEAVY = ("torch", "sentence_transformers", "transformers")


def _modules_after(code: str) -> dict[str, bool]:
    probe = code + f"\nimport json, sys\nprint(json.dumps({{m: m in sys.modules for m in {HEAVY!r}}}))\n"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         check=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"})
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_action_server_module_graph_imports_no_torch() -> None:
    """What rasa_sdk loads at start: its server and our actions package with the engine's modules."""
    loaded = _modules_after("import rasa_sdk.endpoint, actions.actions, assistant.runtime.app, "
                            "assistant.knowledge.build, assistant.dialogue.engine, assistant.desk.desk")
    assert loaded == dict.fromkeys(HEAVY, False)


@pytest.mark.model
def test_the_engine_answers_without_torch(tmp_path) -> None:  # noqa: ANN001
    """The real engine (ONNX e5, index, calibration, desk, the form's category guesser warmed) answers a
    question and reads a complaint, and torch was never imported."""
    if not (ROOT / "models" / "e5-onnx" / "meta.json").is_file():
        pytest.fail("no e5 ONNX export in models/: run `make setup`")
    loaded = _modules_after(
        "import os\n"
        f"os.environ['ASSISTANT_TICKETS_URL'] = 'sqlite:///{tmp_path}/t.db'\n"
        "import actions.actions as a\n"
        "from assistant.dialogue.engine import State\nfrom assistant.dialogue.router import NLU\n"
        "engine = a.get_engine()\n"
        "turn = engine.respond('车位怎么租', NLU.from_message({'intent': {'name': 'faq_parking', "
        "'confidence': 0.9}}), State(), 'lean-1')\n"
        "assert turn.replies, turn\n")
    assert loaded == dict.fromkeys(HEAVY, False)


def test_the_action_server_is_one_process_serving_the_actions() -> None:
    """``python -m assistant.runtime.action_server`` serves rasa_sdk's routes with our actions from a single
    process (rasa_sdk's own command adds a manager and a resource tracker, ~100 MiB)."""
    import socket
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "assistant.runtime.action_server", "-p", str(port)], cwd=ROOT,
                            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "ASSISTANT_HOME": str(ROOT)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline, names = time.monotonic() + 120, []
        while time.monotonic() < deadline and not names:
            try:
                names = [a["name"] for a in httpx.get(f"http://127.0.0.1:{port}/actions", timeout=2).json()]
            except httpx.HTTPError:
                assert proc.poll() is None, "the action server exited"
                time.sleep(0.3)
        assert {"action_answer", "validate_complaint_form"} <= set(names)
        with open(f"/proc/{proc.pid}/task/{proc.pid}/children") as f:
            assert f.read().split() == []
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.model
def test_the_e5_runtime_is_lean_and_gives_the_full_vocabulary_ids() -> None:
    """setup's export (models/e5-onnx): the pruned vocabulary and the 4-bit table. A fresh process that loads
    it and encodes 200 texts and 100 queries grows by less than 200 MB (onnxruntime and sentencepiece
    included: 280-350 MB before pruning, the 4-bit table and the heap trim; ~160 MB after), and the project's NLU examples get the source
    tokenizer's ids renumbered through the kept-id list (a dropped piece they need, or a wrong remap, fails)."""
    meta = json.loads((ROOT / "models" / "e5-onnx" / "meta.json").read_text(encoding="utf-8"))
    assert meta["embeddings"] == "int4-exact" and meta["vocab"]["rows"] < 125_000
    probe = (
        "import json, re, numpy\n"
        "from pathlib import Path\n"
        "def rss(): return int(re.search(r'VmRSS:\\s+(\\d+)', Path('/proc/self/status').read_text()).group(1)) / 1024\n"
        "base = rss()\n"
        "from assistant.knowledge.onnx_encoder import OnnxE5, JsonTokens, load_tokens\n"
        "from assistant.knowledge import onnx_export\n"
        "e5 = OnnxE5('models/e5-onnx')\n"
        "lines = Path('nlu_data/nlu.yml').read_text(encoding='utf-8').splitlines()\n"
        "texts = [s.strip()[2:] for s in lines if s.strip().startswith('- ') and ':' not in s.strip()[:10]]\n"
        "e5.encode(texts[:200])\n"
        "for _ in range(100): e5.encode(['垃圾几点扔'])\n"
        "grown = rss() - base\n"
        "spec = json.loads(Path('models/e5-small/tokenizer.json').read_text(encoding='utf-8'))\n"
        "keep = onnx_export.kept_ids(spec['model']['vocab'], [t['id'] for t in spec['added_tokens']] + [3])\n"
        "remap = onnx_export.remap_array(len(spec['model']['vocab']), keep, 3)\n"
        "full, tok = JsonTokens(Path('models/e5-small/tokenizer.json')), load_tokens(Path('models/e5-onnx'))\n"
        "bad = [t for t in texts if not numpy.array_equal(tok.batch([t])[0][0], remap[full.batch([t])[0][0]])]\n"
        "print(json.dumps({'grown_mb': grown, 'texts': len(texts), 'bad': bad[:5], 'spm': type(tok).__name__}))\n")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=600,
                         check=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["spm"] == "SpmTokens" and got["texts"] > 1000 and got["bad"] == []
    assert got["grown_mb"] < 200, got
