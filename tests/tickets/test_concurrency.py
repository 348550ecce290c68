"""1,000 tickets from 8 concurrent clients on both backends, concurrent de-duplication, and SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from sqlalchemy import text

from assistant.desk.tickets import Reporter, open_store

from .conftest import test_sla

CLIENTS, PER_CLIENT = 8, 125
ROOT = Path(__file__).resolve().parents[2]


def _run_clients(url: str, work) -> list[BaseException]:  # noqa: ANN001
    """Run work(client_no, store) in CLIENTS threads, each with its own store (engine and connections)."""
    errors: list[BaseException] = []
    start = threading.Barrier(CLIENTS)

    def client(n: int) -> None:
        try:
            with open_store(url, sla=test_sla()) as store:     # every client migrates concurrently too
                start.wait(timeout=120)
                work(n, store)
        except BaseException as exc:  # noqa: BLE001
            start.abort()  # a client that fails must not leave the others waiting at the barrier
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_thousand_tickets_from_eight_clients(db_url: str, capsys) -> None:  # noqa: ANN001
    made: dict[int, list[str]] = {}

    def work(n: int, store) -> None:  # noqa: ANN001
        made[n] = [store.create(Reporter(f"r{n}-{i}"), "noise", f"{n + 1}-{101 + i}", f"client {n} ticket {i}").id
                   for i in range(PER_CLIENT)]

    t0 = time.perf_counter()
    errors = _run_clients(db_url, work)
    elapsed = time.perf_counter() - t0
    assert errors == []
    ids = [i for ids in made.values() for i in ids]
    assert len(ids) == CLIENTS * PER_CLIENT == 1000
    assert len(set(ids)) == 1000
    with open_store(db_url, sla=test_sla()) as store:
        stored = store.list(limit=None)
        assert len(stored) == 1000 and {t.id for t in stored} == set(ids)
        with store.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM ticket_events WHERE action = 'created'")).scalar() == 1000
    with capsys.disabled():
        print(f"\n  [{db_url.split(':')[0]}] 1000 tickets from {CLIENTS} clients in {elapsed:.2f} s "
              f"({1000 / elapsed:.0f}/s)", end="")


def test_concurrent_dedup_opens_one_ticket(db_url: str) -> None:
    results: list[tuple[str, bool]] = []
    lock = threading.Lock()

    def work(n: int, store) -> None:  # noqa: ANN001
        for i in range(5):
            t, created = store.open_or_append(Reporter("wx-same"), "noise", "5-101", f"client {n} message {i}")
            with lock:
                results.append((t.id, created))

    assert _run_clients(db_url, work) == []
    assert len(results) == CLIENTS * 5
    assert sum(created for _, created in results) == 1
    assert len({tid for tid, _ in results}) == 1
    with open_store(db_url, sla=test_sla()) as store:
        events = store.events(results[0][0])
        assert len(events) == CLIENTS * 5            # one 'created' + 39 'appended'


CHILD = textwrap.dedent("""
    import sys
    from assistant.desk.tickets import open_store
    from tests.tickets.conftest import test_sla
    store = open_store(sys.argv[1], sla=test_sla())
    i = 0
    while True:
        t = store.create("killed-child", "noise", "5-101", f"ticket {i}")
        print(t.id, flush=True)            # printed only after the commit returned
        i += 1
""")


def test_sigkill_loses_no_committed_ticket(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tickets.db'}"
    open_store(url, sla=test_sla()).dispose()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-c", CHILD, url], stdout=subprocess.PIPE, text=True, env=env,
                             cwd=ROOT)
    reported: list[str] = []
    try:
        assert child.stdout is not None
        while len(reported) < 150:
            line = child.stdout.readline()
            assert line, f"child ended early with {child.wait()}"
            reported.append(line.strip())
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL
    reported += [ln.strip() for ln in child.stdout.read().splitlines() if ln.strip()]
    with open_store(url, sla=test_sla()) as store:
        stored = {t.id for t in store.list(limit=None)}
        assert set(reported) <= stored
        assert len(stored) - len(reported) <= 1            # at most one committed but not yet printed
        with store.engine.connect() as conn:
            assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        t = store.create("after", "noise", None, "the database still takes writes")
        assert store.get(t.id).description.startswith("the database")
