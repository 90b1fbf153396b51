"""The long-running commands as real processes: `papertide demo`, `serve --workers N` and
`worker` with sync on (the recorded services on a loopback server)."""

from __future__ import annotations

import signal
import socket
import time
from pathlib import Path

import httpx
from sqlalchemy import func, select

from papertide.config import Settings
from papertide.store import Store
from papertide.store.schema import users, votes
from tests.support.fixture_server import FixtureServer
from tests.support.processes import (
    _finish,
    _index_holds_every_paper,
    _papertide,
    _slow_services,
    _sync_env,
)


def _count(store: Store, table: object) -> int:
    with store.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(table)) or 0)  # type: ignore[arg-type]


def test_demo_imports_the_samples_with_votes_and_a_rerun_changes_nothing(
    settings: Settings,
) -> None:
    first = _finish(_papertide(settings, "demo"))
    assert "216 added" in first, first
    store = Store.open(settings.resolved_database_url)
    try:
        cast = _count(store, votes)
        assert f"Sample votes: {cast:,} votes from 12 demo readers." in first
        assert _count(store, users) == 12 and cast > 12
        voted = [p for p in store.list_papers(limit=1000) if p.site_votes]
        assert sum(p.site_votes for p in voted) == cast  # counters equal vote rows
        again = _finish(_papertide(settings, "demo"))
        assert "0 added" in again and "216 unchanged" in again, again
        assert (store.count_papers(), _count(store, votes), _count(store, users)) == (
            216,
            cast,
            12,
        )
    finally:
        store.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _children(pid: int) -> list[int]:
    """The worker processes uvicorn spawned (not multiprocessing's resource tracker)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    found = [int(c) for c in path.read_text().split()] if path.exists() else []
    return [c for c in found if b"spawn_main" in _cmdline(c)]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _until(check: object, timeout: float = 90.0) -> object:
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = check()  # type: ignore[operator]
        except httpx.HTTPError:
            found = None
        if found:
            return found
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_serve_with_two_workers_shares_one_store_and_dies_with_its_parent(
    settings: Settings, seeds: list[Path]
) -> None:
    """Two worker processes answer on one port; a vote through one shows through every
    request; SIGKILL of `serve` makes both workers stop, so the port is free again."""
    _finish(_papertide(settings, "ingest", str(seeds[0]), "-q"))  # one capture is enough
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    serve = _papertide(settings, "serve", "--port", str(port), "--workers", "2")
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            health = _until(lambda: client.get("/healthz").json()["index"]["lag"] == 0)
            assert health
            workers = _until(lambda: len(_children(serve.pid)) == 2 and _children(serve.pid))
            pids = {int(p) for p in workers}  # type: ignore[union-attr]
            assert len(pids) == 2, pids
            client.get("/login")
            token = client.cookies["pt_csrf"]
            form = {"username": "ada", "password": "analytical engine", "csrf_token": token}
            assert client.post("/register", data=form).status_code == 303  # signed in
            # The session's own token (a worker that did not sign ada in checks it too).
            headers = {"X-CSRF-Token": client.cookies["pt_csrf"], "Origin": url}
            paper = client.get("/api/daily").json()["papers"][0]["id"]
            vote = client.post(f"/api/papers/{paper}/vote", headers=headers)
            assert vote.json() == {"votes": 1, "voted": True}
            # Every later request sees it, whichever worker answers (caches follow the store).
            seen = _until(
                lambda: all(
                    client.get(f"/api/papers/{paper}").json()["site_votes"] == 1 for _ in range(12)
                )
            )
            assert seen
        serve.send_signal(signal.SIGKILL)
        serve.wait()

        def gone() -> bool:
            return all(not Path(f"/proc/{pid}").exists() for pid in pids)

        assert _until(gone, timeout=30)
        with socket.socket() as sock:
            # Free for a restart, which binds as serve does (SO_REUSEADDR: connections the
            # server closed may linger in TIME_WAIT, which only a listener would block).
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", port))
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()


def _indexed_all(settings: Settings, store: Store) -> bool:
    from papertide.search import SearchService

    if store.count_papers() < 8:  # both recorded sources
        return False
    svc = SearchService.open(settings, store, catch_up=False)
    try:
        return bool(svc.ready and svc.lexical.num_docs() == store.count_papers())
    finally:
        svc.close()


def test_worker_with_sync_on_fetches_indexes_and_stops_on_sigterm(
    any_settings: Settings, any_store: Store
) -> None:
    import random

    from papertide.clock import utcnow
    from papertide.store import outbox
    from tests.support.smtp_server import add_subscriber

    add_subscriber(any_store, "ada@example.org", now=utcnow(), categories=["cs.CL"])
    with FixtureServer() as server:
        server.handler = _slow_services(random.Random(3))  # type: ignore[assignment]
        worker = _papertide(
            any_settings, "worker", PAPERTIDE_MAIL__SMTP_PORT="9", **_sync_env(server)
        )
        try:
            # The worker syncs at once, and indexes what it stored (no other process here).
            _until(lambda: _indexed_all(any_settings, any_store), timeout=180)
            assert {seen.path for seen in server.requests} == {"/api/query", "/oai"}
            assert any_store.get_paper("2411.00001") is not None  # OAI page 1
            # Then its digests job: the recorded papers are weeks old, so ada's digest is
            # empty (kept as such, never sent).
            _until(lambda: outbox.outbox_counts(any_store) == {"empty": 1}, timeout=120)
        finally:
            worker.send_signal(signal.SIGTERM)
            out, err = worker.communicate(timeout=120)
    assert worker.returncode == 0, err[-2000:]
    assert "worker stopped (signal 15)" in out, out
    assert "composed 0, empty (not sent) 1" in out and "sent 0" in out, out
    _index_holds_every_paper(any_settings, any_store).close()
