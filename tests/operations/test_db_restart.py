"""A database restart costs no request beyond those in flight (pooled connections are
checked before use), and while the database is down every page answers 503 with
Retry-After, never a 500. Neither test stops the shared test server: one runs a private
PostgreSQL server (scripts/services.sh with its own folder and port) and restarts and stops
it; the other reaches the shared server through a TCP proxy and restarts and stops that."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from papertide.config import Settings
from papertide.ingest import ingest_paths
from papertide.store import Store
from papertide.web import create_app
from tests.conftest import PG_URL, SEEDS, serving
from tests.support.private_pg import PrivateServer

pytestmark = pytest.mark.postgres


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
        private_pg.restart()
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
        private_pg.start()
        assert client.get("/").status_code == 200


@pytest.mark.postgres
def test_a_database_restart_costs_no_request_and_down_is_a_clean_503(tmp_path: Path) -> None:
    """After a restart pooled dead connections cost no request, and with the database down
    every page is a 503, not a 500 (both were once 500s). The database is reached through a
    TCP proxy here, so the shared test server itself is never restarted."""
    from sqlalchemy.engine import make_url

    from tests.conftest import _reset_postgres
    from tests.support.tcp_proxy import TcpProxy

    if not PG_URL:
        pytest.skip("no PostgreSQL: run `make services`")
    url = make_url(PG_URL)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    database = url.set(port=proxy.port, database=f"pt_restart_{os.getpid()}")
    try:
        _create_database(PG_URL, database.database or "")
        _reset_postgres(database.render_as_string(hide_password=False))
        # No page cache: a page it kept would (rightly) still be served for up to 0.25 s
        # after the database went away, and this test is about the database's answers.
        settings = Settings(
            data_dir=tmp_path / "d",
            database_url=database.render_as_string(hide_password=False),
            page_cache_seconds=0,
        )
        with TestClient(create_app(settings)) as client:
            for _ in range(3):
                assert client.get("/").status_code == 200  # connections pooled
            proxy.restart()  # every pooled connection is now dead
            assert client.get("/").status_code == 200
            assert client.get("/api/daily").status_code == 200
            proxy.stop()  # the database is down
            page = client.get("/")
            assert page.status_code == 503 and page.headers["Retry-After"].isdigit()
            assert "<html" in page.text and "Traceback" not in page.text
            api = client.get("/api/daily")
            assert api.status_code == 503 and api.json()["status"] == 503
            health = client.get("/healthz")
            assert health.status_code == 503 and health.json()["status"] == 503
            proxy.start()
            assert client.get("/").status_code == 200
    finally:
        proxy.stop()
        _create_database(PG_URL, database.database or "", create=False)


def _create_database(admin_url: str, name: str, *, create: bool = True) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if create:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
