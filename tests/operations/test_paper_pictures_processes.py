"""The pictures job as real processes on one store: two at once never store two pictures for
one paper nor fetch one paper twice (claims, and an upsert on the paper's key), and one
SIGKILLed in the middle of a round leaves only whole pictures and a claim that runs out,
after which the next round finishes the work."""

from __future__ import annotations

import io
import signal
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from PIL import Image
from sqlalchemy import func, select

from papertide.bench.pdfs import paper_pdf
from papertide.config import Settings
from papertide.store import Store
from papertide.store.picture_tables import paper_pictures, picture_attempts
from papertide.store.pictures import picture_version
from tests.support.fixture_server import FixtureServer, Reply, Seen
from tests.support.pictures import pdf_reply, recent_paper
from tests.support.processes import _finish, _papertide
from tests.support.search_corpus import add_papers

PAPERS = 8


def _env(server: FixtureServer) -> dict[str, str]:
    return {
        "PAPERTIDE_PICTURES__ARXIV_PDF_URL": f"{server.url}/pdf",
        "PAPERTIDE_SYNC__REQUEST_INTERVAL": "0",
        "PAPERTIDE_SYNC__RETRIES": "0",
        "PAPERTIDE_SYNC__TIMEOUT": "30",
    }


@pytest.fixture
def server() -> Iterator[FixtureServer]:
    pdf = paper_pdf("A paper drawn by two workers")

    def handler(seen: Seen) -> Reply:
        return pdf_reply(pdf, delay=0.3) if seen.path.startswith("/pdf/") else Reply(status=404)

    with FixtureServer() as started:
        started.handler = handler
        yield started


def _stored_pictures_are_whole(store: Store) -> int:
    with store.engine.connect() as conn:
        rows = conn.execute(select(paper_pictures.c.version, paper_pictures.c.data)).all()
    for version, data in rows:
        assert version == picture_version(data)
        assert Image.open(io.BytesIO(data)).size == (400, 300)
    return len(rows)


def test_two_workers_at_once_store_one_picture_per_paper_and_fetch_each_once(
    any_settings: Settings, any_store: Store, server: FixtureServer
) -> None:
    add_papers(any_store, any_settings, [recent_paper(n) for n in range(1, PAPERS + 1)])
    env = _env(server)
    first = _papertide(any_settings, "worker", "--once", "--no-sync", **env)
    second = _papertide(any_settings, "pictures", "fetch", **env)
    outputs = [_finish(first), _finish(second)]
    assert _stored_pictures_are_whole(any_store) == PAPERS
    fetched = Counter(s.path for s in server.requests)
    assert set(fetched.values()) == {1}, fetched  # no paper fetched by both
    assert len(fetched) == PAPERS
    assert any("pictures: stored" in out for out in outputs)
    with any_store.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(picture_attempts)) == 0


def test_a_worker_killed_mid_round_leaves_whole_pictures_and_a_claim_that_runs_out(
    any_settings: Settings, any_store: Store, server: FixtureServer
) -> None:
    add_papers(any_store, any_settings, [recent_paper(n) for n in range(1, PAPERS + 1)])
    env = _env(server)
    running = _papertide(any_settings, "pictures", "fetch", **env)
    deadline = time.monotonic() + 120
    while _stored_pictures_are_whole(any_store) < 2:
        assert running.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    running.send_signal(signal.SIGKILL)
    running.wait()
    stored = _stored_pictures_are_whole(any_store)
    with any_store.engine.connect() as conn:
        claims = conn.execute(select(picture_attempts.c.last_error)).all()
    assert len(claims) <= 1 and all(error is None for (error,) in claims)
    # The next round draws the rest; a paper the killed one held waits for its lease.
    out = _finish(_papertide(any_settings, "pictures", "fetch", **env))
    assert "failed 0" in out
    assert _stored_pictures_are_whole(any_store) == PAPERS - len(claims)
    assert stored < PAPERS


def test_sigterm_ends_the_workers_pictures_round_after_the_paper_in_hand(
    settings: Settings, store: Store, server: FixtureServer
) -> None:
    add_papers(store, settings, [recent_paper(n) for n in range(1, PAPERS + 1)])
    worker = _papertide(settings, "worker", "--no-sync", **_env(server))
    deadline = time.monotonic() + 120
    while _stored_pictures_are_whole(store) < 1:
        assert worker.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    worker.send_signal(signal.SIGTERM)
    out, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err[-2000:]
    assert "worker stopped (signal 15)" in out
    stored = _stored_pictures_are_whole(store)
    assert stored < PAPERS
    with store.engine.connect() as conn:  # the paper in hand was finished, not left claimed
        assert conn.scalar(select(func.count()).select_from(picture_attempts)) == 0
