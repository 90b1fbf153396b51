"""A real `papertide serve` on a free loopback port, for tests of what lives in the server
(uvicorn's handling of bodies, headers and connections)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

START_SECONDS = 180  # a loaded machine (load average 30 on 2 cores) took over 60 s for 2 workers


@dataclass(frozen=True, slots=True)
class LiveSite:
    """A running server: its address, its process and its log."""

    url: str
    host: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    def rss_kb(self) -> int:
        """The server process's resident memory (Linux /proc)."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def live_site(
    data_dir: Path, *args: str, env: dict[str, str] | None = None, port: int | None = None
) -> Iterator[LiveSite]:
    """`papertide serve` over ``data_dir`` (SQLite) until the block ends."""
    environ = {**os.environ, "PAPERTIDE_DATA_DIR": str(data_dir), **(env or {})}
    environ.pop("PAPERTIDE_DATABASE_URL", None)
    log = data_dir.parent / f"serve-{time.monotonic_ns()}.log"
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    port = port or _free_port()
    command = [sys.executable, "-m", "papertide", "serve", "--host", "127.0.0.1"]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*command, "--port", str(port), *args], env=environ, stdout=out, stderr=out
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"serve exited {proc.returncode}:\n{log.read_text()}")
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code < 500:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"serve did not answer:\n{log.read_text()}")
            time.sleep(0.1)
        yield LiveSite(url=url, host="127.0.0.1", port=port, proc=proc, log=log)
    finally:
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
