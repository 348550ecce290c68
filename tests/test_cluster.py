"""The scaled-out topology (``cluster up``): 2 Rasa + 2 action servers behind haproxy, trackers and
tickets in PostgreSQL, locks in Redis. Conversations started on the cluster go on after one Rasa instance
and one action server are killed (SIGKILL, as a crash), each resident gets exactly one ticket."""

from __future__ import annotations

import shutil
import socket
import uuid

import httpx
import pytest

from assistant.runtime import cluster

from .conftest import free_port
from .pg import PG_URL, pg_problem

FORM = ("我要投诉楼上的噪音", "七号楼二单元三零二", "不知道是哪家", "蛮急的，晚上根本睡不着", "没问题")


def _redis_problem() -> str | None:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=2).close()
    except OSError as exc:
        return f"Redis at 127.0.0.1:6379 unreachable: {exc}"
    return None


def test_haproxy_routes_by_conversation() -> None:
    t = cluster.Topology(front=1, action_front=2, rasa_ports=[3, 4], action_ports=[5, 6])
    cfg = cluster.haproxy_config(t)
    assert "balance hash req.body,json_query('$.sender')" in cfg            # REST: the body's sender
    assert "balance hash req.body,json_query('$.sender_id')" in cfg         # action calls: the tracker's
    assert "balance hash path,field(3,/)" in cfg                            # /conversations/<id>/…
    assert "cookie ASSISTANT_RASA insert" in cfg                            # socket.io: sticky
    assert cfg.count("hash-type consistent") == 4 and "retry-on conn-failure empty-response" in cfg
    env = cluster.rasa_profile_env(t)
    assert env["CLUSTER_ACTION_URL"] == "http://127.0.0.1:2/webhook" and env["CLUSTER_PG_DB"] == t.db
    assert env["CLUSTER_REDIS_PREFIX"] == "assistantcluster", "Rasa ignores a prefix that is not alphanumeric"


@pytest.mark.services
def test_conversations_continue_when_one_rasa_and_one_action_server_die() -> None:
    if shutil.which("haproxy") is None:
        pytest.skip("haproxy is not installed (scripts/bootstrap.sh installs it)")
    for problem in (pg_problem(), _redis_problem()):
        if problem:
            pytest.skip(problem)
    from assistant.settings import load_settings

    settings = load_settings().with_ports(free_port(), free_port())
    t = cluster.Topology(front=settings.rasa_port, action_front=settings.action_port,
                         rasa_ports=[free_port(), free_port()], action_ports=[free_port(), free_port()],
                         db=f"assistant_cluster_test_{uuid.uuid4().hex[:8]}", pg_login=PG_URL)
    cluster.up(settings, t, say=lambda _: None)
    senders = [f"ct-{uuid.uuid4().hex[:8]}" for _ in range(4)]
    tickets: dict[str, str] = {}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{t.front}", timeout=60, trust_env=False) as http:
            def turn(sender: str, text: str) -> list[dict]:
                r = http.post("/webhooks/rest/webhook", json={"sender": sender, "message": text})
                assert r.status_code == 200 and r.json(), (sender, text, r.status_code)
                return r.json()

            for sender in senders:
                for text in FORM[:2]:
                    turn(sender, text)
            cluster.kill(settings, "rasa1")
            cluster.kill(settings, "actions1")
            for sender in senders:
                for text in FORM[2:]:
                    for reply in turn(sender, text):
                        tickets[sender] = (reply.get("custom") or {}).get("ticket_id") or tickets.get(sender, "")
        assert all(tickets.get(s) for s in senders), f"every form went on to its ticket: {tickets}"
        assert len(set(tickets.values())) == len(senders)
        from sqlalchemy import create_engine, text

        engine = create_engine(t.tickets_url)
        with engine.connect() as conn:
            stored = conn.execute(text("select id from tickets")).scalars().all()
        engine.dispose()
        assert sorted(stored) == sorted(tickets.values()), "one ticket per resident, none duplicated"
    finally:
        cluster.down(settings, drop=True)
