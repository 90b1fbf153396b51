"""Under load a request waits for one of its worker's few threads (``threads``), behind every
request queued there. A request must queue there once: an API read is checked and written in
the thread that ran it, a page is answered before its background task (a picture wish) gets
a thread, and the readers that find the page cache's change token old share one read of it
in the small pool of /healthz."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest
from fastapi.testclient import TestClient

from papertide.config import Settings
from papertide.ingest import IngestOptions, ingest_paths
from papertide.store import Store
from papertide.web import create_app
from papertide.web.features import papers as paper_feature
from tests.conftest import serving

WAIT = 10.0  # seconds before a test gives up on an event (a loaded machine is slow, not stuck)


@pytest.fixture
def site(settings: Settings, seeds: list[Path]) -> Iterator[tuple[TestClient, Store]]:
    local = settings.model_copy(update={"page_cache_seconds": 300.0})
    store = Store.open(local.resolved_database_url)
    ingest_paths(store, seeds, settings=local, options=IngestOptions(page_year=2025))
    with serving(create_app(local)) as client:
        yield client, store
    store.close()


async def _call(
    app: Any,
    path: str,
    query: bytes = b"",
    on_answer: Callable[[], None] = lambda: None,
    cookie: str = "",
):
    """One GET through the whole app, as uvicorn makes it; ``on_answer`` runs when the last
    byte of the body is handed to the server. Returns the status and the body."""
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"testserver")] + ([(b"cookie", cookie.encode())] if cookie else []),
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            on_answer()

    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def test_a_paper_page_is_answered_before_its_picture_wish_is_written(
    site, monkeypatch, caplog
) -> None:
    client, store = site
    paper = store.list_papers(limit=1)[0]
    wishing, release, answered = threading.Event(), threading.Event(), threading.Event()

    def slow_wish(*args: Any) -> None:
        wishing.set()
        release.wait(WAIT)

    monkeypatch.setattr(paper_feature, "wish_picture", slow_wish)
    caplog.set_level(logging.INFO, logger="papertide.access")
    call = client.portal.start_task_soon(
        _call, client.app, f"/papers/{paper.id}", b"", answered.set
    )
    try:
        assert answered.wait(WAIT), "the page waited for its background task"
        assert wishing.wait(WAIT), "the picture wish never ran"
        assert not call.done()  # the wish is still being written
    finally:
        release.set()
    status, body = call.result(WAIT)
    assert status == 200 and paper.title.encode() in body
    logged = [r.getMessage() for r in caplog.records if f"/papers/{paper.id}" in r.getMessage()]
    ms = float(re.search(r" (\d+\.\d) ms$", logged[-1]).group(1))
    # The access log and the latency metric say when the reader had the page, not when the
    # wish was written (held here until the page had been answered).
    assert ms < WAIT * 1000


@pytest.mark.parametrize(
    "path, query",
    [
        ("/api/search", b"q=transformer"),
        ("/api/trending", b""),
        ("/api/papers/{id}", b""),
        ("/api/papers/{id}/similar", b""),
        ("/search", b"q=transformer"),
        ("/papers/{id}", b""),
    ],
)
@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "signed-in"])
def test_reads_take_one_thread_of_the_pages_pool(site, monkeypatch, path, query, signed_in) -> None:
    client, store = site
    cookie = ""
    if signed_in:  # the session's read must not be a second wait for the pages' threads
        client.get("/login")
        form = {"username": "ada", "password": "analytical engine"}
        form["csrf_token"] = client.cookies["pt_csrf"]
        assert client.post("/register", data=form, follow_redirects=False).status_code == 303
        cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    paper = store.list_papers(limit=1)[0]
    path = path.replace("{id}", paper.id or "")
    trips: list[str] = []
    answered = threading.Event()
    real = anyio.to_thread.run_sync

    async def counted(func: Any, *args: Any, limiter: Any = None, **kwargs: Any) -> Any:
        # The default limiter is the pages' pool (``threads``); what runs after the answer
        # (a paper page's picture wish) no longer keeps the reader waiting.
        if limiter is None and not answered.is_set():
            trips.append(getattr(getattr(func, "func", func), "__name__", "?"))
        return await real(func, *args, limiter=limiter, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    # Twice: the first call may find the page cache's change token old, the second a
    # different query string, so that neither is a cache hit.
    for extra in (b"", b"&page=1" if query else b"?"):
        trips.clear()
        answered.clear()
        status, body = client.portal.call(
            _call, client.app, path, query + extra, answered.set, cookie
        )
        assert status == 200, body[:300]
        assert len(trips) == 1, f"{path} queued for a thread {len(trips)} times: {trips}"
    if path.startswith("/api/"):
        assert body.startswith((b"{", b"["))


def test_readers_who_find_the_change_token_old_share_one_read(site, monkeypatch) -> None:
    client, _ = site
    app = client.app
    reads: list[int] = []
    real = app.state.store.change_token

    def counted() -> str:
        reads.append(1)
        return real()

    monkeypatch.setattr(app.state.store, "change_token", counted)
    cache = _page_cache(app)
    cache.token = (0.0, cache.writes, "")  # old: the next readers must read it again

    async def crowd() -> list[int]:
        statuses: list[int] = []

        async def one(n: int) -> None:
            statuses.append((await _call(app, "/api/search", f"q=model&page={n}".encode()))[0])

        async with anyio.create_task_group() as tasks:
            for n in range(1, 13):
                tasks.start_soon(one, n)
        return statuses

    statuses = client.portal.call(crowd)
    assert statuses == [200] * 12
    assert len(reads) == 1, f"{len(reads)} reads of the change token for one crowd"


def _page_cache(app: Any) -> Any:
    """The app's PageCache instance, found in its built middleware stack."""
    from papertide.web.cache import PageCache

    layer = app.middleware_stack
    for _ in range(30):
        if isinstance(layer, PageCache):
            return layer
        layer = getattr(layer, "app", None) or getattr(layer, "inner", None)
    raise AssertionError("no PageCache in the stack")
