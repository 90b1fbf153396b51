"""`papertide bench catchup`: after an import killed just past its commit, does "caught up"
on /healthz mean that every worker of `papertide serve --workers N` finds every stored paper?

One store and one server for the whole run. Each repeat imports new generated papers with a
real `papertide ingest` and SIGKILLs it once its transaction is visible in the store (the
kill point is read from the store, not timed, so it lands at the same place however loaded
the machine is): at once, or later, once embeddings of the new papers are being stored
(the index is being written). Then it waits until /healthz reports the index ready, lag 0
and no build, and searches every stored paper's exact title as a phrase (BM25) through
one kept-alive connection to each worker (a connection is matched to the worker that
accepted it through /proc), counting the papers a worker did not find.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import httpx

from papertide.bench.output import BenchFailed, Echo
from papertide.bench.server import (
    caught_up,
    scratch_run,
    search_environment,
    serve_process,
    wait_until,
)
from papertide.bench.synth import SnapshotGenerator
from papertide.config import Settings
from papertide.ingest import IngestOptions, ingest_paths
from papertide.search import SearchService
from papertide.store import Store

KILL_POINTS = ("committed", "indexing")
CATCH_UP_SECONDS = 600.0


@dataclass(slots=True)
class Repeat:
    """What one repeat saw: where the import was killed, how long the catch-up took, and
    the papers each worker (by pid) did not find."""

    kill_point: str
    killed: bool  # False: the import had finished before the kill point was reached
    stored: int = 0
    catch_up_seconds: float = 0.0
    check_seconds: float = 0.0
    missed: dict[int, list[str]] = field(default_factory=dict)

    @property
    def misses(self) -> int:
        """Papers missed, counted once per worker that missed them."""
        return sum(len(titles) for titles in self.missed.values())


def run_bench_catchup(
    base: Settings, *, papers: int, added: int, repeats: int, workers: int, echo: Echo
) -> list[Repeat]:
    """The kill-after-commit scenario ``repeats`` times (see the module docstring)."""
    with scratch_run(base, "papertide-bench-catchup-", "catchup.db") as (settings, folder):
        settings = settings.model_copy(update={"data_dir": folder / "data"})
        done = repeat_kill_after_commit(
            settings,
            folder,
            papers=papers,
            added=added,
            repeats=repeats,
            workers=workers,
            echo=echo,
        )
    missed = sum(r.misses for r in done)
    killed = sum(r.killed for r in done)
    catch_up = sorted(r.catch_up_seconds for r in done)
    echo(
        f"[bold]{missed} stored papers missed by exact title[/] in {len(done)} repeats "
        f"({killed} imports killed after their commit, {workers} workers, "
        f"{done[-1].stored if done else 0:,} papers at the end); catch-up after the kill: "
        f"median {catch_up[len(catch_up) // 2]:.1f} s, max {catch_up[-1]:.1f} s",
        highlight=False,
    )
    return done


def repeat_kill_after_commit(
    settings: Settings,
    folder: Path,
    *,
    papers: int,
    added: int,
    repeats: int,
    workers: int = 2,
    echo: Echo | None = None,
) -> list[Repeat]:
    """Store ``papers``, serve them with ``workers`` workers, then ``repeats`` times: import
    ``added`` more, kill the import after its commit, wait for /healthz to say caught up
    and search every stored paper's title on every worker."""
    store = Store.open(settings.resolved_database_url)
    try:
        source = _write_papers(folder / "papers-0.jsonl", papers, start=0)
        ingest_paths(
            store, [source], settings=settings, options=IngestOptions(fmt="arxiv-snapshot")
        )
        SearchService.open(settings, store).close()  # serve starts on a built index
        done: list[Repeat] = []
        with serve_process(settings, workers=workers) as (client, _):
            wait_until(lambda: caught_up(client, workers), CATCH_UP_SECONDS, message="serve")
            for number in range(1, repeats + 1):
                kill_point = KILL_POINTS[(number - 1) % len(KILL_POINTS)]
                repeat = _one_repeat(
                    settings, folder, store, client, number, added, kill_point, workers
                )
                done.append(repeat)
                if echo is not None:
                    echo(_describe(number, repeat), highlight=False)
        return done
    finally:
        store.close()


def _one_repeat(
    settings: Settings,
    folder: Path,
    store: Store,
    client: httpx.Client,
    number: int,
    added: int,
    kill_point: str,
    workers: int,
) -> Repeat:
    start = store.count_papers()
    source = _write_papers(folder / f"papers-{number}.jsonl", added, start=start)
    killed = _import_and_kill(settings, store, source, kill_point)
    repeat = Repeat(kill_point, killed)
    started = time.perf_counter()
    wait_until(lambda: caught_up(client, workers), CATCH_UP_SECONDS, message="catching up")
    repeat.catch_up_seconds = time.perf_counter() - started
    # Newest first: the papers a worker still on an older index would miss are searched
    # while such a worker would still be on it.
    titles = [p.title for batch in store.iter_papers() for p in batch][::-1]
    repeat.stored = len(titles)
    pids = [w["pid"] for w in client.get("/healthz").json()["index"]["workers"]]
    started = time.perf_counter()
    repeat.missed = check_titles_on_each_worker(client.base_url.port or 80, pids, titles)
    repeat.check_seconds = time.perf_counter() - started
    return repeat


