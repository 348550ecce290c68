"""Fixtures for the web console: a Desk on a temporary SQLite file with a fake clock and fake residents,
the app, and a logged-in test client."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import time, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from assistant.console import create_app
from assistant.desk.desk import Desk
from assistant.desk.handoff import LogNotifier, load_roster, open_handoffs
from assistant.desk.handoff.roster import EXAMPLE
from assistant.desk.push import ResidentUnreachable
from assistant.desk.tickets import open_store
from assistant.desk.tickets.sla import Calendar, SLAPolicy, Target

from ..pg import SHANGHAI, FakeClock

# Tokens of two roster admins (examples/roster.yml: wang, li, zhang).
TOKENS = {"wang": "wang-token-0123456789abcdef", "li": "li-token-0123456789abcdef0"}
CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')


class FakeResidents:
    """Records every tell(); raises ResidentUnreachable when not reachable."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.reachable = True
        self.texts: list[str] = []

    def tell(self, conversation_id: str, intent: str, entities: dict[str, Any]) -> list[str]:
        self.calls.append((conversation_id, intent, dict(entities)))
        if not self.reachable:
            raise ResidentUnreachable(conversation_id, intent)
        return list(self.texts)


def console_sla() -> SLAPolicy:
    """Mon-Fri 09:00-12:00 and 13:00-18:00 Shanghai; default 4h / 16h, noise 2h / 8h."""
    cal = Calendar(tz=SHANGHAI, weekdays=frozenset(range(5)), hours=((time(9), time(12)), (time(13), time(18))))
    return SLAPolicy(calendar=cal, default=Target(timedelta(hours=4), timedelta(hours=16)),
                     categories={"noise": Target(timedelta(hours=2), timedelta(hours=8))},
                     priority_factor={"urgent": 0.25, "high": 0.5, "normal": 1.0, "low": 1.5})


@pytest.fixture
def residents() -> FakeResidents:
    return FakeResidents()


@pytest.fixture
def desk(tmp_path: Path, clock: FakeClock, residents: FakeResidents) -> Iterator[Desk]:
    url = f"sqlite:///{tmp_path / 'tickets.db'}"
    d = Desk(tickets=open_store(url, sla=console_sla(), clock=clock), handoffs=open_handoffs(url, clock=clock),
             roster=load_roster(EXAMPLE), notifier=LogNotifier(), residents=residents)
    yield d
    d.tickets.dispose()
    d.handoffs.dispose()


@pytest.fixture
def app(desk: Desk) -> FastAPI:
    return create_app(desk, TOKENS)


@pytest.fixture
def anon(app: FastAPI) -> Iterator[TestClient]:
    """A client that is not logged in and does not follow redirects."""
    with TestClient(app, follow_redirects=False) as c:
        yield c


def login(client: TestClient, token: str = TOKENS["wang"]) -> str:
    """Log ``client`` in; returns the session's CSRF token."""
    r = client.post("/login", data={"token": token, "next": "/tickets"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    page = client.get("/tickets")
    assert page.status_code == 200
    m = CSRF_RE.search(page.text)
    assert m, "no CSRF field on the page"
    return m.group(1)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """A client logged in as wang (its CSRF token in ``client.csrf``), not following redirects."""
    with TestClient(app, follow_redirects=False) as c:
        c.csrf = login(c)  # type: ignore[attr-defined]
        yield c
