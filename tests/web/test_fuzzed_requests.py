"""Fuzzing the site with Hypothesis: random queries through /api/search and random bodies
through every write route, with and without the CSRF token. Properties: a clear answer
below 500, and no change to any paper from a refused write."""

from __future__ import annotations

import string
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from papertide.config import Settings
from papertide.ingest import IngestOptions, ingest_paths
from papertide.sources.settings import SyncSettings
from papertide.store import Store
from papertide.web import create_app
from tests.conftest import SEEDS, serving
from tests.support.fuzzing import FUZZ, QUERIES


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Store]]:
    """The site over the seed captures, one signed-in user, live sources on a closed port."""
    base = Settings(data_dir=tmp_path_factory.mktemp("fuzz") / "data")
    dead = "http://127.0.0.1:9"  # discard port: nothing listens, every fetch fails at once
    sync = SyncSettings(
        arxiv_api_url=f"{dead}/api/query",
        oai_url=f"{dead}/oai",
        hf_url=f"{dead}/hf",
        request_interval=0,
        backoff=0.01,
        timeout=1.0,
        retries=0,
    )
    local = base.model_copy(update={"sync": sync, "rate_limit_per_hour": 100_000})
    store = Store.open(local.resolved_database_url)
    ingest_paths(store, SEEDS, settings=local, options=IngestOptions(page_year=2025))
    with serving(create_app(local)) as client:
        client.get("/login")
        data = {
            "username": "fuzzer",
            "password": "a long fuzzing phrase",
            "csrf_token": _token(client),
        }
        assert client.post("/register", data=data, follow_redirects=False).status_code == 303
        yield client, store
    store.close()


def _token(client: TestClient) -> str:
    token = client.cookies.get("pt_csrf")
    assert token
    return token


def _counts(store: Store) -> tuple[int, int]:
    return store.count_papers(), len(store.list_papers())


@settings(FUZZ, max_examples=60)
@given(query=QUERIES, mode=st.sampled_from(["hybrid", "bm25", "dense", "lexical", ""]))
def test_api_search_answers_every_query_cleanly(
    site: tuple[TestClient, Store], query: str, mode: str
) -> None:
    """/api/search with any query: a result or a clear 4xx in JSON, never a 500."""
    client, _ = site
    response = client.get("/api/search", params={"q": query, "mode": mode})
    assert response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/json")
    if response.status_code != 200:
        assert response.json()["error"]


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


FIELDS = [
    "email",
    "frequency",
    "queries",
    "categories",
    "authors",
    "ref",
    "up",
    "username",
    "password",
    "next",
    "topics",
    "csrf_token",
    *("body", "parent", "hidden", "name", "public", "description", "paper", "list", "saved"),
    "undo",
]


FORM = st.dictionaries(
    st.sampled_from(FIELDS) | st.text(max_size=10), st.text(max_size=80), max_size=6
)


JSON_BODY = st.one_of(
    st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=10), JSON_VALUES, max_size=6),
    JSON_VALUES,
)


WRITE_ROUTES = [
    ("POST", "/papers/{paper}/vote"),
    ("POST", "/api/papers/{paper}/vote"),
    ("DELETE", "/api/papers/{paper}/vote"),
    ("POST", "/api/submit"),
    ("POST", "/submit"),
    ("POST", "/subscribe"),
    ("POST", "/api/subscriptions"),
    ("POST", "/subscribe/confirm/{token}"),
    ("POST", "/subscription/{token}"),
    ("POST", "/subscription/{token}/delete"),
    ("POST", "/unsubscribe/{token}"),
    ("POST", "/unsubscribe/{token}/undo"),
    ("POST", "/account/link-subscription"),
    ("POST", "/account/link-subscription/{token}"),
    ("POST", "/login"),
    ("POST", "/register"),
    # Discussion, lists and For you; {pk} is a small comment key that may exist.
    ("POST", "/papers/{paper}/comments"),
    ("POST", "/api/papers/{paper}/comments"),
    ("POST", "/comments/{pk}/edit"),
    ("POST", "/comments/{pk}/delete"),
    ("POST", "/comments/{pk}/hide"),
    ("PATCH", "/api/comments/{pk}"),
    ("DELETE", "/api/comments/{pk}"),
    ("POST", "/api/comments/{pk}/hide"),
    ("POST", "/lists"),
    ("POST", "/api/lists"),
    ("POST", "/lists/save"),
    ("PUT", "/api/users/fuzzer/lists/{token}/papers/{paper}"),
    ("PUT", "/api/users/fuzzer/lists/{token}"),
    ("POST", "/users/fuzzer/lists/{token}/settings"),
    ("POST", "/for-you/dismiss"),
    ("POST", "/api/papers/{paper}/dismiss"),
]


@settings(FUZZ, max_examples=240)
@given(
    route=st.sampled_from(WRITE_ROUTES),
    token=st.text(string.ascii_letters + string.digits + ".-_%", max_size=40),
    body=st.one_of(FORM.map(lambda f: ("form", f)), JSON_BODY.map(lambda j: ("json", j))),
    with_csrf=st.booleans(),
)
def test_write_routes_answer_every_body_without_a_500(
    site: tuple[TestClient, Store],
    route: tuple[str, str],
    token: str,
    body: tuple[str, Any],
    with_csrf: bool,
) -> None:
    """Random form and JSON bodies to every write route, with and without the CSRF token:
    a clear answer below 500, and a refused write changes no paper."""
    client, store = site
    method, template = route
    paper = store.list_papers()[0].id or ""
    path = template.format(paper=paper, token=token or "x", pk=len(token) % 4 + 1)
    headers = {"X-CSRF-Token": _token(client)} if with_csrf else {}
    kind, payload = body
    if kind == "form" and with_csrf and isinstance(payload, dict):
        payload = {**payload, "csrf_token": _token(client)}
    before = _counts(store)
    if kind == "form":
        response = client.request(
            method, path, data=payload, headers=headers, follow_redirects=False
        )
    else:
        response = client.request(
            method, path, json=payload, headers=headers, follow_redirects=False
        )
    assert response.status_code < 500, (method, path, response.status_code, response.text[:300])
    if response.status_code >= 400:
        assert _counts(store) == before
    if template == "/register" and response.status_code == 303:  # signed in as someone new:
        client.post("/logout", data={"csrf_token": _token(client)})  # back to the fuzzer
        data = {
            "username": "fuzzer",
            "password": "a long fuzzing phrase",
            "csrf_token": _token(client),
        }
        client.post("/login", data=data)


def test_a_non_ascii_csrf_token_is_refused_not_a_500(site: tuple[TestClient, Store]) -> None:
    """Found by the fuzzer: compare_digest raised TypeError on a non-ASCII token (a 500)."""
    client, _ = site
    for sent in ("é", "ü.ß"):
        answer = client.post(
            "/api/submit", json={"ref": "x"}, headers={"X-CSRF-Token": sent.encode()}
        )
        assert answer.status_code == 403, answer.text
        form = client.post("/submit", data={"ref": "x", "csrf_token": sent})
        assert form.status_code == 403, form.text
