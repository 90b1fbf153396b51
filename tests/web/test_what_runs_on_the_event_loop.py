"""What runs on the event loop and what does not. Answers given there, without one of the
worker's threads, are left out of the pace by which a worker reckons a request's wait
(web/shedding.py): a flood of them would make the threads look quicker than they are, and
admit requests that wait too long. A database read never runs there: every other
connection of the worker would wait for it."""

from __future__ import annotations

from fastapi.testclient import TestClient
from starlette.types import Receive, Scope, Send

from papertide.config import Settings
from papertide.web import create_app
from papertide.web.shedding import ANSWERED_ON_LOOP
from tests.support.event_loop import watching_where


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


def test_the_error_page_reads_a_signed_in_reader_off_the_event_loop(settings: Settings) -> None:
    """The page names the reader; the session's read runs in a thread, not on the event
    loop, where every other connection of the worker would wait for it."""
    app = create_app(settings)
    with TestClient(app) as client:
        client.get("/login")
        form = {"username": "ada", "password": "analytical engine"}
        form["csrf_token"] = client.cookies["pt_csrf"]
        assert client.post("/register", data=form, follow_redirects=False).status_code == 303
        store = app.state.store
        store.user_for_session, where = watching_where(store.user_for_session)
        page = client.get("/no/such/page")
    assert page.status_code == 404 and "/users/ada" in page.text
    assert where == ["thread"]
