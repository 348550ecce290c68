"""``python -m assistant report --quarter 2026Q4 [--out DIR] [--bench]``: the quarterly report (HTML
and PDF with plots) from the learning, ticket, handoff and strike tables; ``--bench`` builds it from a
seeded synthetic quarter in a scratch database and prints the time taken."""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant.settings import Settings


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser("report", help="the quarterly report (HTML + PDF with plots)")
    p.add_argument("--quarter", required=True, help="e.g. 2026Q4")
    p.add_argument("--out", type=Path, help="folder for report-<quarter>.html/.pdf (default models/reports)")
    p.add_argument("--bench", action="store_true",
                   help="seed a synthetic quarter (and the one before) in a scratch database, time the report")
    p.add_argument("--messages", type=int, default=6000, help="--bench: messages per quarter")
    p.add_argument("--tickets", type=int, default=300, help="--bench: tickets per quarter")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.desk.tickets.store import open_engine
    from assistant.knowledge.build import make_embedder
    from assistant.knowledge.kb import load as load_kb
    from assistant.learning.metrics import Period
    from assistant.learning.report import build
    from assistant.learning.seed import seed_quarter
    from assistant.learning.store import LearningStore
    from assistant.moderation import load_config

    period = Period.quarter(args.quarter)
    out = args.out or settings.models_dir / "reports"
    kb = load_kb(settings.knowledge_dir)
    encoder = make_embedder(settings)
    if args.bench:
        scratch = tempfile.mkdtemp(prefix="report-bench-")
        url = f"sqlite:///{scratch}/bench.db"
        desk_engine = open_engine(url)
        store = LearningStore(desk_engine)
        entries = [e.id for e in kb.entries]
        t0 = time.perf_counter()
        for i, p in enumerate((period.previous(), period)):
            seed_quarter(store, desk_engine, p, messages=args.messages, tickets=args.tickets, seed=7 + i,
                         entries=entries[: len(entries) - 10 * (i + 1)])
        print(f"seeded {args.messages} messages and {args.tickets} tickets per quarter in "
              f"{time.perf_counter() - t0:.1f} s")
        strikes = None
    else:
        desk_engine = open_engine(settings.desk_url)
        store = LearningStore(desk_engine)
        strikes = _strikes_engine(settings, load_config())
    t0 = time.perf_counter()
    html, pdf = build(period.name, store, desk_engine, strikes, kb, encoder, out)
    print(f"report {period.name}: {html}\n                {pdf}\nbuilt in {time.perf_counter() - t0:.1f} s")
    return 0


def _strikes_engine(settings: Settings, config: Any) -> Any:
    """The strike store's database (moderation actions by rule), when it is a SQL one."""
    from assistant.moderation import store_from_config

    store = store_from_config(config, settings.root)
    return getattr(store, "engine", None)
