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
                            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "SANIC_HOST": "127.0.0.1",
                                 "ASSISTANT_HOME": str(ROOT)},
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
