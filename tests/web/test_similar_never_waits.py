"""Similar papers never wait long for a writer: not for an import holding the store (the
list is answered, and stored on a later view), not for another process writing the index
folder (the index loaded answers), and past a few seconds of a writer holding what they
must read, 503 with Retry-After (the JSON) or the page without them (the HTML)."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from papertide.config import Settings
from papertide.search import SearchService
from papertide.search.generation import IndexRoot
from papertide.search.rwlock import REQUEST_WAIT_SECONDS
from papertide.search.settings import SearchSettings
from papertide.store import Store
from papertide.web import create_app
from tests.conftest import serving
from tests.support.search_corpus import CORPUS, add_papers
from tests.support.search_corpus import paper as make_paper

# A wait this long means the request waited for the writer, not at most the bound.
WAITED = REQUEST_WAIT_SECONDS + 10


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    search = SearchSettings(similar_precompute_days=0, follow_interval=3600)
    return Settings(data_dir=tmp_path / "data", search=search)


@pytest.fixture
def site(settings: Settings) -> Iterator[tuple[TestClient, Store]]:
    store = Store.open(settings.resolved_database_url)
    add_papers(store, settings, CORPUS)
    SearchService.open(settings, store).close()  # the server starts on a built index
    try:
        with serving(create_app(settings)) as client:
            yield client, store
    finally:
        store.close()


class _Pending:
    """A GET under way in a thread of its own (the test holds what it may wait for)."""

    def __init__(self, client: TestClient, path: str) -> None:
        self.answers: list[httpx.Response] = []
        self.thread = threading.Thread(
            target=lambda: self.answers.append(client.get(path)), daemon=True
        )
        self.thread.start()

    def within(self, seconds: float) -> httpx.Response | None:
        """Its answer, if it came within ``seconds``."""
        self.thread.join(seconds)
        return self.answers[0] if self.answers else None

    def finish(self) -> None:
        """Once the test let go of what it held: let the request end either way."""
        self.thread.join(120)


def _get_while_held(client: TestClient, path: str) -> tuple[httpx.Response | None, _Pending]:
    pending = _Pending(client, path)
    return pending.within(WAITED), pending


def test_similar_is_answered_while_an_import_holds_the_store(
    site: tuple[TestClient, Store], settings: Settings
) -> None:
    client, store = site
    database = settings.resolved_database_url.removeprefix("sqlite:///")
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # as a big import does, for as long as it runs
    try:
        started = time.monotonic()
        answer, pending = _get_while_held(client, "/api/papers/2401.00001/similar")
        waited = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    pending.finish()
    assert answer is not None, "no answer while the import held the store"
    assert waited < REQUEST_WAIT_SECONDS
    assert answer.status_code == 200
    assert answer.json(), "no similar papers"
    pk = store.get_paper("2401.00001").pk  # type: ignore[union-attr]
    assert store.similar_list(pk or 0) is None  # not stored while the import held the store
    assert client.get("/api/papers/2401.00001/similar?again=1").status_code == 200
    assert store.similar_list(pk or 0) is not None  # stored by a later view


def test_similar_is_answered_from_the_loaded_index_while_another_process_writes_it(
    site: tuple[TestClient, Store], settings: Settings
) -> None:
    client, store = site
    assert client.get("/api/papers/2401.00001/similar").status_code == 200  # vectors loaded
    quokka = make_paper(90, "Quokka locomotion", "Quokkas hop.", "Q Uokka", "q-bio", "2024-01-01")
    add_papers(store, settings, [quokka])
    SearchService.open(settings, store).close()  # another process commits to the index...
    with IndexRoot(settings.data_dir / "index").lock():  # ...and goes on writing it
        answer, pending = _get_while_held(client, "/api/papers/2401.00002/similar")
    pending.finish()
    assert answer is not None, "no answer while another process wrote the index"
    assert answer.status_code == 200
    assert answer.json()


def test_similar_is_503_with_retry_after_when_its_vectors_cannot_load(
    site: tuple[TestClient, Store], settings: Settings
) -> None:
    client, _ = site
    client.app.state.search.live.close()  # type: ignore[attr-defined]  # as a generation
    # adopted from another process's commit, whose vectors load on the first dense read
    with IndexRoot(settings.data_dir / "index").lock():  # another process writes the folder
        answer, pending = _get_while_held(client, "/api/papers/2401.00001/similar")
        page, pending_page = _get_while_held(client, "/papers/2401.00001")
    pending.finish()
    pending_page.finish()
    assert answer is not None, "no answer while the vectors could not load"
    assert page is not None, "no page while the vectors could not load"
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "1"
    assert "being updated" in answer.json()["error"]
    assert page.status_code == 200  # the page, without its similar papers
    assert "No similar papers yet." in page.text
    assert client.get("/api/papers/2401.00003/similar").status_code == 200  # then it loads


def test_similar_is_503_with_retry_after_while_this_process_writes_the_index(
    site: tuple[TestClient, Store],
) -> None:
    client, _ = site
    guard = client.app.state.search.guard  # type: ignore[attr-defined]
    with guard.writing():  # the follower, committing a long fold
        answer, pending = _get_while_held(client, "/api/papers/2401.00004/similar")
    pending.finish()
    assert answer is not None, "no answer while this process wrote the index"
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "1"
    assert client.get("/api/papers/2401.00004/similar").status_code == 200
