"""A PostgreSQL server of a test's own (scripts/services.sh with its own folder and port),
which the test may restart or stop with pg_ctl without touching the shared test server."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PG_URL

ROOT = Path(__file__).resolve().parents[2]


class PrivateServer:
    """A PostgreSQL server of this test's own, with pg_ctl at hand."""

    def __init__(self, folder: Path) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        env_file = folder / "services.env"
        env = {
            **os.environ,
            "PT_SERVICES_DIR": str(folder),
            "PT_PG_PORT": str(port),
            "ENV_FILE": str(env_file),
            "PT_SKIP_CHROMIUM": "1",
        }
        subprocess.run(
            ["bash", str(ROOT / "scripts" / "services.sh")], env=env, check=True, cwd=ROOT
        )
        values = dict(
            line.removeprefix("export ").split("=", 1)
            for line in env_file.read_text().splitlines()
            if line.startswith("export ")
        )
        self.url = values["PAPERTIDE_TEST_POSTGRES_URL"]
        self.bin, self.data, self.user = (
            values["PT_PG_BIN"],
            values["PT_PG_DATA"],
            values["PT_PG_USER"],
        )

    @property
    def port(self) -> str:
        """The port it listens on."""
        return self.url.rsplit(":", 1)[1].split("/")[0]

    def ctl(self, *args: str) -> None:
        """Run pg_ctl on its data folder (as the server's user)."""
        command = [f"{self.bin}/pg_ctl", "-D", self.data, *args]
        if self.user and os.getuid() == 0:
            command = ["runuser", "-u", self.user, "--", *command]
        # The server must not hold our pipes open: its output goes to the log file.
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, timeout=60)

    def start(self) -> None:
        """Start it again after a stop (on its port, listening on loopback only)."""
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.data}"
        self.ctl("start", "-w", "-l", f"{self.data}/server.log", "-o", options)

    def restart(self) -> None:
        """A fast restart: sessions are ended, new connections refused until it is back."""
        self.ctl("restart", "-m", "fast", "-w", "-l", f"{self.data}/server.log")


@contextlib.contextmanager
def private_server() -> Iterator[PrivateServer]:
    """A PostgreSQL server of the test's own until the block ends, then removed (skipped
    without PostgreSQL's binaries, as the tests of the shared server are)."""
    if not PG_URL:
        if os.environ.get("CI"):
            pytest.fail("CI needs PostgreSQL: run `make services` (scripts/services.sh)")
        pytest.skip("no PostgreSQL: run `make services`")
    # Outside pytest's tmp folders (mode 0700): the server runs as an unprivileged user.
    folder = Path(tempfile.mkdtemp(prefix="papertide-pg-"))
    folder.chmod(0o777)
    try:
        server = PrivateServer(folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    try:
        yield server
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # stopped already
            server.ctl("stop", "-m", "immediate")
        shutil.rmtree(folder, ignore_errors=True)
