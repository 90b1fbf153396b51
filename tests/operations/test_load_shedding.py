"""Overload is shed, not queued, through a real `papertide serve`: past its threads and its
queue a worker answers 503 with Retry-After at once, while /healthz, /metrics and static
files never wait behind the requests that fill it.

Slow requests here are real ones: failed logins that must write (the failed-login count)
while another process holds SQLite's write lock, so each holds one of the worker's threads
until the lock is let go.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from papertide.bench.synth import write_snapshot
from papertide.config import Settings
from papertide.ingest import IngestOptions, ingest_paths
from papertide.store import Store
from tests.support.live_server import LiveSite, live_site

THREADS, QUEUE = 2, 2


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSite]:
    """One worker with 2 threads and a queue of 2: four requests fill it."""
    env = {
        "PAPERTIDE_SERVE__QUEUE": str(QUEUE),
        "PAPERTIDE_SERVE__RETRY_AFTER_SECONDS": "2",
        "PAPERTIDE_LOGIN_FAILURES_PER_ADDRESS": "1000",
        "PAPERTIDE_LOGIN_FAILURES_PER_ACCOUNT": "1000",
    }
    folder = tmp_path_factory.mktemp("shed") / "data"
    with live_site(folder, "--workers", "1", "--threads", str(THREADS), env=env) as running:
        yield running


@contextmanager
def _write_locked(data_dir: Path) -> Iterator[None]:
    """Another process's write transaction on the site's SQLite file (readers go on)."""
    conn = sqlite3.connect(data_dir / "papertide.db", isolation_level=None, timeout=30)
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()


def _failed_login(url: str, answers: list[int]) -> None:
    with httpx.Client(base_url=url, timeout=60) as client:
        client.get("/login")
        form = {"username": "nobody", "password": "wrong", "csrf_token": client.cookies["pt_csrf"]}
        answers.append(client.post("/login", data=form).status_code)


def _in_flight(url: str) -> float:
    text = httpx.get(url + "/metrics", timeout=10).text
    line = next(x for x in text.splitlines() if x.startswith("papertide_http_requests_in_flight"))
    return float(line.split()[-1])


def _timed(client: httpx.Client, path: str) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    answer = client.get(path)
    return answer, time.perf_counter() - started


def _shed_total(url: str) -> float:
    text = httpx.get(url + "/metrics", timeout=10).text
    line = next(x for x in text.splitlines() if x.startswith("papertide_http_requests_shed_total"))
    return float(line.split()[-1])


def test_a_full_worker_refuses_at_once_and_health_and_static_still_answer(
    site: LiveSite,
) -> None:
    data_dir = site.log.parent / "data"
    shed_before = _shed_total(site.url)
    slow: list[int] = []
    with _write_locked(data_dir):
        logins = [
            threading.Thread(target=_failed_login, args=(site.url, slow))
            for _ in range(THREADS + QUEUE)
        ]
        for login in logins:
            login.start()
        deadline = time.monotonic() + 20
        while _in_flight(site.url) < THREADS + QUEUE + 1:  # + this scrape
            assert time.monotonic() < deadline, "the slow logins never filled the worker"
            time.sleep(0.05)
        with httpx.Client(base_url=site.url, timeout=30) as client:
            refused = [_timed(client, path) for path in ("/", "/trending", "/api/trending") * 4]
            health = [_timed(client, "/healthz") for _ in range(5)]
            static = [_timed(client, "/static/favicon.svg") for _ in range(3)]
        assert not slow, "the slow logins were answered while the lock was held"
    for login in logins:
        login.join(timeout=60)

    for answer, seconds in refused:
        assert answer.status_code == 503, answer.text
        assert answer.headers["Retry-After"] == "2"
        assert answer.json()["status"] == 503
        assert answer.headers["X-Request-ID"]
        assert seconds < 1.0, seconds  # not queued: the lock was held for all of it
    for answer, seconds in health:
        assert answer.status_code == 200 and answer.json()["ok"] is True
        assert seconds < 1.0, seconds
    for answer, seconds in static:
        assert answer.status_code == 200
        assert seconds < 1.0, seconds
    # The accepted requests were kept and answered once the lock went: none refused.
    assert sorted(slow) == [401] * (THREADS + QUEUE)
    assert _shed_total(site.url) - shed_before == len(refused)


def test_below_the_limit_nothing_is_refused(site: LiveSite) -> None:
    answers: list[int] = []

    def read() -> None:
        with httpx.Client(base_url=site.url, timeout=30) as client:
            answers.append(client.get("/api/trending").status_code)

    readers = [threading.Thread(target=read) for _ in range(THREADS + QUEUE)]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join(timeout=60)
    assert answers == [200] * (THREADS + QUEUE)


def test_an_answered_request_leaves_the_count_while_its_background_task_runs(
    tmp_path: Path,
) -> None:
    """A paper page is answered first, then asks for the paper's picture (a write, here held
    by another process's lock): the next request on the same connection is not refused as
    though the first still waited, with a worker that admits one request at a time."""
    data_dir = tmp_path / "data"
    settings = Settings(data_dir=data_dir)
    store = Store.open(settings.resolved_database_url)
    source = write_snapshot(tmp_path / "papers.jsonl", 2, seed=3)
    ingest_paths(store, [source], settings=settings, options=IngestOptions(fmt="arxiv-snapshot"))
    paper_id = store.list_papers(limit=1)[0].id
    store.close()
    env = {"PAPERTIDE_SERVE__QUEUE": "0"}
    answers: list[int] = []
    with (
        live_site(data_dir, "--workers", "1", "--threads", "1", env=env) as one,
        httpx.Client(base_url=one.url, timeout=60) as client,
    ):
        assert client.get("/healthz").status_code == 200
        with _write_locked(data_dir):
            page = client.get(f"/papers/{paper_id}")  # its picture wish now waits
            assert page.status_code == 200
            follower = threading.Thread(
                target=lambda: answers.append(client.get("/api/trending").status_code)
            )
            follower.start()
            time.sleep(1.0)  # admitted, waiting for the thread the wish holds
        follower.join(timeout=60)
    assert answers == [200]
