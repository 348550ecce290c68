"""schemathesis against the console's OpenAPI schema, on SQLite and on PostgreSQL: anonymous, with a
Bearer token and with a logged-in cookie session (CSRF token added), no request may get a server error.
50 examples per operation here; ``--hypothesis-profile=fuzz`` (``make fuzz``) runs 1,000."""

from __future__ import annotations

import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from assistant.console import create_app
from assistant.console.throttle import Throttle
from assistant.desk.desk import Desk
from assistant.desk.handoff import LogNotifier, load_roster, open_handoffs
from assistant.desk.handoff.roster import EXAMPLE
from assistant.desk.tickets import Reporter, open_store

from ..pg import FakeClock, pg_schema_url
from .conftest import TOKENS, FakeResidents, console_sla

pytestmark = pytest.mark.fuzz      # make unit leaves these out; make test and make fuzz run them

# 50 per operation and store; under another profile (fuzz) its count, at most 1,000 (about 40 minutes)
EXAMPLES = 50 if settings.get_current_profile_name() == "default" else min(settings().max_examples, 1000)


def operations() -> list[str]:
    """Every operation in the schema (the routes do not touch the desk while the app is built)."""
    app = create_app(types.SimpleNamespace(roster=load_roster(EXAMPLE)), TOKENS)  # type: ignore[arg-type]
    return sorted(f"{method.upper()} {path}" for path, ops in app.openapi()["paths"].items() for method in ops)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_desk(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[Desk]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'tickets.db'}"
        urls: Iterator[str] = iter([url])
    else:
        urls = pg_schema_url("console_fuzz")
        url = next(urls)
    d = Desk(tickets=open_store(url, sla=console_sla(), clock=clock), handoffs=open_handoffs(url, clock=clock),
             roster=load_roster(EXAMPLE), notifier=LogNotifier(), residents=FakeResidents())
    yield d
    for store in (d.tickets, d.handoffs):
        getattr(store, "dispose", lambda: None)()
    next(urls, None)                        # drops the PostgreSQL schema


@pytest.mark.parametrize("operation", operations())
def test_no_server_errors(operation: str, store_desk: Desk) -> None:
    desk = store_desk
    app = create_app(desk, TOKENS, throttle=Throttle("1000000 per day"))    # here every login is looked at
    t = desk.tickets.create(Reporter("wx-1", "张三"), "noise", "5-101", "楼上每晚拖椅子")
    h, _ = desk.handoffs.request("conv-1", "wx-1", "request_human", "想找人工客服")
    schema = schemathesis.openapi.from_dict(app.openapi())
    schema.app = app
    method, path = operation.split(" ", 1)
    sessions = app.state.sessions
    session = sessions.new(sessions.token_id(TOKENS["wang"]))
    bearer = {"headers": {"Authorization": f"Bearer {TOKENS['li']}"}}
    callers: list[dict[str, Any]] = [{}, bearer, {"cookies": {"console_session": sessions.dump(session)}}]

    def check(case: Any, who: dict[str, Any]) -> None:
        response = case.call(**who)
        assert response.status_code < 500, (operation, list(who), response.status_code, response.text[-300:])

    @given(case=schema[path][method].as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def run(case: Any) -> None:
        for who in callers:
            if "cookies" in who and isinstance(case.body, dict):
                case.body = {**case.body, "csrf": session.csrf}
            check(case, who)
        ids = case.path_parameters or {}
        if "ticket_id" in ids or "handoff_id" in ids:      # the same request on a ticket or handoff that exists
            case.path_parameters = {k: t.id if k == "ticket_id" else h.id for k in ids}
            check(case, bearer)

    run()
