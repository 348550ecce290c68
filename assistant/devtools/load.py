"""``bench load``: Locust residents against the cluster (``cluster up``), step by step (8, 32, 64 concurrent
residents by default), with one Rasa instance and one action server killed in the middle of the last step.

Per step: turns, throughput, p50/p95/p99 (Locust's figures for the REST turn through haproxy), lost
turns. At the end: tickets the residents were given against the tickets in PostgreSQL (none missing,
none duplicated: each resident files exactly one complaint), the instances' memory, and a PNG plot of
latency against load.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from assistant.devtools.bench import _tree_rss_mb
from assistant.runtime import cluster
from assistant.settings import Settings

LOCUSTFILE = Path(__file__).with_name("locustfile.py")


def _step(settings: Settings, t: cluster.Topology, users: int, seconds: int, run_id: str, work: Path,
          kill: tuple[str, ...] = (), say: Any = print) -> dict[str, Any]:
    prefix, out = work / f"step{users}", work / f"step{users}.json"
    cmd = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "-u", str(users), "-r", str(users),
           "-t", f"{seconds}s", "--stop-timeout", "60", "--host", f"http://127.0.0.1:{t.front}", "--csv", str(prefix),
           "--only-summary", "--loglevel", "WARNING", "--out-json", str(out), "--run-id", f"{run_id}-{users}"]
    killer = None
    if kill:
        def _kill() -> None:
            for name in kill:
                cluster.kill(settings, name)
            say(f"  killed {', '.join(kill)} at {seconds // 2} s")
        killer = threading.Timer(seconds / 2, _kill)
        killer.start()
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=settings.root, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if killer:
        killer.join()
    if not out.exists():
        raise RuntimeError(f"locust failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    seen = json.loads(out.read_text(encoding="utf-8"))
    with open(f"{prefix}_stats.csv", encoding="utf-8") as f:
        row = next(r for r in csv.DictReader(f) if r["Name"] == "turn")
    return {"residents": users, "seconds": seconds, "wall_s": round(wall, 1), "turns": int(row["Request Count"]),
            "failures": int(row["Failure Count"]), "throughput_msg_s": round(float(row["Requests/s"]), 1),
            "p50_ms": float(row["50%"]), "p95_ms": float(row["95%"]), "p99_ms": float(row["99%"]),
            "lost": seen["lost"], "lost_reasons": seen["lost_reasons"], "conversations": seen["completed"],
            "tickets_seen": seen["tickets"], "killed": list(kill)}


def _db_tickets(t: cluster.Topology, run_id: str) -> dict[str, list[str]]:
    """Ticket ids per resident of this run, from the cluster's PostgreSQL."""
    from sqlalchemy import create_engine, text

    engine = create_engine(t.tickets_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("select reporter_id, id from tickets where reporter_id like :p"),
                                {"p": f"%{run_id}-%"}).all()
    finally:
        engine.dispose()
    out: dict[str, list[str]] = {}
    for reporter, tid in rows:
        out.setdefault(str(reporter).split(":")[-1], []).append(str(tid))
    return out


def run(settings: Settings, steps: tuple[int, ...] = (8, 32, 64), seconds: int = 30,
        kill: tuple[str, ...] = ("rasa1", "actions1"), plot: Path | None = None, say: Any = print) -> dict[str, Any]:
    """The load steps against the running cluster (``cluster up``); the kill in the last step."""
    t = cluster.load_state(settings)
    if t is None:
        raise RuntimeError("no cluster is up: run `python -m assistant cluster up` first (make bench-load does)")
    run_id = f"load{uuid.uuid4().hex[:6]}"
    work = Path(tempfile.mkdtemp(prefix="assistant-load-"))
    results = []
    for i, users in enumerate(steps):
        last = i == len(steps) - 1
        say(f"step: {users} concurrent residents for {seconds} s" + (f", killing {', '.join(kill)} midway"
                                                                       if last and kill else ""))
        results.append(_step(settings, t, users, seconds, run_id, work, kill if last else (), say))
        r = results[-1]
        say(f"  {r['throughput_msg_s']} msg/s, p50 {r['p50_ms']} p95 {r['p95_ms']} p99 {r['p99_ms']} ms, "
            f"lost {r['lost']}")
    seen: dict[str, list[str]] = {}
    for r in results:
        seen.update(r.pop("tickets_seen"))
    stored = _db_tickets(t, run_id)
    duplicated = {s: ids for s, ids in stored.items() if len(ids) > 1}
    missing = sorted({i for ids in seen.values() for i in ids} - {i for ids in stored.values() for i in ids})
    memory = {name: _tree_rss_mb(pgid) for name, pgid in t.pgids.items() if cluster.group_members(pgid)}
    report = {"steps": results, "tickets_seen": sum(len(v) for v in seen.values()),
              "tickets_stored": sum(len(v) for v in stored.values()), "residents_with_duplicates": len(duplicated),
              "tickets_missing": missing, "lost_turns": sum(r["lost"] for r in results), "memory_rss_mb": memory}
    if plot is not None:
        draw(results, plot)
        report["plot"] = str(plot)
    return report


def draw(results: list[dict[str, Any]], path: Path) -> None:
    """Latency (p50/p95/p99) and throughput against concurrent residents, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = [r["residents"] for r in results]
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    for key, style in (("p50_ms", "o-"), ("p95_ms", "s-"), ("p99_ms", "^-")):
        ax.plot(x, [r[key] for r in results], style, label=key.replace("_ms", ""))
    ax.set_xlabel("concurrent residents")
    ax.set_ylabel("turn latency (ms)")
    ax.set_xticks(x)
    ax.grid(alpha=0.3)
    ax2 = ax.twinx()
    ax2.plot(x, [r["throughput_msg_s"] for r in results], "k--", label="msg/s")
    ax2.set_ylabel("throughput (messages/s)")
    lines = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    labels = ax.get_legend_handles_labels()[1] + ax2.get_legend_handles_labels()[1]
    ax.legend(lines, labels, loc="upper left")
    killed = [r for r in results if r["killed"]]
    title = "REST turn through haproxy, 2 Rasa + 2 action servers"
    if killed:
        title += f"\n({', '.join(killed[0]['killed'])} killed midway at {killed[0]['residents']})"
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def format_report(r: dict[str, Any]) -> str:
    lines = [f"{'residents':>10}{'turns':>8}{'msg/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'lost':>6}  killed"]
    for s in r["steps"]:
        lines.append(f"{s['residents']:>10}{s['turns']:>8}{s['throughput_msg_s']:>8}{s['p50_ms']:>9.0f}"
                     f"{s['p95_ms']:>9.0f}{s['p99_ms']:>9.0f}{s['lost']:>6}  {', '.join(s['killed']) or '-'}")
    lines.append(f"lost turns {r['lost_turns']}; tickets given {r['tickets_seen']}, stored {r['tickets_stored']}, "
                 f"missing {len(r['tickets_missing'])}, residents with duplicated tickets "
                 f"{r['residents_with_duplicates']}")
    lines.append("memory (RSS MiB): " + ", ".join(f"{k} {v}" for k, v in r["memory_rss_mb"].items()))
    if r.get("plot"):
        lines.append(f"plot: {r['plot']}")
    return "\n".join(lines)
