"""`papertide serve` listens from its first moment: until its store and index are open every
request is answered 503 "starting" with Retry-After (a page for browsers, JSON under /api/
and for /healthz, which says it is building), and a SIGTERM stops it within 5 s whatever
it is opening. An index that takes long to open is made here by holding the index folder's
lock, as a `papertide ingest` or `reindex` beside it does."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx

from papertide.bench.synth import write_snapshot
from papertide.config import Settings
from papertide.ingest import IngestOptions, ingest_paths
from papertide.search.generation import IndexRoot
from papertide.store import Store
from tests.conftest import SEEDS
from tests.support.serve_process import Serving, serve_process

STOP_SECONDS = 5.0
START_SECONDS = 120  # a loaded machine takes its time to import the web stack


@contextlib.contextmanager
def index_held(settings: Settings) -> Iterator[None]:
    """The index folder's lock held exclusively, as a writer beside `serve` holds it."""
    with IndexRoot(settings.data_dir / "index").lock():
        yield


def _seeded(tmp_path: Path) -> Settings:
    settings = Settings(data_dir=tmp_path / "data")
    store = Store.open(settings.resolved_database_url)
    ingest_paths(store, SEEDS, settings=settings)
    store.close()
    return settings


def _connects(site: Serving) -> bool:
    with socket.create_connection(("127.0.0.1", site.port), timeout=5):
        return True


def _starting(site: Serving, doing: str = "") -> dict[str, object] | None:
    """/healthz's body while it says the node is starting (and doing ``doing``), else None."""
    health = site.get("/healthz")
    body: dict[str, object] = health.json()
    if health.status_code == 503 and body.get("state") == "starting":
        return body if doing in str(body.get("starting")) else None
    return None


def test_serve_answers_starting_until_its_store_and_index_are_open(tmp_path: Path) -> None:
    settings = _seeded(tmp_path)
    with index_held(settings), serve_process(settings) as site:
        # The port takes connections at once: no 'connection refused' for the whole start.
        site.wait_for(lambda: _connects(site), 30, "a connection")
        health = site.wait_for(lambda: _starting(site), START_SECONDS, "a starting /healthz")
        assert health == {
            "ok": False,
            "status": 503,
            "state": "starting",
            "starting": health["starting"],  # type: ignore[index]
            "building": True,
            "index": {"ready": False, "building": True, "lag": None, "graph": None},
            "error": health["error"],  # type: ignore[index]
        }
        # The web worker is up and waits for the index: still starting, for every address.
        site.wait_for(lambda: _starting(site, "index"), START_SECONDS, "the index awaited")
        page = site.get("/")
        assert page.status_code == 503 and page.headers["retry-after"].isdigit()
        assert page.headers["content-type"].startswith("text/html")
        assert "papertide is starting" in page.text and "Opening the search index" in page.text
        assert '<meta http-equiv="refresh"' in page.text
        for path in ("/api/daily", "/api/search?q=attention", "/healthz"):
            answer = site.get(path)
            assert answer.status_code == 503 and answer.headers["retry-after"].isdigit(), path
            assert answer.json()["status"] == 503 and answer.json()["building"] is True
        head = httpx.head(site.url + "/trending", timeout=30)
        assert head.status_code == 503 and head.headers["retry-after"].isdigit()
        assert site.get("/static/site.css").status_code == 200  # assets need no store
    # (the lock is let go as the block ends; the next test sees the rest of the start)


def test_serve_opens_once_the_index_is_free_and_then_serves_every_page(tmp_path: Path) -> None:
    settings = _seeded(tmp_path)
    with serve_process(settings) as site:
        with index_held(settings):
            site.wait_for(lambda: _starting(site, "index"), START_SECONDS, "the index awaited")
        healths = []

        def ready() -> bool:
            health = site.get("/healthz")
            healths.append(health.json())
            return health.status_code == 200 and health.json()["index"]["ready"] is True

        site.wait_for(ready, START_SECONDS, "a ready index")
        # Until ready, /healthz said it was building, whatever it answered.
        for body in healths:
            index = body.get("index", body)
            assert body.get("ok") is True or body.get("state") == "starting", body
            assert index["building"] is True or index.get("ready") is True, body
        for path in ("/", "/trending", "/api/daily", "/search?q=attention"):
            assert site.get(path).status_code == 200, path


def test_sigterm_stops_serve_within_5_s_while_it_waits_for_its_index(tmp_path: Path) -> None:
    settings = _seeded(tmp_path)
    with index_held(settings), serve_process(settings) as site:
        site.wait_for(lambda: _starting(site, "index"), START_SECONDS, "the index awaited")
        took = site.terminate()
        assert took < STOP_SECONDS, f"{took:.1f} s:\n{site.text()}"
        assert "Traceback" not in site.text()


def test_sigterm_stops_serve_within_5_s_while_it_builds_its_first_index(tmp_path: Path) -> None:
    """A node with 2,000 papers and no index yet builds one (some 15 s here); a SIGTERM in
    the middle is obeyed at once, the build left to the next start (it took 10 s more)."""
    settings = Settings(data_dir=tmp_path / "data")
    store = Store.open(settings.resolved_database_url)
    source = write_snapshot(tmp_path / "papers.jsonl", 2000, seed=5)
    ingest_paths(store, [source], settings=settings, options=IngestOptions(fmt="arxiv-snapshot"))
    store.close()
    with serve_process(settings) as site:

        def building() -> bool:
            health = site.get("/healthz")
            index = health.json().get("index", {})
            return health.status_code == 200 and index["ready"] is False and index["building"]

        site.wait_for(building, START_SECONDS, "a node building its index")
        took = site.terminate()
        assert took < STOP_SECONDS, f"{took:.1f} s:\n{site.text()}"
