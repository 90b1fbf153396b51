"""Overload is shed, not queued, through a real `papertide serve`: past its threads and its
queue, or past the longest wait it admits a request to, a worker answers 503 with
Retry-After at once, while /healthz, /metrics and static files never wait behind the
requests that fill it.

Slow requests here are real ones: failed logins that must write (the failed-login count)
while another process holds SQLite's write lock, so each holds one of the worker's threads
until the lock is let go.
"""

from __future__ import annotations

import socket
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
    """One worker with 2 threads and a queue of 2: four requests fill it (whatever their
    wait: these tests are about the count)."""
    env = {
        "PAPERTIDE_SERVE__QUEUE": str(QUEUE),
        "PAPERTIDE_SERVE__MAX_WAIT_SECONDS": "600",
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


def _hammer(
    url: str, *, clients: int, answers_at_least: int
) -> list[tuple[int, float, str | None]]:
    """``clients`` closed-loop clients asking for a paper that is not there, for 3 s and
    until ``answers_at_least`` answers came (at most a minute: a slow machine takes longer,
    never fewer answers): (status, seconds, Retry-After) of every answer. Each is a read of
    the store in one of the worker's threads, a few milliseconds."""
    answers: list[tuple[int, float, str | None]] = []
    started_at = time.monotonic()

    def going() -> bool:
        elapsed = time.monotonic() - started_at
        return elapsed < 60 and (elapsed < 3 or len(answers) < answers_at_least)

    def client() -> None:
        with httpx.Client(base_url=url, timeout=60) as http:
            while going():
                started = time.perf_counter()
                answer = http.get("/api/papers/2401.99999")
                took = time.perf_counter() - started
                answers.append((answer.status_code, took, answer.headers.get("Retry-After")))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return answers


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def test_a_worker_refuses_a_request_that_would_wait_too_long_though_its_queue_has_room(
    tmp_path: Path,
) -> None:
    """One thread and a queue of 64: 24 clients fit in the queue, but a newcomer behind 23
    requests of a millisecond or more would wait longer than the 0.01 s allowed. Once the
    worker knows its pace (some dozens of answers), it refuses enough of them that the ones
    it accepts wait less than the same clients wait on a worker that admits any wait."""
    runs = {}
    for max_wait in ("0.01", "600"):
        env = {"PAPERTIDE_SERVE__QUEUE": "64", "PAPERTIDE_SERVE__MAX_WAIT_SECONDS": max_wait}
        folder = tmp_path / f"wait-{max_wait}" / "data"
        with live_site(folder, "--workers", "1", "--threads", "1", env=env) as one:
            runs[max_wait] = _hammer(one.url, clients=24, answers_at_least=400)

    bounded, unbounded = runs["0.01"], runs["600"]
    assert {status for status, _, _ in unbounded} == {404}, "24 clients fit in the queue"
    assert len(unbounded) >= 400 and len(bounded) >= 400, "too few answers in a minute"
    refused = [(took, retry) for status, took, retry in bounded if status == 503]
    accepted = [took for status, took, _ in bounded if status == 404]
    assert {status for status, _, _ in bounded} == {404, 503}
    assert {retry for _, retry in refused} == {"1"}
    assert max(took for took, _ in refused) < 1.0  # refused at once, not after a wait
    assert _median(accepted) < _median([took for _, took, _ in unbounded])


def _unfinished_post(site: LiveSite) -> socket.socket:
    """A POST whose body never comes: admitted, counted in progress, holding no thread (the
    body is read before the endpoint runs)."""
    sock = socket.create_connection((site.host, site.port), timeout=30)
    head = (
        "POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded"
        "\r\nContent-Length: 100\r\n\r\nusername="
    )
    sock.sendall(head.encode())
    return sock


def test_clients_sending_their_bodies_slowly_never_fill_a_worker(tmp_path: Path) -> None:
    """A request takes its place in the count once its body is in: ten clients that send
    the start of a body and then nothing hold no thread, and a worker that admits two
    requests at a time goes on answering everyone else at once (before, they filled it,
    and every other request was refused until the body timeout)."""
    env = {"PAPERTIDE_SERVE__QUEUE": "1"}
    folder = tmp_path / "data"
    with live_site(folder, "--workers", "1", "--threads", "1", env=env) as one:
        shed_before = _shed_total(one.url)
        slow = [_unfinished_post(one) for _ in range(10)]
        try:
            deadline = time.monotonic() + 20
            while _in_flight(one.url) < 3:  # + this scrape: at least as many as the worker admits
                assert time.monotonic() < deadline, "the slow bodies never arrived"
                time.sleep(0.05)
            with httpx.Client(base_url=one.url, timeout=30) as client:
                answers = [client.get(path) for path in ("/", "/api/trending", "/trending") * 3]
            assert [a.status_code for a in answers] == [200] * 9
            assert _shed_total(one.url) == shed_before
        finally:
            for sock in slow:
                sock.close()
