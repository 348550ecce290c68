"""Benchmarks that print figures: warm REST latency with server memory, and retrieval modes."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from assistant.devtools.evaluate import load_cases
from assistant.settings import Settings


def _tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MiB."""
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                ppid = int(Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, []))
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return round(total / 1024, 1)


def _listener_pid(port: int) -> int | None:
    """The pid listening on a loopback TCP port (for servers this run did not start)."""
    hexport = f"{port:04X}"
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            for line in Path(table).read_text().splitlines()[1:]:
                parts = line.split()
                if parts[1].endswith(":" + hexport) and parts[3] == "0A":
                    inodes.add(parts[9])
        except OSError:
            pass
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            for fd in os.listdir(f"/proc/{d}/fd"):
                target = os.readlink(f"/proc/{d}/fd/{fd}")
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    return int(d)
        except OSError:
            continue
    return None


def latency(settings: Settings, cases_path: Path, n: int = 300) -> dict[str, Any]:
    from assistant.channels.client import Assistant, RasaClient
    from assistant.moderation import Moderator
    from assistant.runtime.services import Services

    texts = [c.text for c in load_cases(cases_path)]
    with Services(settings) as svc:
        bot = Assistant(RasaClient(settings.rasa_url), Moderator())
        for t in texts[:20]:  # warm servers; every request below is a resident's first message
            bot.ask(t)
        times = []
        routes: dict[str, int] = {}
        start = time.perf_counter()
        for i in range(n):
            reply = bot.ask(texts[i % len(texts)])
            times.append(reply.latency_ms)
            routes[reply.route] = routes.get(reply.route, 0) + 1
        wall = time.perf_counter() - start
        pids = {name: p.pid for name, p in svc.started}
        pids.setdefault("rasa", _listener_pid(settings.rasa_port) or 0)
        pids.setdefault("actions", _listener_pid(settings.action_port) or 0)
        memory = {f"{k}_rss_mb": _tree_rss_mb(v) for k, v in pids.items() if v}
        bot.close()
    arr = np.array(times)
    return {"requests": n, "p50_ms": round(float(np.percentile(arr, 50)), 1),
            "p95_ms": round(float(np.percentile(arr, 95)), 1), "p99_ms": round(float(np.percentile(arr, 99)), 1),
            "mean_ms": round(float(arr.mean()), 1), "throughput_rps": round(n / wall, 1), "routes": routes,
            **memory}


def retrieval(settings: Settings, cases_path: Path) -> dict[str, Any]:
    """Topic accuracy of the top entry, per mode, on the cases whose expected route is answer.

    No NLU topic hint and no item table here: the modes are compared on retrieval alone.
    """
    from assistant.knowledge.build import load_retriever
    from assistant.knowledge.calibrate import held_out_retriever
    from assistant.text.normalize import prepare

    retriever = load_retriever(settings)
    cases = [c for c in load_cases(cases_path) if "answer" in c.routes and c.topics]
    out: dict[str, Any] = {"cases": len(cases), "fusion": vars(retriever.params)}
    raw = [retriever.raw_scores(prepare(c.text)) for c in cases]
    sub, asked = held_out_retriever(retriever.kb, retriever.index, retriever.embedder)
    sub.calibration = retriever.calibration
    loo_raw = [sub.raw_scores(q) for q, _, _ in asked]
    for mode in ("hybrid", "dense", "bm25"):
        tops = [retriever.rank(d, lex, None, k=1, mode=mode).top for d, lex in raw]
        out[mode] = _share(top is not None and top.entry.topic in c.topics for top, c in zip(tops, cases, strict=False))
        loo = [sub.rank(d, lex, None, k=1, mode=mode).top for d, lex in loo_raw]
        out[f"held_out_{mode}_topic"] = _share(t is not None and t.entry.topic == a[2]
                                               for t, a in zip(loo, asked, strict=False))
        out[f"held_out_{mode}_entry"] = _share(t is not None and t.entry.id == a[1]
                                               for t, a in zip(loo, asked, strict=False))
    out["held_out_questions"] = len(asked)
    return out


def _share(flags: Any) -> float:
    flags = list(flags)
    return round(sum(flags) / max(1, len(flags)), 4)


def format_retrieval(r: dict[str, Any]) -> str:
    lines = [f"top entry, no NLU topic hint, no item table; fusion {r['fusion']}",
             f"{'':46}{'hybrid':>8}{'dense':>8}{'BM25':>8}",
             f"{'topic accuracy, ' + str(r['cases']) + ' eval cases':46}"
             + "".join(f"{r[m]:>8.3f}" for m in ("hybrid", "dense", "bm25"))]
    for what in ("topic", "entry"):
        lines.append(f"{what + ' accuracy, ' + str(r['held_out_questions']) + ' held-out KB questions':46}"
                     + "".join(f"{r[f'held_out_{m}_{what}']:>8.3f}" for m in ("hybrid", "dense", "bm25")))
    return "\n".join(lines)
