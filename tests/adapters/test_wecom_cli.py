"""``python -m assistant wecom`` checks every setting before it starts, naming the variable, and
never prints a secret."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from assistant.cli.wecom import check
from assistant.settings import Settings

from .fake_wecom import AES_KEY, CORP_ID, SECRET, TOKEN

ROOT = Path(__file__).resolve().parents[2]
GOOD = {"wecom_corp_id": CORP_ID, "wecom_agent_id": 1000002, "wecom_secret": SECRET, "wecom_token": TOKEN,
        "wecom_aes_key": AES_KEY, "wecom_open_kfid": "wkAJ2GCAAAZSfhHCt7IFSvLKtMPxyJTw"}


def test_good_settings_pass() -> None:
    assert check(Settings(**GOOD)) == []


def test_each_problem_names_its_variable() -> None:
    assert len(check(Settings())) == 5
    bad = check(Settings(**{**GOOD, "wecom_aes_key": "x" * 42, "wecom_token": "has space",
                            "wecom_open_kfid": "wk1,bad id!"}))
    text = "\n".join(bad)
    assert "ASSISTANT_WECOM_AES_KEY" in text and "ASSISTANT_WECOM_TOKEN" in text and "ASSISTANT_WECOM_OPEN_KFID" in text
    assert "x" * 42 not in text and "has space" not in text


def test_command_refuses_to_start_and_keeps_secrets_out() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_WECOM_")}
    env.update({"PYTHONPATH": str(ROOT), "ASSISTANT_WECOM_CORP_ID": CORP_ID, "ASSISTANT_WECOM_AGENT_ID": "1000002",
                "ASSISTANT_WECOM_SECRET": SECRET, "ASSISTANT_WECOM_TOKEN": TOKEN,
                "ASSISTANT_WECOM_AES_KEY": AES_KEY[:-3]})
    r = subprocess.run([sys.executable, "-m", "assistant", "wecom"], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2
    assert "ASSISTANT_WECOM_AES_KEY" in r.stderr and "README" in r.stderr
    for secret in (SECRET, TOKEN, AES_KEY[:-3]):
        assert secret not in r.stderr + r.stdout
    env["ASSISTANT_WECOM_AGENT_ID"] = "abc"
    r = subprocess.run([sys.executable, "-m", "assistant", "wecom"], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 1 and "ASSISTANT_WECOM_AGENT_ID='abc'" in r.stderr
