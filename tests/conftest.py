"""Shared fixtures: real stores (a SQLite file; the PostgreSQL server scripts/services.sh
starts), settings pointing at a temporary data folder, and the seed captures."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from papertide.clock import frozen
from papertide.config import Settings
from papertide.models import Paper
from papertide.store import Store

if TYPE_CHECKING:
    from papertide.search import SearchService

SHARED = Path(__file__).resolve().parents[2] / "shared"
SEEDS = sorted((SHARED / "seeds").glob("*.txt"))
SCIFACT = SHARED / "data" / "scifact-dev"
PG_URL = os.environ.get("PAPERTIDE_TEST_POSTGRES_URL")


def page_subject(store: Store, day: date) -> Paper:
    """The paper a capture of ``day`` was opened for: its listing's subject. Every paper of a
    capture is filed under the capture's day (or an earlier capture's, if it was on both)."""
    for paper in store.list_papers(day=day, limit=1000):
        for listed_on, subject, _ in store.listed_with(paper):
            if listed_on == day:
                return subject
    raise AssertionError(f"no capture of {day} in the store")


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A PostgreSQL database of this test process's own, dropped at the end.

    Named after the pid, so concurrent test runs on one server never touch each other's
    tables (one database per xdist worker too).
    """
    assert PG_URL
    name = f"papertide_test_{os.getpid()}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield PG_URL.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _reset_postgres(url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings with a private data folder and SQLite database."""
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings for each backend: SQLite, and PostgreSQL (required in CI, else skipped)."""
    if request.param == "sqlite":
        return Settings(data_dir=tmp_path / "data")
    return Settings(data_dir=tmp_path / "data", database_url=request.getfixturevalue("pg_url"))


@pytest.fixture
def pg_url(request: pytest.FixtureRequest) -> str:
    """This test process's PostgreSQL database, emptied (required in CI, else skipped)."""
    if not PG_URL:
        if os.environ.get("CI"):
            pytest.fail("CI needs PostgreSQL: run `make services` (scripts/services.sh)")
        pytest.skip("no PostgreSQL: run `make services`")
    url: str = request.getfixturevalue("pg_database")
    _reset_postgres(url)
    return url


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    """A migrated SQLite store in a temporary folder."""
    opened = Store.open(settings.resolved_database_url)
    yield opened
    opened.close()


@pytest.fixture
def any_store(any_settings: Settings) -> Iterator[Store]:
    """A migrated store on each backend."""
    opened = Store.open(any_settings.resolved_database_url)
    yield opened
    opened.close()


@pytest.fixture
def seeds() -> list[Path]:
    """The three real trending-page captures in ../shared/seeds."""
    assert len(SEEDS) == 3, f"expected the seed captures in {SHARED / 'seeds'}"
    return SEEDS


@pytest.fixture
def svc(settings: Settings, store: Store) -> Iterator[SearchService]:
    """A search service over the small corpus of tests/support/search_corpus.py."""
    from papertide.search import SearchService
    from tests.support.search_corpus import CORPUS, add_papers

    add_papers(store, settings, CORPUS)
    service = SearchService.open(settings, store)
    yield service
    service.close()


def caught_up(client: httpx.Client, timeout: float = 120.0) -> dict[str, object]:
    """Wait until the app's background index follower has applied every stored change (the
    server answers at once; search is ready only once its index caught up). ``client`` is
    a TestClient or an httpx.Client on a live server's address."""
    deadline = time.monotonic() + timeout
    while True:
        health = client.get("/healthz").json()
        if health["index"]["ready"] and health["index"]["lag"] == 0:
            return dict(health)
        assert time.monotonic() < deadline, f"the index did not catch up: {health}"
        time.sleep(0.05)


@contextmanager
def serving(app: FastAPI) -> Iterator[TestClient]:
    """TestClient on ``app`` (lifespan run) once its search index has caught up."""
    with TestClient(app) as client:
        caught_up(client)
        yield client


# A Monday noon: far from midnight, so a test's "today" never straddles two days.
FIXED_NOW = datetime(2026, 11, 23, 12, 0, 0)


@pytest.fixture
def fixed_clock() -> Iterator[datetime]:
    """Every utcnow() of this process answers FIXED_NOW for the test's duration."""
    with frozen(FIXED_NOW) as now:
        yield now
