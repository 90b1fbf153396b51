"""The kill suite: `papertide sync` (against the recorded services on a loopback server) and
`papertide ingest` SIGKILLed after a random delay, several rounds; after each kill the store
holds only whole papers and the index catches up with all of them, and the next run
completes with the store and the index in agreement. (Kills of `reindex` and of the index
commit live in test_index_follows.py; the helpers both use are in tests/support/processes.py.)

Locally each run draws a new seed (printed on failure); CI replays a fixed one with fewer
rounds, as the fuzz suite does."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from papertide.bench.synth import write_snapshot
from papertide.config import Settings
from papertide.search import SearchService
from papertide.store import Store
from tests.support.fixture_server import FixtureServer
from tests.support.processes import (
    _finish,
    _index_holds_every_paper,
    _papertide,
    _slow_services,
    _sync_env,
)

CI = bool(os.environ.get("CI"))
ROUNDS = 2 if CI else 4
SEED = 16 if CI else random.randrange(1 << 30)


def _kill_after(process: subprocess.Popen[str], seconds: float) -> bool:
    """SIGKILL ``process`` after ``seconds``; whether it was still running then."""
    time.sleep(seconds)
    running = process.poll() is None
    process.send_signal(signal.SIGKILL)
    process.wait()
    return running


def _ids(store: Store) -> list[str]:
    return sorted(p.id or "" for p in store.list_papers(limit=10_000))


def _caught_up_holds_every_paper(settings: Settings, store: Store) -> None:
    """What a killed run left: the next process to open the index catches up with it."""
    svc = SearchService.open(settings, store)
    try:
        assert svc.lexical.num_docs() == store.count_papers()
        assert len(svc._vector_index()) == store.count_papers()
        assert store.feed_lag(svc.position) == 0
    finally:
        svc.close()


def test_sync_killed_anywhere_resumes_and_the_index_agrees(
    any_settings: Settings, any_store: Store, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    with FixtureServer() as server:
        server.handler = _slow_services(rng)  # type: ignore[assignment]
        env = _sync_env(server)
        reference = Settings(data_dir=tmp_path / "reference")
        started = time.monotonic()
        _finish(_papertide(reference, "sync", "-q", **env))
        lasts = time.monotonic() - started  # a whole run: start-up, 6 pages, indexing
        whole = Store.open(reference.resolved_database_url)
        expected = _ids(whole)
        whole.close()
        assert len(expected) >= 8, expected  # both recorded sources, every page
        alive = []
        for round_ in range(ROUNDS):
            process = _papertide(any_settings, "sync", "-q", **env)
            alive.append(_kill_after(process, rng.uniform(0.3, 0.9) * lasts))
            got = _ids(any_store)
            assert set(got) <= set(expected), (SEED, round_, got)
            assert len(got) == len(set(got)), (SEED, round_)
            _caught_up_holds_every_paper(any_settings, any_store)
        _finish(_papertide(any_settings, "sync", "-q", **env))
    assert any(alive), (SEED, "every kill came after the run had ended")
    assert _ids(any_store) == expected, SEED
    _index_holds_every_paper(any_settings, any_store).close()


def test_ingest_killed_anywhere_keeps_whole_papers_and_the_next_run_completes(
    any_settings: Settings, any_store: Store, tmp_path: Path
) -> None:
    rng = random.Random(SEED + 1)
    papers = 2_000 if CI else 4_000
    snapshot = write_snapshot(tmp_path / "s.jsonl", papers, seed=4)
    # A whole run first (a data folder of its own), so the kills land inside a run on a
    # quiet machine as on a loaded one: start-up, parsing, the store's commit, indexing.
    started = time.monotonic()
    _finish(_papertide(Settings(data_dir=tmp_path / "reference"), "ingest", str(snapshot), "-q"))
    lasts = time.monotonic() - started
    alive = []
    for round_ in range(ROUNDS):
        process = _papertide(any_settings, "ingest", str(snapshot), "-q")
        alive.append(_kill_after(process, rng.uniform(0.2, 0.9) * lasts))
        stored = any_store.count_papers()
        assert stored <= papers, (SEED, round_)
        _caught_up_holds_every_paper(any_settings, any_store)
    assert any(alive), (SEED, "every kill came after the run had ended")
    _finish(_papertide(any_settings, "ingest", str(snapshot), "-q"))
    assert any_store.count_papers() == papers
    _index_holds_every_paper(any_settings, any_store).close()


@pytest.fixture(autouse=True)
def _say_the_seed(request: pytest.FixtureRequest) -> None:
    """The seed in the report, so a local failure can be replayed (SEED = ...)."""
    request.node.user_properties.append(("kill seed", SEED))
