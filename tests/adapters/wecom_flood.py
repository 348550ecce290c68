"""The WeCom flood: encrypted callbacks at the real adapter process, with duplicates, forged
signatures and a kill -9 of the adapter in the middle; then every distinct message must have
exactly one reply, none lost.

    make bench-wecom                                   # 500 callbacks, the Rasa servers started for it
    python -m tests.adapters.wecom_flood -n 500 [--dup 0.10] [--bad 0.05] [--kill-at 0.4] [--json]

Each valid callback announces one new resident message (pushed into the fake WeCom's 微信客服 log first);
a duplicate re-posts an earlier callback byte for byte (WeCom's retry); a forged one has a wrong
signature and must get 403. ``python -m assistant wecom`` runs as a child process against the fake
WeCom server and the real Rasa + action servers; at ``kill-at`` of the callbacks it is killed with
SIGKILL and started again while the callbacks keep coming (posted by ``workers`` threads, each retried
three times as WeCom does). Figures printed: statuses, replies per message, lost and doubled
messages, resends refused after the restart, callback latency, time to drain.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from assistant.channels.wecom.kf import reply_id

from .fake_wecom import AES_KEY, AGENT_ID, CORP_ID, DUPLICATE_MSGID, SECRET, TOKEN, CallbackSender, FakeWeCom

ROOT = Path(__file__).resolve().parents[2]
KF = "wkFloodTest01"
QUESTIONS = ["垃圾几点扔", "车位怎么租", "快递放在哪里", "电梯坏了找谁修", "访客车辆怎么登记", "物业电话多少",
             "电池是什么垃圾", "小区有健身房吗", "宠物可以进电梯吗", "家里漏水怎么报修"]
ROSTER = """\
admins:
  - id: wang
    name: 王管家
    contacts: {wecom: wang.wecom}
rotation:
  order: [wang]
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Adapter:
    """``python -m assistant wecom`` as a child process."""

    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.env, self.port, self.log = env, port, log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/wecom/callback"

    def start(self, wait: bool = True, timeout: float = 90) -> float:
        t0 = time.monotonic()
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "assistant", "-v", "wecom", "--port", str(self.port)],
                                         cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        if wait:
            self.wait_ready(timeout)
        return time.monotonic() - t0

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"the adapter exited with {self.proc.returncode}; see {self.log}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=1, trust_env=False).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the adapter did not come up within {timeout:.0f} s; see {self.log}")

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def child_env(rasa_port: int, action_port: int, desk_url: str, fake: FakeWeCom, port: int,
              scratch: Path) -> dict[str, str]:
    roster = scratch / "roster.yml"
    roster.write_text(ROSTER, encoding="utf-8")
    env = dict(os.environ)
    env.update({"ASSISTANT_HOME": str(ROOT), "PYTHONPATH": str(ROOT), "ASSISTANT_RASA_PORT": str(rasa_port),
                "ASSISTANT_ACTION_PORT": str(action_port), "ASSISTANT_TICKETS_URL": desk_url,
                "ASSISTANT_WECOM_CORP_ID": CORP_ID, "ASSISTANT_WECOM_AGENT_ID": str(AGENT_ID),
                "ASSISTANT_WECOM_SECRET": SECRET, "ASSISTANT_WECOM_TOKEN": TOKEN, "ASSISTANT_WECOM_AES_KEY": AES_KEY,
                "ASSISTANT_WECOM_OPEN_KFID": KF, "ASSISTANT_WECOM_BASE_URL": fake.base_url,
                "ASSISTANT_WECOM_PORT": str(port), "ASSISTANT_HANDOFF_ROSTER": str(roster)})
    for key in ("ASSISTANT_WECOM_ROBOT_KEY", "ASSISTANT_NOTIFY_WEBHOOK", "TELEGRAM_BOT_TOKEN"):
        env.pop(key, None)
    return env


