"""``ask --jsonl``'s line loop with a fake assistant: one output object per input line, whatever the line holds."""

from __future__ import annotations

import io
import json

import pytest

from assistant.channels.client import Reply
from assistant.cli.ask import MAX_DEPTH, MAX_LINE_BYTES, answer_lines


class FakeBot:
    def __init__(self, fail_on: str | None = None) -> None:
        self.asked: list[tuple[str, str | None]] = []
        self.fail_on = fail_on

    def ask(self, text: str, sender: str | None = None) -> Reply:
        self.asked.append((text, sender))
        if self.fail_on is not None and self.fail_on in text:
            raise RuntimeError("boom")
        return Reply("answer", [f"echo:{len(text)}"])


def run(data: bytes, bot: FakeBot | None = None) -> list[dict]:
    bot = bot or FakeBot()
    out = io.BytesIO()
    answer_lines(bot.ask, io.BytesIO(data), out)
    return [json.loads(line) for line in out.getvalue().decode("utf-8").splitlines()]


def line(obj: object) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


def test_one_object_per_line_in_order_whatever_the_line_holds() -> None:
    lines = [
        line({"text": "车位怎么租"}),
        b"",
        b"   \t",
        b'{"text": "\xff\xfe bad utf-8"}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"text": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        b"{not json",
        line({"sender": "x"}),
        line({"text": "ok", "sender": {"id": 1}}),
        b'{"text": "9' + b"9" * 10_000 + b'"}',
        b'{"text": 1' + b"1" * 10_000 + b"}",
        line({"text": "最后一行", "sender": "same"}),
    ]
    out = run(b"\n".join(lines) + b"\n")
    assert len(out) == len(lines)
    assert out[0]["route"] == "answer" and out[-1]["route"] == "answer" and out[9]["route"] == "answer"
    for i in (1, 2, 3, 4, 5, 6, 7, 8, 10):
        assert out[i]["line"] == i + 1 and out[i]["error"].startswith(f"line {i + 1}: "), out[i]
    assert out[1]["error"] == "line 2: empty line"
    assert "UTF-8" in out[3]["error"]
    assert f"deeper than {MAX_DEPTH}" in out[4]["error"] and f"deeper than {MAX_DEPTH}" in out[5]["error"]


def test_brackets_inside_strings_are_not_nesting() -> None:
    out = run(line({"text": "[{" * 1000 + '\\"'}) + b"\n")
    assert out[0]["route"] == "answer"


def test_surrogates_in_text_and_sender_get_an_answer() -> None:
    bot = FakeBot()
    out = run(b'{"text": "\\udc80\\ud800 \xe8\xbd\xa6\xe4\xbd\x8d", "sender": "u\\udc80"}\n', bot)
    assert out[0]["route"] == "answer"
    assert bot.asked == [("\udc80\ud800 车位", "u\udc80")]   # the Assistant scrubs both (test_client)


def test_a_failing_answer_is_an_error_for_that_line_only(caplog: pytest.LogCaptureFixture) -> None:
    bot = FakeBot(fail_on="boom")
    out = run(line({"text": "秘密 boom"}) + b"\n" + line({"text": "next"}), bot)
    assert out[0] == {"error": "line 1: could not be answered (RuntimeError)", "line": 1}
    assert out[1]["route"] == "answer"
    assert "秘密" not in caplog.text and "RuntimeError: boom" in caplog.text      # the traceback, not the text


def test_huge_lines() -> None:
    big_text = line({"text": "车" * 100_000})          # under MAX_LINE_BYTES: answered (the assistant clips it)
    too_big = b'{"text": "' + b"x" * (MAX_LINE_BYTES + 10) + b'"}'
    out = run(big_text + b"\n" + too_big + b"\n" + line({"text": "after"}))
    assert out[0]["route"] == "answer"
    assert out[1] == {"error": f"line 2: longer than {MAX_LINE_BYTES} bytes", "line": 2}
    assert out[2]["route"] == "answer"


def test_no_trailing_newline_and_crlf() -> None:
    out = run(line({"text": "a"}) + b"\r\n" + line({"text": "b"}))
    assert [o["route"] for o in out] == ["answer", "answer"]


SCRIPT = """
import contextlib, sys
import assistant.runtime.app as app
from assistant.channels.client import Reply

class Bot:
    def ask(self, text, sender=None):
        return Reply("answer", ["A:" + text])

app.open_assistant = lambda settings: contextlib.nullcontext(Bot())
from assistant.cli import ask
sys.exit(ask.run(ask.add_parser(__import__("argparse").ArgumentParser().add_subparsers()).parse_args(["--jsonl"]),
                 None))
"""


def test_the_command_reads_bytes_whatever_the_locale() -> None:
    import os
    import subprocess
    import sys

    from .conftest import ROOT

    env = {**os.environ, "LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": "ascii:strict",
           "PYTHONCOERCECLOCALE": "0"}
    data = b"\n".join([line({"text": "车位"}), b'{"text": "\xff"}', b"",
                       json.dumps({"text": "垃圾", "sender": "\udc80"}).encode()])
    proc = subprocess.run([sys.executable, "-c", SCRIPT], input=data + b"\n", capture_output=True, cwd=ROOT,
                          env=env, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")
    out = [json.loads(x) for x in proc.stdout.decode("utf-8").splitlines()]
    assert [o.get("route") or o["error"] for o in out] == ["answer", "line 2: not UTF-8 (byte 10)",
                                                             "line 3: empty line", "answer"]
    assert out[0]["replies"] == ["A:车位"]