def _import_and_kill(settings: Settings, store: Store, source: Path, kill_point: str) -> bool:
    """Run `papertide ingest` on ``source`` and SIGKILL it at ``kill_point``, read from the
    store: its papers visible ("committed"), or embeddings of them being stored
    ("indexing"). False when the import ended before that point."""
    before = store.max_paper_pk()
    environment = {
        **os.environ,
        "PAPERTIDE_DATA_DIR": str(settings.data_dir),
        "PAPERTIDE_DATABASE_URL": settings.resolved_database_url,
        **search_environment(settings),
    }
    argv = [sys.executable, "-m", "papertide", "ingest", str(source), "--format"]
    process = subprocess.Popen(
        [*argv, "arxiv-snapshot", "--quiet"],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while store.max_paper_pk() == before:  # one transaction: all its papers or none
            if process.poll() is not None:
                raise BenchFailed(f"the import ended ({process.returncode}) storing nothing")
            time.sleep(0.005)
        if kill_point == "indexing":
            first_new = list(range(before + 1, before + 51))
            model = settings.search.embedder
            while not store.load_embeddings(first_new, model=model):
                if process.poll() is not None:
                    return False
                time.sleep(0.005)
        if process.poll() is not None:
            return False
        process.send_signal(signal.SIGKILL)
        return True
    finally:
        process.wait(60)


def check_titles_on_each_worker(
    port: int, pids: list[int], titles: list[str]
) -> dict[int, list[str]]:
    """Search each title as a phrase through a connection to each worker in ``pids`` (in
    parallel, one thread a worker); the titles each did not find, by pid."""
    missed: dict[int, list[str]] = {}
    with connections_to_workers(port, pids) as connections:
        threads = [
            threading.Thread(target=_check, args=(conn, titles, missed.setdefault(pid, [])))
            for pid, conn in connections.items()
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return missed


def _check(conn: http.client.HTTPConnection, titles: list[str], missed: list[str]) -> None:
    for title in titles:
        phrase = '"' + title.replace('"', " ") + '"'
        conn.request("GET", "/api/search?" + urlencode({"q": phrase, "mode": "bm25"}))
        answer = conn.getresponse()
        body = answer.read()
        if answer.status != 200:
            raise BenchFailed(f"/api/search answered {answer.status}: {body[:200]!r}")
        if not any(p["title"] == title for p in json.loads(body)["papers"]):
            missed.append(title)


@contextlib.contextmanager
def connections_to_workers(
    port: int, pids: list[int], *, tries: int = 64
) -> Iterator[dict[int, http.client.HTTPConnection]]:
    """One kept-alive HTTP connection to each worker in ``pids``: connections are opened
    until each worker has accepted one (which worker did is read from /proc)."""
    kept: dict[int, http.client.HTTPConnection] = {}
    opened: list[http.client.HTTPConnection] = []
    try:
        for _ in range(tries):
            if len(kept) == len(pids):
                break
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            opened.append(conn)
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            assert conn.sock is not None
            owner = worker_of(conn.sock.getsockname()[1], port, pids)
            if owner is not None and owner not in kept:
                kept[owner] = conn
        if len(kept) < len(pids):
            raise BenchFailed(f"{tries} connections reached workers {sorted(kept)} of {pids}")
        yield kept
    finally:
        for conn in opened:
            conn.close()


def worker_of(client_port: int, server_port: int, pids: list[int]) -> int | None:
    """The pid (of ``pids``) holding the server's end of the loopback connection from
    ``client_port`` (Linux: /proc/net/tcp names the socket, /proc/PID/fd its holder)."""
    inode = None
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError):
            for line in Path(table).read_text().splitlines()[1:]:
                parts = line.split()
                local, remote = parts[1], parts[2]
                if int(local.rsplit(":", 1)[1], 16) == server_port and (
                    int(remote.rsplit(":", 1)[1], 16) == client_port
                ):
                    inode = parts[9]
    if inode is None:
        return None
    wanted = f"socket:[{inode}]"
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    if str(fd.readlink()) == wanted:
                        return pid
    return None


def _write_papers(path: Path, count: int, *, start: int) -> Path:
    """Generated papers ``start`` to ``start + count``: new arXiv ids, new titles."""
    with path.open("wb") as out:
        out.writelines(SnapshotGenerator(seed=start).lines(count, start=start))
    return path


def _describe(number: int, repeat: Repeat) -> str:
    how = f"killed at '{repeat.kill_point}'" if repeat.killed else "finished before the kill"
    each = ", ".join(f"{len(t)}" for t in repeat.missed.values())
    return (
        f"repeat {number}: import {how}; caught up in {repeat.catch_up_seconds:.1f} s; "
        f"{repeat.stored:,} titles searched on each of {len(repeat.missed)} workers in "
        f"{repeat.check_seconds:.1f} s; missed {repeat.misses} ({each})"
    )
