"""Answers given on the event loop, without one of the worker's threads, are left out of
the pace by which a worker reckons a request's wait (web/shedding.py): a flood of them would
make the threads look quicker than they are, and admit requests that wait too long."""

from __future__ import annotations

from fastapi.testclient import TestClient
from starlette.types import Receive, Scope, Send

from papertide.config import Settings
from papertide.web import create_app
from papertide.web.shedding import ANSWERED_ON_LOOP


def test_a_path_no_route_has_is_marked_as_answered_on_the_loop(settings: Settings) -> None:
    app = create_app(settings)
    scopes: list[Scope] = []

    async def recording(scope: Scope, receive: Receive, send: Send) -> None:
        scopes.append(scope)  # the very dict the app marks, as the front reads it
        await app(scope, receive, send)

    with TestClient(recording) as client:
        assert client.get("/no/such/page").status_code == 404
        assert client.delete("/healthz").status_code == 405  # a route, not for this method
        # A route's own 404, raised in the thread that ran the route: the threads' pace.
        assert client.get("/papers/2401.99999").status_code == 404
    asked = [scope for scope in scopes if scope["type"] == "http"]
    assert [scope.get(ANSWERED_ON_LOOP, False) for scope in asked] == [True, True, False]
