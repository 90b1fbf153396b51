"""`serve --workers 2` spreads a burst of keep-alive connections over its workers: each
listens on a socket of its own (SO_REUSEPORT), so a worker that is free when the burst
comes does not take it all and leave the other idle for as long as the connections last;
and the socket `serve` answered on while starting is closed once every worker listens, so
no connection waits on a socket nobody accepts from."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from papertide.bench.synth import write_snapshot
from papertide.config import Settings
from papertide.ingest import IngestOptions, ingest_paths
from papertide.store import Store
from tests.support.live_server import live_site

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads /proc; Linux balances reused ports"
)
CONNECTIONS = 40


def _sockets_on(port: int, state: str) -> set[str]:
    """Inodes of the TCP sockets on local ``port`` in ``state`` (01 established, 0A listen)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == state:
                inodes.add(fields[9])
    return inodes


def _held_by(pid: int, inodes: set[str]) -> int:
    held = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = str(fd.readlink())
        except OSError:
            continue
        held += target.startswith("socket:[") and target[8:-1] in inodes
    return held


def _burst(port: int) -> list[socket.socket]:
    """CONNECTIONS connections opened at once, as a load generator or a browser opens them:
    all waiting to be accepted together."""
    burst = []
    for _ in range(CONNECTIONS):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", port))
        burst.append(sock)
    for sock in burst:
        sock.setblocking(True)
        sock.settimeout(10)
    return burst


def _served(sock: socket.socket) -> None:
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(65536)
        assert chunk, "connection closed"
        answer += chunk
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]


def _workers(url: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (
        httpx.get(url + "/healthz", timeout=10).json()["index"].get("workers", [])
    )
    return found


def test_a_burst_of_connections_is_spread_over_the_workers(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    settings = Settings(data_dir=data_dir)
    store = Store.open(settings.resolved_database_url)
    source = write_snapshot(tmp_path / "papers.jsonl", 20, seed=1)
    ingest_paths(store, [source], settings=settings, options=IngestOptions(fmt="arxiv-snapshot"))
    store.close()
    with live_site(data_dir, "--workers", "2") as site:
        deadline = time.monotonic() + 120
        while len(workers := _workers(site.url)) < 2 or not all(w["ready"] for w in workers):
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.2)
        time.sleep(0.5)  # the starting listener closes within a poll of the last worker
        listening = _sockets_on(site.port, "0A")
        assert _held_by(site.proc.pid, listening) == 0  # serve's own socket: closed
        assert all(_held_by(w["pid"], listening) == 1 for w in workers)  # one each
        # One worker busy at the moment the burst comes (held for it): with one shared
        # socket the other accepted every connection; with a socket each, those the kernel
        # gave the held worker wait for it.
        held = workers[0]["pid"]
        os.kill(held, signal.SIGSTOP)
        try:
            burst = _burst(site.port)
            time.sleep(0.5)
        finally:
            os.kill(held, signal.SIGCONT)
        try:
            for sock in burst:
                _served(sock)
            established = _sockets_on(site.port, "01")
            counts = [_held_by(w["pid"], established) for w in workers]
            assert sum(counts) == CONNECTIONS
            # Even by a hash of the client's port: 20 each give or take, never one worker
            # holding nearly all (with one shared socket a burst went 57 to 7).
            assert min(counts) >= CONNECTIONS // 5, counts
        finally:
            for sock in burst:
                sock.close()
