"""``python -m assistant cluster up|down|status|kill``: 2 Rasa + 2 action servers behind haproxy on this
machine, trackers and tickets in PostgreSQL, locks in Redis (``assistant/runtime/cluster.py``)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant.settings import Settings


def add_parser(sub: Any) -> argparse.ArgumentParser:
    c = sub.add_parser("cluster", help="several Rasa and action servers behind haproxy (PostgreSQL, Redis)")
    csub = c.add_subparsers(dest="cluster_cmd", required=True)
    u = csub.add_parser("up", help="start the topology; haproxy listens on the Rasa and action ports")
    u.add_argument("--instances", type=int, default=2, help="Rasa instances and action servers, each (default 2)")
    u.add_argument("--base-port", type=int, default=5100,
                   help="Rasa instances on BASE+1.., action servers on BASE+51.. (default 5100)")
    u.add_argument("--pg", default=None, help="PostgreSQL server and login database "
                                              "(default postgresql+psycopg://postgres@127.0.0.1:5432/test)")
    u.add_argument("--db", default="assistant_cluster", help="the database created there (default assistant_cluster)")
    u.add_argument("--redis", default="127.0.0.1:6379", help="Redis host:port of the lock store")
    u.add_argument("--stats-port", type=int, default=None, help="haproxy's statistics page on this port")
    d = csub.add_parser("down", help="stop every process of the cluster")
    d.add_argument("--drop", action="store_true", help="drop its database too (trackers, tickets)")
    csub.add_parser("status", help="the instances and whether they answer")
    k = csub.add_parser("kill", help="SIGKILL one instance, as a crash would (rasa1, actions2 …)")
    k.add_argument("name")
    c.set_defaults(run=run)
    return c


def run(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.runtime import cluster

    if args.cluster_cmd == "up":
        n, base = args.instances, args.base_port
        t = cluster.Topology(front=settings.rasa_port, action_front=settings.action_port,
                             rasa_ports=[base + 1 + i for i in range(n)],
                             action_ports=[base + 51 + i for i in range(n)],
                             db=args.db, pg_login=args.pg or cluster.DEFAULT_PG, redis=args.redis,
                             stats_port=args.stats_port)
        cluster.up(settings, t)
        print(f"cluster up: REST http://127.0.0.1:{t.front}/webhooks/rest/webhook; Rasa {t.rasa_ports}, "
              f"actions {t.action_ports} behind haproxy (:{t.front}, :{t.action_front})")
        return 0
    if args.cluster_cmd == "down":
        print("cluster stopped" if cluster.down(settings, drop=args.drop) else "no cluster was up")
        return 0
    if args.cluster_cmd == "kill":
        cluster.kill(settings, args.name)
        return 0
    state = cluster.load_state(settings)
    if state is None:
        print("no cluster is up")
        return 1
    for name, pgid in state.pgids.items():
        print(f"{name:10} pgid {pgid:<8} {'running' if cluster.group_members(pgid) else 'gone'}")
    return 0
