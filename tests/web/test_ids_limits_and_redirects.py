"""What a signed-in user can send that the site must refuse cleanly: ids past 64 bits in a
path, a form or a JSON body (422, never a 500 or a dropped connection), a vote whose Referer
is another site (the redirect stays on this site), and rate limits that answer 429 with
Retry-After, on both backends; and the same ids through the real HTTP server, whose
keep-alive connection stays usable and whose log holds no traceback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from papertide.config import Settings
from papertide.store import Store
from papertide.web import create_app
from tests.conftest import serving
from tests.support.live_server import live_site
from tests.support.search_corpus import add_papers, paper

HUGE = [2**64, 2**63, 99999999999999999999999]
PAPER = paper(1, "Sparse attention", "An abstract.", "Ada Lovelace", "cs.CL", "2024-02-01")


@pytest.fixture
def settings(any_settings: Settings, fixed_clock: datetime) -> Settings:
    return any_settings.model_copy(update={"rate_limit_per_hour": 2})


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    store = Store.open(settings.resolved_database_url)
    add_papers(store, settings, [PAPER])
    with serving(create_app(settings)) as opened:
        yield opened
    store.close()


def _signed_in(client: httpx.Client | TestClient, name: str = "ada") -> str:
    """Register ``name`` and return the session's CSRF token."""
    client.get("/login")
    data = {
        "username": name,
        "password": "analytical engine",
        "csrf_token": client.cookies["pt_csrf"],
    }
    assert client.post("/register", data=data, follow_redirects=False).status_code == 303
    return str(client.cookies["pt_csrf"])


def _huge_id_requests(token: str) -> list[tuple[str, str, dict[str, object]]]:
    form = {"csrf_token": token, "body": "text"}
    calls: list[tuple[str, str, dict[str, object]]] = []
    for big in HUGE:
        calls += [
            ("DELETE", f"/api/comments/{big}", {}),
            ("PATCH", f"/api/comments/{big}", {"json": {"body": "x"}}),
            ("POST", f"/api/comments/{big}/hide", {"json": {"hidden": True}}),
            ("POST", f"/comments/{big}/edit", {"data": form}),
            ("POST", f"/comments/{big}/delete", {"data": form}),
            ("POST", "/api/papers/2401.00001/comments", {"json": {"body": "x", "parent": big}}),
            ("POST", "/papers/2401.00001/comments", {"data": {**form, "parent": str(big)}}),
        ]
    return calls


def test_ids_past_64_bits_are_refused_before_the_database(client: TestClient) -> None:
    token = _signed_in(client)
    for method, path, kwargs in _huge_id_requests(token):
        answer = client.request(method, path, headers={"X-CSRF-Token": token}, **kwargs)  # type: ignore[arg-type]
        assert answer.status_code == 422, (method, path, answer.status_code, answer.text[:300])


def test_ids_past_64_bits_keep_the_servers_connection_and_log_clean(tmp_path: Path) -> None:
    with live_site(tmp_path / "data") as site, httpx.Client(base_url=site.url) as http:
        token = _signed_in(http)
        for method, path, kwargs in _huge_id_requests(token):
            answer = http.request(method, path, headers={"X-CSRF-Token": token}, **kwargs)  # type: ignore[arg-type]
            assert answer.status_code in (404, 422), (method, path, answer.status_code)
        assert http.get("/healthz").status_code == 200  # the same keep-alive client
        log = site.log.read_text()
    assert "Traceback" not in log and "OverflowError" not in log


def test_a_vote_never_redirects_to_another_site(client: TestClient) -> None:
    token = _signed_in(client)
    data = {"csrf_token": token, "up": "true"}
    for referer in ("https://evil.example/phish", "//evil.example/x", "javascript:alert(1)"):
        answer = client.post(
            "/papers/2401.00001/vote",
            data=data,
            headers={"Referer": referer},
            follow_redirects=False,
        )
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/papers/2401.00001#voted="), referer
    home = client.post(
        "/papers/2401.00001/vote",
        data=data,
        headers={"Referer": "http://testserver/search?q=sparse"},
        follow_redirects=False,
    )
    assert home.headers["location"].startswith("/search?q=sparse#voted=")  # back where it was


def test_every_rate_limit_answers_429_with_retry_after(client: TestClient) -> None:
    token = _signed_in(client)  # one registration of the two allowed from this address
    form = {"csrf_token": token, "body": "A comment."}
    answers = [client.post("/papers/2401.00001/comments", data=form) for _ in range(3)]
    comment = client.post(
        "/api/papers/2401.00001/comments", json={"body": "More."}, headers={"X-CSRF-Token": token}
    )
    assert answers[-1].status_code == 429 and comment.status_code == 429
    assert answers[-1].headers["retry-after"] == comment.headers["retry-after"] == "3600"
    other = TestClient(client.app)
    other.__enter__()
    try:
        other.get("/login")
        refused = None
        for n in range(3):
            data = {
                "username": f"bo{n}x",
                "password": "analytical engine",
                "csrf_token": other.cookies["pt_csrf"],
            }
            refused = other.post("/register", data=data, follow_redirects=False)
            other.cookies.clear()
            other.get("/login")
        assert refused is not None and refused.status_code == 429
        assert refused.headers["retry-after"] == "3600" and "Too many registrations" in refused.text
    finally:
        other.__exit__(None, None, None)
    subscribe = {"csrf_token": token, "email": "ada@example.org"}
    statuses = [client.post("/subscribe", data=subscribe).status_code for _ in range(3)]
    last = client.post("/subscribe", data=subscribe)
    assert 429 in statuses or last.status_code == 429
    assert last.status_code == 429 and last.headers["retry-after"] == "3600"
