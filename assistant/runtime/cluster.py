"""The scaled-out topology on one machine, with Rasa's own documented parts: 2 Rasa instances and 2 action
servers behind haproxy (Debian), conversations in PostgreSQL (SQLTrackerStore), locks in Redis
(RedisLockStore), tickets in PostgreSQL. haproxy routes by conversation: the REST channel by a hash of the
body's ``sender``, Rasa's API by the conversation id in the path, socket.io (the web chat) by a sticky
cookie, the action calls by the body's ``sender_id`` (Rasa 3.6's Redis lock store is not safe when two
instances serve one conversation, rasa issue #9213). Consistent hashing: when an instance dies, only its
conversations move, and they go on from the tracker in PostgreSQL.

The front ports are the settings' Rasa and action ports, so ``ask``, ``eval`` and ``bench`` talk to the
cluster as to one server. ``up`` leaves the processes running (their process groups in
``.run/cluster-PORT/state.json``); ``down`` stops them.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy.engine import make_url

from assistant.errors import ServiceError
from assistant.runtime.services import Services, _signal_group, group_members
from assistant.settings import Settings

PROFILE = "endpoints.cluster.yml"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"   # the login database
DEFAULT_REDIS = "127.0.0.1:6379"
MAXCONN = 8          # requests in flight per instance; more wait in haproxy's queue


@dataclass
class Topology:
    """Ports and stores of one local cluster. ``pg_login`` names the server and a database to log in to;
    ``db`` is created there (Rasa's events and the tickets)."""

    front: int                      # haproxy: Rasa's REST, API and socket.io
    action_front: int               # haproxy: the action servers
    rasa_ports: list[int]
    action_ports: list[int]
    db: str = "assistant_cluster"
    pg_login: str = DEFAULT_PG
    redis: str = DEFAULT_REDIS
    redis_db: int = 2
    stats_port: int | None = None
    pgids: dict[str, int] = field(default_factory=dict)

    @property
    def tickets_url(self) -> str:
        return make_url(self.pg_login).set(database=self.db).render_as_string(hide_password=False)

    @property
    def names(self) -> list[str]:
        return [f"rasa{i + 1}" for i in range(len(self.rasa_ports))] + \
               [f"actions{i + 1}" for i in range(len(self.action_ports))]


def run_dir(settings: Settings) -> Path:
    """The cluster's files (haproxy.cfg, logs, state.json); one cluster per front port."""
    return settings.run_dir / f"cluster-{settings.rasa_port}"


def state_path(settings: Settings) -> Path:
    return run_dir(settings) / "state.json"


def haproxy_config(t: Topology) -> str:
    """haproxy.cfg: route by conversation; retry another instance when one is down (L7 retries)."""
    def servers(name: str, ports: list[int], extra: str = "") -> str:
        # a busy instance answers its check late, a dead one refuses the connection at once: only the dead go
        # down; at most MAXCONN requests each, the rest wait in haproxy's queue (not in a swamped Rasa)
        return "".join(f"  server {name}{i + 1} 127.0.0.1:{p} check inter 1s fall 2 rise 1 maxconn {MAXCONN}"
                       f"{extra.format(i=i + 1)}\n" for i, p in enumerate(ports))

    common = ("  hash-type consistent\n  option http-buffer-request\n"
              "  retry-on conn-failure empty-response response-timeout 502 503 504\n")
    stats = (f"frontend stats\n  bind 127.0.0.1:{t.stats_port}\n  stats enable\n  stats uri /\n\n"
             if t.stats_port else "")
    return (
        "global\n  maxconn 4096\n\n"
        "defaults\n  mode http\n  timeout connect 2s\n  timeout client 120s\n  timeout server 120s\n"
        "  timeout queue 120s\n  timeout check 20s\n  retries 3\n  option redispatch 1\n\n"
        f"frontend rasa\n  bind 127.0.0.1:{t.front}\n"
        "  acl rest path_beg /webhooks/\n  acl sio path_beg /socket.io\n  acl conv path_beg /conversations/\n"
        "  use_backend rasa_rest if rest\n  use_backend rasa_sio if sio\n  use_backend rasa_conv if conv\n"
        "  default_backend rasa_any\n\n"
        "backend rasa_rest\n  balance hash req.body,json_query('$.sender')\n" + common
        + "  option httpchk GET /\n" + servers("rasa", t.rasa_ports) + "\n"
        "backend rasa_conv\n  balance hash path,field(3,/)\n" + common
        + "  option httpchk GET /\n" + servers("rasa", t.rasa_ports) + "\n"
        "backend rasa_sio\n  balance source\n  hash-type consistent\n  cookie ASSISTANT_RASA insert indirect nocache\n"
        "  option httpchk GET /\n" + servers("rasa", t.rasa_ports, " cookie r{i}") + "\n"
        "backend rasa_any\n  balance roundrobin\n  option httpchk GET /\n" + servers("rasa", t.rasa_ports) + "\n"
        f"frontend actions\n  bind 127.0.0.1:{t.action_front}\n  default_backend actions\n\n"
        "backend actions\n  balance hash req.body,json_query('$.sender_id')\n" + common
        + "  option httpchk GET /health\n" + servers("actions", t.action_ports) + "\n" + stats)


def rasa_profile_env(t: Topology) -> dict[str, str]:
    """The variables endpoints.cluster.yml names, for this topology."""
    pg = make_url(t.pg_login)
    host, _, port = t.redis.partition(":")
    return {"CLUSTER_ACTION_URL": f"http://127.0.0.1:{t.action_front}/webhook",
            "CLUSTER_PG_HOST": pg.host or "127.0.0.1", "CLUSTER_PG_PORT": str(pg.port or 5432),
            "CLUSTER_PG_USER": pg.username or "postgres", "CLUSTER_PG_PASSWORD": pg.password or "",
            "CLUSTER_PG_DB": t.db, "CLUSTER_PG_LOGIN_DB": pg.database or "postgres",
            "CLUSTER_REDIS_HOST": host, "CLUSTER_REDIS_PORT": port or "6379", "CLUSTER_REDIS_DB": str(t.redis_db),
            "CLUSTER_REDIS_PREFIX": "".join(c for c in t.db if c.isalnum())}   # Rasa drops any other prefix


def ensure_database(t: Topology) -> None:
    """Create the cluster's database on the PostgreSQL server when missing."""
    import psycopg

    u = make_url(t.pg_login)
    try:
        with psycopg.connect(host=u.host, port=u.port or 5432, user=u.username, password=u.password,
                             dbname=u.database, autocommit=True, connect_timeout=5) as conn:
            if conn.execute("select 1 from pg_database where datname = %s", (t.db,)).fetchone() is None:
                conn.execute(f'create database "{t.db}"')
    except psycopg.Error as exc:
        raise ServiceError(f"PostgreSQL at {u.host}:{u.port or 5432}: {str(exc).splitlines()[0]}") from exc


def drop_database(t: Topology) -> None:
    import psycopg

    u = make_url(t.pg_login)
    with psycopg.connect(host=u.host, port=u.port or 5432, user=u.username, password=u.password,
                         dbname=u.database, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'drop database if exists "{t.db}" with (force)')


def _prepare_stores(settings: Settings, t: Topology, profile: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """The tickets' tables (Alembic, once, before two action servers race to migrate) here; Rasa's events
    table in a child of the Rasa environment (returned, to wait for), so two instances do not race either."""
    from assistant.runtime.app import open_desk

    code = ("import sys\nfrom rasa.core.utils import read_endpoints_from_path\n"
            "from rasa.core.tracker_store import TrackerStore\n"
            "TrackerStore.create(read_endpoints_from_path(sys.argv[1]).tracker_store)\n")
    log = run_dir(settings) / "tracker-store.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(settings.rasa_python), "-c", code, str(profile)], cwd=settings.root,
                                stdout=out, stderr=subprocess.STDOUT, env=_env(env))
    open_desk(settings).close()
    return proc


def _env(extra: dict[str, str]) -> dict[str, str]:
    from assistant.runtime.setup import rasa_env  # this environment, quiet TensorFlow, no telemetry

    return rasa_env() | extra


def up(settings: Settings, t: Topology, *, say: Any = print) -> Topology:
    """Start haproxy, the action servers and the Rasa instances; returns when all answer through haproxy."""
    haproxy = shutil.which("haproxy")
    if haproxy is None:
        raise ServiceError("haproxy is not installed (scripts/bootstrap.sh installs it: apt-get install haproxy)")
    if state_path(settings).exists():
        raise ServiceError(f"a cluster is already up ({state_path(settings)}); run `python -m assistant cluster down`")
    run = run_dir(settings)
    run.mkdir(parents=True, exist_ok=True)
    cfg = run / "haproxy.cfg"
    cfg.write_text(haproxy_config(t), encoding="utf-8")
    check = subprocess.run([haproxy, "-c", "-q", "-f", str(cfg)], capture_output=True, text=True, check=False)
    if check.returncode != 0:
        raise ServiceError(f"haproxy rejects {cfg}: {check.stderr.strip() or check.stdout.strip()}")
    ensure_database(t)
    base = settings.replace(tickets_url=SecretStr(t.tickets_url))
    env = rasa_profile_env(t)
    profile = settings.root / PROFILE
    started: list[tuple[str, Services]] = []
    try:
        say(f"stores: PostgreSQL database {t.db} (trackers, tickets), Redis {t.redis} db {t.redis_db} (locks)")
        tracker = _prepare_stores(base, t, profile, env)
        with open(run / "haproxy.log", "ab") as out:
            lb = subprocess.Popen([haproxy, "-db", "-f", str(cfg)], stdout=out, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, start_new_session=True)
        t.pgids["haproxy"] = lb.pid
        for i, port in enumerate(t.action_ports):
            svc = Services(base.with_ports(t.front, port), warmup=False)
            svc._launch("actions")
            started.append((f"actions{i + 1}", svc))
        if tracker.wait(timeout=120) != 0:
            raise ServiceError(f"cannot create Rasa's tracker store: see {run / 'tracker-store.log'}")
        for i, port in enumerate(t.rasa_ports):
            svc = Services(base.with_ports(port, t.action_front), warmup=False, endpoints=profile, rasa_env=env)
            svc._launch("rasa")
            started.append((f"rasa{i + 1}", svc))
        for name, svc in started:
            t.pgids[name] = svc.started[0][1].pid
        state_path(settings).write_text(json.dumps(asdict(t), indent=1), encoding="utf-8")
        say(f"starting {', '.join(t.names)} and haproxy (logs in {run.relative_to(settings.root)}/, .run/) …")
        for name, svc in started:
            kind = "rasa" if name.startswith("rasa") else "actions"
            url = (f"{svc.settings.rasa_url}/status?token={svc.settings.rasa_api_token()}" if kind == "rasa"
                   else f"{svc.settings.action_url}/health")
            svc._wait(kind, url)
        front = Services(base.with_ports(t.front, t.action_front))
        deadline = time.monotonic() + 30      # haproxy marks an instance up after 2 good checks, 1 s apart
        while not (front.rasa_up() and front.actions_up()):
            if time.monotonic() > deadline:
                raise ServiceError(f"haproxy does not answer on the front ports (see {run / 'haproxy.log'})")
            time.sleep(0.5)
        time.sleep(2.5)                       # both instances of each kind, not only the first one up
        front._warm()
    except BaseException:
        for _, svc in started:
            svc.stop(grace=5)
        if "haproxy" in t.pgids:
            stop_group(t.pgids["haproxy"])
        state_path(settings).unlink(missing_ok=True)
        raise
    return t


def load_state(settings: Settings) -> Topology | None:
    try:
        return Topology(**json.loads(state_path(settings).read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None


def stop_group(pgid: int, grace: float = 10.0) -> None:
    """SIGTERM the process group, SIGKILL what is left after ``grace`` s."""
    _signal_group(pgid, signal.SIGTERM)
    _signal_group(pgid, signal.SIGCONT)
    deadline = time.monotonic() + grace
    while group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if group_members(pgid):
        _signal_group(pgid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            deadline = time.monotonic() + 5
            while group_members(pgid) and time.monotonic() < deadline:
                time.sleep(0.1)


def kill(settings: Settings, name: str) -> None:
    """SIGKILL one instance (``rasa1``, ``actions2`` …), as a crash would; for the load and failover tests."""
    t = load_state(settings)
    if t is None or name not in t.pgids:
        raise ServiceError(f"no cluster instance {name!r} (is the cluster up?)")
    _signal_group(t.pgids[name], signal.SIGKILL)


def down(settings: Settings, *, drop: bool = False) -> bool:
    """Stop every process of the cluster; with ``drop`` its database too. False when none was up."""
    t = load_state(settings)
    if t is None:
        return False
    for pgid in t.pgids.values():
        stop_group(pgid)
    if drop:
        drop_database(t)
    state_path(settings).unlink(missing_ok=True)
    return True