def flood(rasa_port: int, action_port: int, desk_url: str, *, n: int = 500, dup: float = 0.10, bad: float = 0.05,
          kill_at: float | None = 0.4, workers: int = 8, seed: int = 7, drain_timeout: float = 300) -> dict[str, Any]:
    """Run the flood against servers already running on these ports; the figures."""
    rng = random.Random(seed)
    fake = FakeWeCom().start()
    fake.account(KF)
    scratch = Path(tempfile.mkdtemp(prefix="wecom-flood-"))
    port = _free_port()
    adapter = Adapter(child_env(rasa_port, action_port, desk_url, fake, port, scratch), port, scratch / "adapter.log")
    sender = CallbackSender()
    kinds = ["bad" if r < bad else "dup" if r < bad + dup else "new" for r in (rng.random() for _ in range(n))]
    kinds[0] = "new"
    kill_index = int(n * kill_at) if kill_at is not None else None
    statuses: Counter[str] = Counter()
    latencies: list[float] = []
    messages: list[str] = []
    valid: list[tuple[dict[str, str], bytes]] = []
    lock = threading.Lock()
    restart_s = 0.0
    try:
        first_start = adapter.start()
        t0 = time.monotonic()

        def post(kind: str, signed: tuple[dict[str, str], bytes]) -> None:
            started = time.monotonic()
            status = sender.post(adapter.url, signed, retries=3, retry_wait=2.0)
            with lock:
                statuses[f"{kind} {status or 'no answer'}"] += 1
                if status:
                    latencies.append(time.monotonic() - started)

        with ThreadPoolExecutor(max_workers=workers) as pool:
            for i, kind in enumerate(kinds):
                if i == kill_index:
                    time.sleep(0.5)
                    adapter.kill9()
                    t_restart = time.monotonic()
                    adapter.start(wait=False)              # the callbacks keep coming while it starts
                if kind == "new":
                    m = fake.push_text(KF, f"wm-flood-{i:04d}", rng.choice(QUESTIONS))
                    messages.append(m["msgid"])
                    signed = sender.sign(sender.kf_event(KF))
                    valid.append(signed)
                elif kind == "dup":
                    signed = rng.choice(valid)
                else:
                    signed = sender.sign(sender.kf_event(KF), bad=True)
                pool.submit(post, kind, signed)
                if kill_index is not None and i == kill_index:
                    adapter.wait_ready()
                    restart_s = time.monotonic() - t_restart
        posted_s = time.monotonic() - t0
        deadline = time.monotonic() + drain_timeout
        expected = {reply_id(m, 0) for m in messages}
        while time.monotonic() < deadline:
            with fake._lock:
                got = {b.get("msgid") for b in fake.kf_sent}
            if expected <= got:
                break
            time.sleep(0.2)
        drained_s = time.monotonic() - t0
    finally:
        adapter.stop()
        sender.close()
        fake.stop()
    with fake._lock:
        sent = [b.get("msgid") for b in fake.kf_sent]
        refused = Counter(code for api, code in fake.refused if api == "kf/send_msg")
    first = Counter(m for m in sent if m in expected)
    log_text = adapter.log.read_text(encoding="utf-8", errors="replace")
    texts_logged = sum(log_text.count(q) for q in QUESTIONS)
    lost = sorted(expected - set(first))
    doubled = [m for m, c in first.items() if c > 1]
    latencies.sort()

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 1) if latencies else 0.0

    return {"callbacks": n, "distinct_messages": len(messages), "duplicates_sent": kinds.count("dup"),
            "forged_sent": kinds.count("bad"), "statuses": dict(sorted(statuses.items())),
            "answered_exactly_once": len(first) - len(doubled), "lost": len(lost), "doubled": len(doubled),
            "replies_sent": len(sent), "resends_refused_after_restart": refused.get(DUPLICATE_MSGID, 0),
            "killed_at_callback": kill_index, "restart_s": round(restart_s, 2),
            "first_start_s": round(first_start, 2),
            "callback_p50_ms": pct(0.5), "callback_p95_ms": pct(0.95), "callback_max_ms": pct(1.0),
            "posting_s": round(posted_s, 1), "drained_s": round(drained_s, 1), "log_lines": log_text.count("\n"),
            "message_texts_in_log": texts_logged, "log": str(adapter.log)}


def format_figures(r: dict[str, Any]) -> str:
    lines = [f"WeCom flood: {r['callbacks']} callbacks ({r['distinct_messages']} distinct messages, "
             f"{r['duplicates_sent']} duplicates, {r['forged_sent']} forged), kill -9 at callback "
             f"{r['killed_at_callback']} (back in {r['restart_s']} s)"]
    lines += [f"  {k:<22} {v}" for k, v in r["statuses"].items()]
    lines.append(f"  answered exactly once  {r['answered_exactly_once']} / {r['distinct_messages']}   lost "
                 f"{r['lost']}   doubled {r['doubled']}   resends refused after restart "
                 f"{r['resends_refused_after_restart']}")
    lines.append(f"  callback latency p50 {r['callback_p50_ms']} ms, p95 {r['callback_p95_ms']} ms, max "
                 f"{r['callback_max_ms']} ms; posted in {r['posting_s']} s, all answered after {r['drained_s']} s")
    lines.append(f"  adapter log (-v): {r['log_lines']} lines, resident message texts in it: "
                 f"{r['message_texts_in_log']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.adapters.wecom_flood", description=__doc__.split("\n\n")[0])
    p.add_argument("-n", type=int, default=500)
    p.add_argument("--dup", type=float, default=0.10)
    p.add_argument("--bad", type=float, default=0.05)
    p.add_argument("--kill-at", type=float, default=0.4,
                   help="fraction of the callbacks after which kill -9 (-1: none)")
    p.add_argument("--workers", type=int, default=8)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    from assistant.runtime.app import scratch_settings
    from assistant.runtime.services import Services
    from assistant.settings import load_settings

    # servers of its own on free ports, with a scratch ticket database
    settings = scratch_settings(load_settings().with_ports(_free_port(), _free_port()), False)
    print("starting the Rasa and action servers (~30 s) …", file=sys.stderr, flush=True)
    with Services(settings):
        result = flood(settings.rasa_port, settings.action_port, settings.desk_url, n=args.n, dup=args.dup,
                       bad=args.bad, kill_at=None if args.kill_at < 0 else args.kill_at, workers=args.workers)
    print(json.dumps(result, ensure_ascii=False, indent=2) if args.json else format_figures(result))
    return 0 if result["lost"] == 0 and result["doubled"] == 0 and result["message_texts_in_log"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
