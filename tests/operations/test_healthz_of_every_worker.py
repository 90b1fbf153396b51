"""/healthz of `serve --workers 2` answers for the slowest worker, and a worker that stops
answering is replaced.

For the slowest worker: while one worker is held (SIGSTOP) and papers are stored, the other
answers every /healthz and has applied them all, yet /healthz reports the held worker's lag,
and "lag 0" only once both have applied them.

The worker is held at a moment it holds no lock of the index folder nor a write lock of the
database: held while reading the index files (a shared folder lock), it would rightly keep
the other from writing them, and no worker could apply the new papers until it went on."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from papertide.bench.synth import write_snapshot
from papertide.config import Settings
from papertide.ingest import IngestOptions, ingest_paths
from papertide.store import Store
from tests.support.live_server import LiveSite, live_site


def _health(url: str) -> dict[str, Any]:
    index: dict[str, Any] = httpx.get(url + "/healthz", timeout=10).json()["index"]
    return index


def _until(check: Callable[[], bool], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _locks_held_by(pid: int) -> list[str]:
    """The file locks ``pid`` holds (Linux /proc/locks; "->" lines are waiters)."""
    lines = Path("/proc/locks").read_text().splitlines()
    return [line for line in lines if "->" not in line and line.split()[4] == str(pid)]


def _stopped(pid: int) -> bool:
    """Whether every thread of ``pid`` is stopped (state T in /proc/PID/task/*/stat)."""
    states = [
        stat.read_text().rsplit(")", 1)[1].split()[0]
        for stat in Path(f"/proc/{pid}/task").glob("*/stat")
    ]
    return bool(states) and all(state == "T" for state in states)


def _hold_between_locks(pid: int, index_folder: Path) -> None:
    """SIGSTOP ``pid`` at a moment it holds neither lock of the index folder (flock) nor a
    database write lock (a POSIX WRITE lock: SQLite's); tried again a little later if not."""
    folder_locks = {f":{(index_folder / name).stat().st_ino} " for name in (".lock", ".build")}
    deadline = time.monotonic() + 60
    while True:
        os.kill(pid, signal.SIGSTOP)
        _until(lambda: _stopped(pid), timeout=10)  # every thread, before its locks are read
        held = [
            line
            for line in _locks_held_by(pid)
            if any(inode in line for inode in folder_locks) or " WRITE " in line
        ]
        if not held:
            return
        os.kill(pid, signal.SIGCONT)
        assert time.monotonic() < deadline, f"worker {pid} never let go of {held}"
        time.sleep(0.1)


def _store_papers(data_dir: Path, count: int, seed: int) -> None:
    settings = Settings(data_dir=data_dir)
    store = Store.open(settings.resolved_database_url)
    try:
        source = write_snapshot(data_dir.parent / f"papers-{seed}.jsonl", count, seed=seed)
        options = IngestOptions(fmt="arxiv-snapshot")
        ingest_paths(store, [source], settings=settings, options=options)
    finally:
        store.close()


@contextmanager
def _two_workers_caught_up(data_dir: Path) -> Iterator[tuple[LiveSite, list[int]]]:
    """`serve --workers 2` over 20 stored papers, once both workers have applied them; the
    site and the workers' pids."""
    _store_papers(data_dir, 20, seed=1)
    # One shared socket: a new connection goes to whichever worker accepts it, so a held
    # worker takes none (with a socket each, its share of connections would wait for it:
    # tests/operations/test_connections_spread_over_workers.py).
    shared = {"PAPERTIDE_SERVE__SOCKET_PER_WORKER": "false"}
    with live_site(data_dir, "--workers", "2", env=shared) as site:
        _until(lambda: len(_health(site.url).get("workers", [])) == 2)
        _until(lambda: _health(site.url)["lag"] == 0)
        yield site, [w["pid"] for w in _health(site.url)["workers"]]


def test_healthz_reports_the_slowest_worker(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with _two_workers_caught_up(data_dir) as (site, pids):
        held, other = pids
        # The supervisor too: it would take a held worker for a hung one and replace it.
        os.kill(site.proc.pid, signal.SIGSTOP)
        try:
            _hold_between_locks(held, data_dir / "index")
            _store_papers(data_dir, 30, seed=2)

            def other_caught_up() -> bool:
                each = {w["pid"]: w for w in _health(site.url)["workers"]}
                return each[other]["lag"] == 0

            _until(other_caught_up)  # the running worker answers every request meanwhile
            index = _health(site.url)
            each = {w["pid"]: w for w in index["workers"]}
            assert each[held]["lag"] > 0
            assert index["lag"] == each[held]["lag"] > 0
        finally:
            os.kill(held, signal.SIGCONT)
            os.kill(site.proc.pid, signal.SIGCONT)
        _until(lambda: _health(site.url)["lag"] == 0)
        index = _health(site.url)
        assert [w["lag"] for w in index["workers"]] == [0, 0]
        assert index["ready"] is True


def test_a_stopped_worker_is_replaced_and_every_worker_applies_new_papers(
    tmp_path: Path,
) -> None:
    """A worker that stops answering (here SIGSTOP; a worker stuck while it reads the index
    files would also keep the others from writing them) is killed and replaced by the
    supervisor, which lets go of whatever it held: papers stored meanwhile reach every
    worker's index, the new one's included."""
    data_dir = tmp_path / "data"
    with _two_workers_caught_up(data_dir) as (site, pids):
        held = pids[0]
        os.kill(held, signal.SIGSTOP)
        _store_papers(data_dir, 30, seed=2)

        def replaced_and_caught_up() -> bool:
            index = _health(site.url)  # the new worker answers "starting" until it is up
            pids = [w["pid"] for w in index.get("workers", [])]
            return len(pids) == 2 and held not in pids and index["lag"] == 0

        _until(replaced_and_caught_up)
        index = _health(site.url)
        assert index["ready"] is True
        assert [w["lag"] for w in index["workers"]] == [0, 0]
        assert not Path(f"/proc/{held}").exists()  # killed and reaped, not left stopped
        assert "died" in site.log.read_text()  # the supervisor's own account of it
