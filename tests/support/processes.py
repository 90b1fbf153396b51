"""`papertide` commands as real processes for the tests of processes, kills and nodes: start
one with a test's settings, wait for it, check that the index it left holds every stored
paper, and point `papertide sync` at the recorded services (slowed, so a kill lands mid-run)."""

from __future__ import annotations

import os
import random
import subprocess
import sys

from papertide.config import Settings
from papertide.search import SearchService
from papertide.store import Store
from tests.support.fixture_server import FixtureServer, Reply, arxiv_api, oai_harvest


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {**os.environ, "PAPERTIDE_DATA_DIR": str(settings.data_dir), **extra}
    if settings.database_url:
        env["PAPERTIDE_DATABASE_URL"] = settings.database_url
    return env


def _papertide(settings: Settings, *args: str, **extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "papertide", *args],
        env=_env(settings, **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(process: subprocess.Popen[str], timeout: float = 600) -> str:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err[-3000:]
    return out


def _index_holds_every_paper(settings: Settings, store: Store) -> SearchService:
    """Open the index as the processes left it (no catch-up here) and compare with the store."""
    svc = SearchService.open(settings, store, catch_up=False)
    stored = store.count_papers()
    assert svc.ready
    assert svc.lexical.num_docs() == stored
    assert len(svc._vector_index()) == stored
    assert store.feed_lag(svc.position) == 0
    return svc


def _sync_env(server: FixtureServer) -> dict[str, str]:
    """`papertide sync` pointed at the fixture server: arXiv API and OAI-PMH, recorded."""
    return {
        "PAPERTIDE_SYNC__SOURCES": "arxiv,oai",
        "PAPERTIDE_SYNC__ARXIV_API_URL": f"{server.url}/api/query",
        "PAPERTIDE_SYNC__OAI_URL": f"{server.url}/oai",
        "PAPERTIDE_SYNC__ARXIV_CATEGORIES": "cs.CL,cs.LG",
        "PAPERTIDE_SYNC__ARXIV_PAGE_SIZE": "2",
        "PAPERTIDE_SYNC__START_DATE": "2026-11-18",
        "PAPERTIDE_SYNC__REQUEST_INTERVAL": "0",
        "PAPERTIDE_SYNC__BACKOFF": "0.01",
        "PAPERTIDE_SYNC__RETRIES": "1",
        "PAPERTIDE_SYNC__TIMEOUT": "10",
    }


def _slow_services(rng: random.Random) -> object:
    """The recorded services, each answer a little late, so a sync run lasts long enough
    for a kill to land between pages, inside an import or while indexing."""

    def handler(seen: object) -> Reply:
        reply = arxiv_api(seen) if seen.path == "/api/query" else oai_harvest(seen)  # type: ignore[attr-defined, arg-type]
        reply.delay = rng.uniform(0.05, 0.4)
        return reply

    return handler
