"""What the benchmarks that run a real server share: a database of their own, `papertide
serve` on a free loopback port (stopped with SIGTERM afterwards), and waiting for it to
answer."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from papertide.bench.output import BenchFailed
from papertide.config import Settings
from papertide.store.scratch import scratch_database

if TYPE_CHECKING:
    from fastapi.testclient import TestClient


@contextlib.contextmanager
def scratch_run(base: Settings, prefix: str, sqlite_name: str) -> Iterator[tuple[Settings, Path]]:
    """A temporary folder, and ``base`` on an empty database of the run's own: a scratch
    database on the PostgreSQL server that base.database_url names (dropped afterwards),
    else a new SQLite file ``sqlite_name`` in the folder."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        folder = Path(tmp)
        if base.database_url:
            with scratch_database(base.database_url) as url:
                yield base.model_copy(update={"database_url": url}), folder
        else:
            url = f"sqlite:///{folder / sqlite_name}"
            yield base.model_copy(update={"database_url": url}), folder


@contextlib.contextmanager
def serve_process(
    settings: Settings,
    *,
    workers: int = 1,
    env: dict[str, str] | None = None,
    timings: dict[str, float] | None = None,
) -> Iterator[tuple[httpx.Client, int]]:
    """`papertide serve` over ``settings``' data folder and database; yields a client
    on its address and the server's pid. ``timings``, when given, gets ``started`` (the
    perf_counter just before the process was started) and, once it has ended, ``stop``
    (seconds from SIGTERM until it exited)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    environment = {
        **os.environ,
        "PAPERTIDE_DATA_DIR": str(settings.data_dir),
        "PAPERTIDE_DATABASE_URL": settings.resolved_database_url,
        **search_environment(settings),
        **(env or {}),
    }
    argv = [sys.executable, "-m", "papertide", "serve", "--port", str(port)]
    argv += ["--workers", str(workers)]
    started = time.perf_counter()
    process = subprocess.Popen(
        argv, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
    if timings is not None:
        timings["started"] = started
    try:
        yield client, process.pid
    finally:
        client.close()
        stopping = time.perf_counter()
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if timings is not None:
            timings["stop"] = time.perf_counter() - stopping


def search_environment(settings: Settings) -> dict[str, str]:
    """The search settings that differ from the defaults, as the server reads them from its
    environment (PAPERTIDE_SEARCH__FIELD): without them a server over a pgvector node's
    folder ran with the local backend, and rebuilt the whole index with local vectors."""
    changed = settings.search.model_dump(mode="json", exclude_defaults=True)
    return {
        f"PAPERTIDE_SEARCH__{name.upper()}": value if isinstance(value, str) else json.dumps(value)
        for name, value in changed.items()
    }


def index_ready(server: httpx.Client | TestClient) -> bool:
    """Caught up, and with its HNSW graph: a new node answers searches exactly while the
    graph builds in the background, which is not the steady state the benches measure."""
    index = server.get("/healthz").json()["index"]
    return bool(index["ready"]) and index["lag"] == 0 and bool(index["graph"])


def wait_until(
    check: Callable[[], object],
    timeout: float,
    *,
    pause: float = 0.1,
    message: str = "timed out",
    tolerate: tuple[type[Exception], ...] = (httpx.HTTPError,),
) -> None:
    """Poll ``check`` until it is true (errors in ``tolerate`` count as not yet), else
    raise BenchFailed with ``message`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(*tolerate):
            if check():
                return
        if time.monotonic() > deadline:
            raise BenchFailed(f"{message} after {timeout:.0f} s")
        time.sleep(pause)


def caught_up(client: httpx.Client, workers: int) -> bool:
    """/healthz: the index ready, no changes left to apply, no build under way, and as many
    workers reporting as serve runs. Asked on a new connection each time, so that any
    worker may answer (as behind a load balancer)."""
    index = httpx.get(f"{client.base_url}/healthz", timeout=30).json()["index"]
    each = index.get("workers", [])
    return (
        bool(index["ready"])
        and index["lag"] == 0
        and not index["building"]
        and len(each) == workers
    )
