"""A database restart costs no request beyond those in flight (pooled connections are
checked before use), and while the database is down every page answers 503 with
Retry-After, never a 500. Runs a private PostgreSQL server (scripts/services.sh with its
own folder and port), so stopping it touches no other test."""

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

from papertide.config import Settings
from papertide.ingest import ingest_paths
from papertide.store import Store
from papertide.web import create_app
from tests.conftest import PG_URL, SEEDS, serving

pytestmark = pytest.mark.postgres
ROOT = Path(__file__).resolve().parents[1]


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

    def ctl(self, *args: str) -> None:
        command = [f"{self.bin}/pg_ctl", "-D", self.data, *args]
        if self.user and os.getuid() == 0:
            command = ["runuser", "-u", self.user, "--", *command]
        # The server must not hold our pipes open: its output goes to the log file.
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, timeout=60)


@pytest.fixture
def private_pg(tmp_path: Path) -> Iterator[PrivateServer]:
    if not PG_URL:
        if os.environ.get("CI"):
            pytest.fail("CI needs PostgreSQL: run `make services` (scripts/services.sh)")
        pytest.skip("no PostgreSQL: run `make services`")
    # Outside pytest's tmp folders (mode 0700): the server runs as an unprivileged user.
    folder = Path(tempfile.mkdtemp(prefix="papertide-pg-"))
    folder.chmod(0o777)
    server = PrivateServer(folder)
    yield server
    with contextlib.suppress(subprocess.CalledProcessError):  # stopped already
        server.ctl("stop", "-m", "immediate")
    shutil.rmtree(folder, ignore_errors=True)


def test_a_restart_costs_no_request_and_down_means_503(
    private_pg: PrivateServer, tmp_path: Path
) -> None:
    # No page cache: it would rightly serve a kept page for a moment after the database
    # went away, and this test is about what the database's absence does.
    settings = Settings(
        data_dir=tmp_path / "data", database_url=private_pg.url, page_cache_seconds=0
    )
    store = Store.open(settings.resolved_database_url)
    ingest_paths(store, SEEDS, settings=settings)
    store.close()
    with serving(create_app(settings)) as client:
        for path in ("/", "/api/daily", "/trending"):
            assert client.get(path).status_code == 200
        private_pg.ctl("restart", "-m", "fast", "-w", "-l", f"{private_pg.data}/server.log")
        for path in ("/", "/api/daily", "/trending", "/healthz"):  # pooled connections died
            assert client.get(path).status_code == 200, path
        private_pg.ctl("stop", "-m", "fast", "-w")
        page = client.get("/")
        assert page.status_code == 503 and page.headers.get("retry-after")
        assert "text/html" in page.headers["content-type"] and "Traceback" not in page.text
        api = client.get("/api/daily")
        assert api.status_code == 503 and api.json()["status"] == 503
        health = client.get("/healthz")
        assert health.status_code == 503 and health.json()["ok"] is False
        port = private_pg.url.rsplit(":", 1)[1].split("/")[0]
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {private_pg.data}"
        private_pg.ctl("start", "-w", "-l", f"{private_pg.data}/server.log", "-o", options)
        assert client.get("/").status_code == 200
