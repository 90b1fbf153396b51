"""A `papertide serve` process for the tests of its life cycle: started without waiting for
it to be ready (what it answers meanwhile is what these tests look at), its log at hand,
and stopped with SIGTERM and timed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from papertide.config import Settings


@dataclass(frozen=True, slots=True)
class Serving:
    """A started `serve`: its address, process and log file."""

    url: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        """Everything the process has written so far."""
        return self.log.read_text(errors="replace")

    def get(self, path: str, **options: object) -> httpx.Response:
        """One request on a connection of its own."""
        return httpx.get(self.url + path, timeout=30, **options)  # type: ignore[arg-type]

    def wait_for(self, check: object, seconds: float, what: str) -> object:
        """Call ``check`` until it returns something true (a refused connection counts as no)."""
        deadline = time.monotonic() + seconds
        while True:
            assert self.proc.poll() is None, f"serve exited {self.proc.returncode}:\n{self.text()}"
            try:
                found = check()  # type: ignore[operator]
            except (httpx.TransportError, OSError):  # not listening (yet)
                found = None
            if found:
                return found
            assert time.monotonic() < deadline, f"{what} not within {seconds} s:\n{self.text()}"
            time.sleep(0.1)

    def terminate(self) -> float:
        """SIGTERM; the seconds it took the process to exit."""
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        return time.monotonic() - started


def free_port() -> int:
    """A port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_process(
    settings: Settings, *args: str, env: dict[str, str] | None = None
) -> Iterator[Serving]:
    """`papertide serve` over ``settings``' data folder and database, until the block ends
    (then SIGTERM, and SIGKILL if that was not enough)."""
    environ = {**os.environ, "PAPERTIDE_DATA_DIR": str(settings.data_dir), **(env or {})}
    environ.pop("PAPERTIDE_DATABASE_URL", None)
    if settings.database_url:
        environ["PAPERTIDE_DATABASE_URL"] = settings.database_url
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    log = settings.data_dir.parent / f"serve-{time.monotonic_ns()}.log"
    port = free_port()
    command = [sys.executable, "-m", "papertide", "serve", "--host", "127.0.0.1"]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*command, "--port", str(port), *args], env=environ, stdout=out, stderr=out
        )
    try:
        yield Serving(url=f"http://127.0.0.1:{port}", port=port, proc=proc, log=log)
    finally:
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
