"""Benchmarks that print figures: warm REST latency beside Rasa's /model/parse with server memory,
retrieval modes, and the baselines beside the assistant."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from assistant.devtools.evaluate import Case, load_cases, load_eval_file
from assistant.errors import DataError
from assistant.settings import Settings


def _tree(pid: int) -> list[int]:
    """A process and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                ppid = int(Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def _tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MiB."""
    total = 0
    for p in _tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return round(total / 1024, 1)


def _tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process and its live descendants."""
    ticks = 0
    for p in _tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return ticks / os.sysconf("SC_CLK_TCK")


def _tree_maps(pid: int, name: str) -> bool:
    """Whether a process or a descendant has a file mapped whose path contains ``name`` (a loaded library)."""
    for p in _tree(pid):
        try:
            if name in Path(f"/proc/{p}/maps").read_text():
                return True
        except OSError:
            pass
    return False


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


def _pct(times: list[float]) -> dict[str, float]:
    arr = np.array(times or [0.0])
    return {"p50_ms": round(float(np.percentile(arr, 50)), 1), "p95_ms": round(float(np.percentile(arr, 95)), 1),
            "p99_ms": round(float(np.percentile(arr, 99)), 1), "mean_ms": round(float(arr.mean()), 1)}


def latency(settings: Settings, cases_path: Path, n: int = 300) -> dict[str, Any]:
    """Per message through the REST channel (``Assistant.ask``: moderation, Rasa, the action server),
    then Rasa's ``/model/parse`` (NLU only) on the same messages, in the same run."""
    import httpx

    from assistant.channels.client import Assistant, RasaClient
    from assistant.moderation import Moderator
    from assistant.runtime.services import Services
    from assistant.text.normalize import prepare

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
        parse_times = []
        url = f"{settings.rasa_url}/model/parse"
        with httpx.Client(timeout=30.0, trust_env=False) as http:
            params = {"token": settings.rasa_api_token()}
            for i in range(n):
                t0 = time.perf_counter()
                http.post(url, params=params, json={"text": prepare(texts[i % len(texts)])}).raise_for_status()
                parse_times.append((time.perf_counter() - t0) * 1000)
        pids = {name: p.pid for name, p in svc.started}
        pids.setdefault("rasa", _listener_pid(settings.rasa_port) or 0)
        pids.setdefault("actions", _listener_pid(settings.action_port) or 0)
        memory = {f"{k}_rss_mb": _tree_rss_mb(v) for k, v in pids.items() if v}
        bot.close()
    return {"requests": n, **_pct(times), "throughput_rps": round(n / wall, 1), "routes": routes,
            "model_parse": _pct(parse_times), **memory}


def format_latency(r: dict[str, Any]) -> str:
    p = r["model_parse"]
    lines = [f"{r['requests']} messages, each a resident's first; the same messages through both",
             f"{'':34}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'mean ms':>9}",
             f"{'REST (moderation, NLU, actions)':34}" + "".join(f"{r[k]:>9}" for k in ("p50_ms", "p95_ms", "p99_ms",
                                                                                      "mean_ms")),
             f"{'Rasa /model/parse (NLU only)':34}" + "".join(f"{p[k]:>9}" for k in ("p50_ms", "p95_ms", "p99_ms",
                                                                                   "mean_ms")),
             f"throughput {r['throughput_rps']} msg/s; routes {r['routes']}; memory "
             + ", ".join(f"{k} {v}" for k, v in r.items() if k.endswith("_rss_mb"))]
    return "\n".join(lines)


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


def baseline_cases(paths: list[Path]) -> list[Case]:
    """The single-turn cases of eval files (their dialogues are for ``eval``)."""
    cases = [c for p in paths for c in load_eval_file(p).cases]
    if not cases:
        raise DataError("no `cases:` to compare on (dialogue files are for `eval`)", path=str(paths[0]), line=1)
    return cases


def baselines(settings: Settings, paths: list[Path], *, moderation: bool = True,
              say: Any = print) -> dict[str, Any]:
    """Route and topic accuracy of Rasa's FAQ recipe, BM25 alone and dense alone beside the assistant's
    (through the servers), on the same cases and knowledge base, in one run."""
    from assistant.devtools import baselines as bl
    from assistant.devtools.evaluate import run
    from assistant.knowledge.kb import load as load_kb
    from assistant.runtime.app import open_assistant, scratch_settings
    from assistant.runtime.services import Services

    cases = baseline_cases(paths)
    kb = load_kb(settings.knowledge_dir)
    front = bl.moderated if moderation else (lambda ask: ask)
    systems: dict[str, dict[str, Any]] = {}
    model = bl.train_faq(settings, kb, say)
    faq = bl.RasaFaqBaseline(settings, model, kb)
    try:
        systems["rasa-faq"] = {"model": model.name, **run(cases, front(faq.ask)).metrics()}
    finally:
        faq.close()
    say("fitting the BM25 and dense baselines' thresholds on the knowledge base and nlu_data/ …")
    from assistant.knowledge.build import load_retriever

    retriever = load_retriever(settings)
    cache = settings.models_dir / "baselines"
    for name, (base, fit) in (("bm25", bl.bm25_baseline(kb, settings.root)),
                              ("dense", bl.dense_baseline(kb, settings.root, retriever.index, retriever.embedder,
                                                          cache))):
        systems[name] = {"threshold": fit, **run(cases, front(base.ask)).metrics()}
    say("the assistant, through the servers …")
    settings = scratch_settings(settings, Services(settings).rasa_up())
    with open_assistant(settings) as bot:
        systems["assistant"] = run(cases, bot.ask).metrics()
    return {"cases": len(cases), "files": [str(p) for p in paths], "moderation_in_front": moderation,
            "systems": systems}


def format_baselines(r: dict[str, Any]) -> str:
    head = (f"{r['cases']} cases from {', '.join(r['files'])}; "
            + ("every system behind the assistant's moderation" if r["moderation_in_front"] else "no moderation"))
    lines = [head, f"{'system':12}{'route':>8}{'topic':>8}{'oos ans.':>9}{'ECE':>7}{'p50 ms':>8}  notes"]
    for name, m in r["systems"].items():
        note = (f"threshold {m['threshold']['threshold']} (LOO acc {m['threshold']['loo_accuracy']} on "
                f"{m['threshold']['loo_texts']} KB/NLU texts)" if "threshold" in m else m.get("model", ""))
        cells = [m["route_accuracy"], m["topic_accuracy"], m["out_of_scope_answered"], m["calibration"]["ece"]]
        lines.append(f"{name:12}" + "".join(f"{'-' if v is None else f'{v:.3f}':>{w}}"
                                            for v, w in zip(cells, (8, 8, 9, 7), strict=True))
                     + f"{m['latency_ms']['p50']:>8}  {note}")
    return "\n".join(lines)


def turn(settings: Settings, cases_path: Path, n: int = 200, residents: int = 8) -> dict[str, Any]:
    """Where a resident's turn spends its time, every part timed on the same messages in the same run:
    the full turn (``Assistant.ask``: moderation, handoff/outbox checks, Rasa, actions) with the CPU
    time each server spent on it, the bare REST call to Rasa, Rasa's NLU alone (``/model/parse``), the
    action call alone (the action server's ``/webhook`` with the conversation's real tracker: the HTTP
    hop, the engine, retrieval, the database), ``residents`` conversations at once (throughput), and in
    this process retrieval and the handoff check (the database round trip of every turn)."""
    import uuid

    import httpx

    from assistant.channels.client import Assistant, RasaClient
    from assistant.knowledge.build import load_retriever
    from assistant.moderation import Moderator
    from assistant.runtime.app import open_desk
    from assistant.runtime.services import Services
    from assistant.text.normalize import prepare

    texts = [prepare(c.text) for c in load_cases(cases_path)]
    texts = [texts[i % len(texts)] for i in range(n)]
    parts: dict[str, list[float]] = {k: [] for k in ("full turn (client)", "REST to Rasa", "NLU (/model/parse)",
                                                      "action call (/webhook)", "retrieval (in process)",
                                                      "handoff check (database)")}

    def timed(key: str, fn: Any) -> Any:
        t0 = time.perf_counter()
        out = fn()
        parts[key].append((time.perf_counter() - t0) * 1000)
        return out

    with Services(settings) as svc:
        pids = {name: p.pid for name, p in svc.started}
        pids.setdefault("rasa", _listener_pid(settings.rasa_port) or 0)
        pids.setdefault("actions", _listener_pid(settings.action_port) or 0)
        pids = {k: v for k, v in pids.items() if v}
        bot = Assistant(RasaClient(settings.rasa_url), Moderator())
        token = {"token": settings.rasa_api_token()}
        http = httpx.Client(timeout=30.0, trust_env=False)
        domain = http.get(f"{settings.rasa_url}/domain", params=token,
                          headers={"Accept": "application/json"}).json()
        rest = f"{settings.rasa_url}/webhooks/rest/webhook"
        for t in texts[:20]:
            bot.ask(t)
        # the full turns alone first: the CPU both servers (and this client) spent on them, per turn
        cpu0, client0 = {k: _tree_cpu_s(v) for k, v in pids.items()}, time.process_time()
        for t in texts:
            timed("full turn (client)", lambda t=t: bot.ask(t))
        cpu = {f"{k}_cpu_ms": round((_tree_cpu_s(v) - cpu0[k]) * 1000 / n, 1) for k, v in pids.items()}
        cpu["client_cpu_ms"] = round((time.process_time() - client0) * 1000 / n, 1)
        for t in texts:
            sender = f"bench-{uuid.uuid4().hex[:8]}"
            timed("REST to Rasa", lambda t=t, s=sender: http.post(rest, json={"sender": s, "message": t}))
            timed("NLU (/model/parse)", lambda t=t: http.post(f"{settings.rasa_url}/model/parse", params=token,
                                                               json={"text": t}).raise_for_status())
            tracker = http.get(f"{settings.rasa_url}/conversations/{sender}/tracker", params=token).json()
            body = {"next_action": "action_answer", "sender_id": sender, "tracker": tracker, "domain": domain,
                    "version": "3.6.21"}
            timed("action call (/webhook)", lambda b=body: http.post(f"{settings.action_url}/webhook", json=b))
        together = _residents(settings, texts, residents, pids) if residents > 0 else None
        memory = {f"{k}_rss_mb": _tree_rss_mb(v) for k, v in pids.items()}
        http.close()
        bot.close()
    retriever = load_retriever(settings)
    for t in texts:
        timed("retrieval (in process)", lambda t=t: retriever.search(t))
    with open_desk(settings) as desk:
        for i in range(n):
            timed("handoff check (database)", lambda i=i: desk.handoffs.is_paused(f"bench-{i}"))
    out = {k: _pct(v) for k, v in parts.items()}
    full, parse = out["full turn (client)"], out["NLU (/model/parse)"]
    return {"requests": n, "parts": out, "ratio_p50": round(full["p50_ms"] / max(parse["p50_ms"], 0.1), 2),
            "ratio_p95": round(full["p95_ms"] / max(parse["p95_ms"], 0.1), 2), "cpu_per_turn": cpu,
            "residents": together, "load_average": [round(x, 2) for x in os.getloadavg()], **memory}


def _residents(settings: Settings, texts: list[str], residents: int, pids: dict[str, int]) -> dict[str, Any]:
    """``residents`` conversations at once, each sending its next message as soon as the answer is there
    (a new conversation every 4 messages), over ``texts``: messages per second, latency, CPU per turn."""
    import uuid
    from concurrent.futures import ThreadPoolExecutor

    from assistant.channels.client import Assistant, RasaClient
    from assistant.moderation import Moderator

    def resident(r: int) -> list[float]:
        bot = Assistant(RasaClient(settings.rasa_url), Moderator())
        sender, times = "", []
        for i in range(r, len(texts), residents):
            if not sender or i // residents % 4 == 0:
                sender = f"bench-{r}-{uuid.uuid4().hex[:8]}"
            times.append(bot.ask(texts[i], sender).latency_ms)
        bot.close()
        return times

    cpu0 = {k: _tree_cpu_s(v) for k, v in pids.items()}
    start = time.perf_counter()
    with ThreadPoolExecutor(residents) as pool:
        times = [t for ts in pool.map(resident, range(residents)) for t in ts]
    wall = time.perf_counter() - start
    cpu = {f"{k}_cpu_ms": round((_tree_cpu_s(v) - cpu0[k]) * 1000 / len(times), 1) for k, v in pids.items()}
    return {"residents": residents, "messages": len(times), "msg_per_s": round(len(times) / wall, 1),
            **_pct(times), "cpu_per_turn": cpu}


def format_turn(r: dict[str, Any]) -> str:
    lines = [f"{r['requests']} messages; every part on the same messages in the same run",
             f"{'':30}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'mean ms':>9}"]
    for name, p in r["parts"].items():
        lines.append(f"{name:30}" + "".join(f"{p[k]:>9}" for k in ("p50_ms", "p95_ms", "p99_ms", "mean_ms")))
    parts = r["parts"]
    rasa_core = parts["REST to Rasa"]["p50_ms"] - parts["NLU (/model/parse)"]["p50_ms"] - \
        parts["action call (/webhook)"]["p50_ms"]
    lines.append(f"Rasa besides NLU and the action (policies, tracker store, HTTP) ~{rasa_core:.1f} ms at p50; "
                 f"client (moderation, handoff/outbox checks) ~"
                 f"{parts['full turn (client)']['p50_ms'] - parts['REST to Rasa']['p50_ms']:.1f} ms")
    lines.append(f"full turn / parse: p50 {r['ratio_p50']}x (bar 3x), p95 {r['ratio_p95']}x (bar 4x); memory "
                 + ", ".join(f"{k} {v}" for k, v in r.items() if k.endswith("_rss_mb")))
    lines.append("CPU per full turn (ms): " + ", ".join(f"{k[:-7]} {v}" for k, v in r["cpu_per_turn"].items()))
    together = r.get("residents")
    if together:
        lines.append(f"{together['residents']} residents at once: {together['msg_per_s']} msg/s (bar 25), "
                     f"p50 {together['p50_ms']} ms, p95 {together['p95_ms']} ms (bar 500), p99 {together['p99_ms']} ms;"
                     " CPU per turn (ms): "
                     + ", ".join(f"{k[:-7]} {v}" for k, v in together["cpu_per_turn"].items()))
    lines.append(f"load average {r['load_average']} (2 cores: above ~1 the wall-clock figures are contended)")
    return "\n".join(lines)


def memory(settings: Settings, paths: list[Path], n: int = 1000) -> dict[str, Any]:
    """Both servers' resident memory (each process with its children) once warm and after ``n`` turns
    through the REST channel: the eval files' cases as residents' first messages and their dialogues
    turn by turn (forms, follow-ups), in turn until ``n``; the e5 runtime named from its meta.json."""
    import json
    import uuid

    from assistant.channels.client import Assistant, RasaClient
    from assistant.moderation import Moderator
    from assistant.runtime.services import Services

    convs: list[list[str]] = []
    for path in paths:
        loaded = load_eval_file(path)
        convs += [[c.text] for c in loaded.cases] + [[t.text for t in d.turns] for d in loaded.dialogues]
    if not convs:
        raise DataError("no cases or dialogues to send", path=str(paths[0]), line=1)
    meta_path = settings.models_dir / "e5-onnx" / "meta.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
    e5 = {k: meta.get(k) for k in ("weights", "embeddings", "tokenizer")}
    with Services(settings) as svc:
        pids = {name: p.pid for name, p in svc.started}
        pids.setdefault("rasa", _listener_pid(settings.rasa_port) or 0)
        pids.setdefault("actions", _listener_pid(settings.action_port) or 0)
        bot = Assistant(RasaClient(settings.rasa_url), Moderator())
        for text in convs[0][:3]:
            bot.ask(text)
        warm = {f"{k}_rss_mb": _tree_rss_mb(v) for k, v in pids.items() if v}
        # the action server's e5 (onnxruntime) loads only for a text Rasa did not embed (knowledge/shared.py)
        actions_pid = pids.get("actions") or 0
        loaded_at: int | None = 0 if actions_pid and _tree_maps(actions_pid, "onnxruntime") else None
        turns, routes, times = 0, dict[str, int](), list[float]()
        senders: list[str] = []
        start = time.perf_counter()
        while turns < n:
            for conv in convs:
                sender = f"mem-{uuid.uuid4().hex[:8]}"
                senders.append(sender)
                for text in conv:
                    reply = bot.ask(text, sender=sender)
                    routes[reply.route] = routes.get(reply.route, 0) + 1
                    times.append(reply.latency_ms)
                    turns += 1
                    if loaded_at is None and actions_pid and _tree_maps(actions_pid, "onnxruntime"):
                        loaded_at = turns
                    if turns >= n:
                        break
                if turns >= n:
                    break
        wall = time.perf_counter() - start
        after = {f"{k}_rss_mb": _tree_rss_mb(v) for k, v in pids.items() if v}
        bot.close()
        events = _user_event_bytes(settings, senders[-200:])
    return {"turns": turns, "e5": e5, "warm": warm, "after": after,
            "total_after_mb": round(sum(after.values()), 1), "routes": routes, **_pct(times),
            "seconds": round(wall, 1), "actions_e5_loaded_at_turn": loaded_at, "user_event_bytes": events}


def _user_event_bytes(settings: Settings, senders: list[str]) -> dict[str, float]:
    """Mean JSON size of the user events in these conversations' Rasa trackers, and of the e5 vector field
    in them (``assistant.knowledge.shared.KEY``)."""
    import json

    import httpx

    from assistant.knowledge.shared import KEY

    users: list[dict[str, Any]] = []
    with httpx.Client(timeout=30) as http:
        for sender in senders:
            try:
                resp = http.get(f"{settings.rasa_url}/conversations/{sender}/tracker",
                                params={"token": settings.rasa_api_token()})
                resp.raise_for_status()
                users += [e for e in resp.json().get("events", []) if e.get("event") == "user"]
            except (httpx.HTTPError, ValueError):
                continue
    if not users:
        return {}

    def size(x: Any) -> int:
        return len(json.dumps(x, ensure_ascii=False).encode("utf-8"))

    fields = [(e.get("parse_data") or {}).get(KEY) for e in users]
    return {"events": len(users), "mean": round(sum(size(e) for e in users) / len(users), 1),
            "e5_field_mean": round(sum(size({KEY: f}) - 2 for f in fields if f) / len(users), 1),
            "vectors_mean": round(sum(len(f.get("vectors", [])) for f in fields if f) / len(users), 2)}


def format_memory(r: dict[str, Any]) -> str:
    def row(m: dict[str, float]) -> str:
        return ", ".join(f"{k.removesuffix('_rss_mb')} {v} MiB" for k, v in m.items())

    return "\n".join([f"e5 runtime: {r['e5']}",
                      f"warm:                 {row(r['warm'])}",
                      f"after {r['turns']} turns:     {row(r['after'])}; both {r['total_after_mb']} MiB (bar 1,200)",
                      f"turns p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms; routes {r['routes']}",
                      "e5 in the action server: " + ("never loaded" if r["actions_e5_loaded_at_turn"] is None
                                                     else f"loaded by turn {r['actions_e5_loaded_at_turn']}"),
                      f"user events in Rasa's tracker (bytes, JSON): {r['user_event_bytes']}"])
