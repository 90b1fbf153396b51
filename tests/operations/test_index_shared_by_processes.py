"""One index folder shared by several processes: a running service (a web worker, say) sees
papers another process (`papertide ingest`, the worker after a sync) indexed, without a
restart; and a write from a process whose copy is stale never drops the other's papers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from papertide.config import Settings
from papertide.search import SearchService
from papertide.search.generation import IndexRoot
from papertide.store import Store
from papertide.web import create_app
from tests.conftest import serving
from tests.support.search_corpus import CORPUS, add_papers, paper, pk_of

QUOKKA = {
    "_id": "quokka-1",
    "title": "Quokka locomotion policies for tardigrade robots",
    "text": "We train quokka-inspired gaits and transfer them to tardigrade robots.",
}


def _ingest_in_another_process(settings: Settings, tmp_path: Path, row: dict[str, str]) -> None:
    """`papertide ingest` as its own process: it imports, then indexes under the folder lock."""
    source = tmp_path / f"{row['_id']}.jsonl"
    source.write_text(json.dumps(row) + "\n")
    env = {**os.environ, "PAPERTIDE_DATA_DIR": str(settings.data_dir)}
    if settings.database_url:
        env["PAPERTIDE_DATABASE_URL"] = settings.database_url
    done = subprocess.run(
        [sys.executable, "-m", "papertide", "ingest", str(source), "--format", "jsonl"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture
def settings(any_settings: Settings) -> Settings:
    """Index catch-up across processes, on SQLite and on PostgreSQL (a fresh database each)."""
    return any_settings


def _titles(svc: SearchService, query: str, mode: str) -> list[str]:
    return [h.paper.title for h in svc.search(query, mode=mode).hits if h.paper]


def test_a_running_service_sees_what_another_process_indexed(
    svc: SearchService, settings: Settings, store: Store, tmp_path: Path
) -> None:
    assert _titles(svc, "quokka tardigrade", "bm25") == []
    generation = svc.state.get("generation")
    _ingest_in_another_process(settings, tmp_path, QUOKKA)
    assert _titles(svc, "quokka tardigrade", "bm25") == [QUOKKA["title"]]
    assert svc.state.get("generation") != generation
    new = next(p for p in store.list_papers(limit=1000) if p.title == QUOKKA["title"])
    assert new.pk is not None
    assert new.pk in svc._vector_index()  # the other process's vectors were loaded too
    assert svc.similar(new.id or "", cut=False)  # its neighbours come from the loaded vectors


def test_a_stale_writer_keeps_the_other_process_papers(
    svc: SearchService, settings: Settings, store: Store, tmp_path: Path
) -> None:
    _ingest_in_another_process(settings, tmp_path, QUOKKA)  # svc has not looked since
    add_papers(
        store,
        settings,
        [paper(99, "Axolotl regeneration atlas", "Limbs.", "Bo", "q-bio", "2024-01-05")],
    )
    assert svc.refresh() == 1  # the axolotl; the other process's quokka came with its commit
    fresh = SearchService.open(settings, store, catch_up=False)
    try:
        assert _titles(fresh, "quokka", "bm25") == [QUOKKA["title"]]
        assert _titles(fresh, "axolotl", "bm25") == ["Axolotl regeneration atlas"]
        vectors = fresh._vector_index()
        assert pk_of(store, "2401.00099") in vectors
        assert all(p.pk in vectors for p in store.list_papers(limit=1000))
    finally:
        fresh.close()


def test_the_site_finds_papers_ingested_while_it_runs(
    settings: Settings, store: Store, tmp_path: Path
) -> None:
    add_papers(store, settings, CORPUS)
    with serving(create_app(settings)) as client:
        assert QUOKKA["title"] not in client.get("/search", params={"q": "quokka"}).text
        _ingest_in_another_process(settings, tmp_path, QUOKKA)
        page = client.get("/search", params={"q": "quokka"})
        assert page.status_code == 200
        assert "Quokka</mark> locomotion policies" in page.text


def test_a_big_index_reloads_in_the_background(
    svc: SearchService,
    settings: Settings,
    store: Store,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """From search.background_reload_from vectors on, queries go on with the loaded index
    while the new one loads in a thread, then see the other process's papers."""
    monkeypatch.setattr(svc.config, "background_reload_from", 1)
    loaded = svc._vector_index()
    _ingest_in_another_process(settings, tmp_path, QUOKKA)
    assert svc.sync() is False  # did not wait for the reload
    reloader = svc._reloader
    assert reloader is not None
    reloader.join(timeout=60)
    assert not reloader.is_alive()
    assert svc.vectors is not loaded  # swapped for the reloaded one
    assert _titles(svc, "quokka tardigrade", "bm25") == [QUOKKA["title"]]
    new = next(p for p in store.list_papers(limit=1000) if p.title == QUOKKA["title"])
    assert new.pk in svc._vector_index()


class _GatedModel:
    """The real embedder's load, held until the test says go (a model loads for seconds)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from papertide.search import service as service_module

        self.loading, self.go_on = threading.Event(), threading.Event()
        real_load = service_module.load_embedder

        def load_when_told(*args: object, **kwargs: object) -> object:
            self.loading.set()
            assert self.go_on.wait(60)
            return real_load(*args, **kwargs)

        monkeypatch.setattr(service_module, "load_embedder", load_when_told)

    def while_loading(self, work: Callable[[], object], check: Callable[[], None]) -> None:
        """Run ``work`` in a thread, ``check`` while it loads the model, then let it end."""
        thread = threading.Thread(target=work, daemon=True)
        try:
            thread.start()
            assert self.loading.wait(60)
            check()
        finally:
            self.go_on.set()
            thread.join(60)
        assert not thread.is_alive()


def test_a_process_loading_its_embedder_to_read_keeps_no_writer_waiting(
    svc: SearchService, settings: Settings, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process opening the vectors loads its embedder first (a model: up to seconds), and
    only then takes the folder lock to read the files: a writer in another process (here,
    the folder lock taken on a file of its own) is never kept waiting for the model."""
    model = _GatedModel(monkeypatch)
    reader = SearchService.open(settings, store, catch_up=False)  # no embedder, no vectors

    def a_writer_takes_the_lock_at_once() -> None:
        with IndexRoot(settings.data_dir / "index").lock(wait=False) as held:
            assert held

    try:
        model.while_loading(reader._vector_index, a_writer_takes_the_lock_at_once)
        assert reader.vectors is not None and len(reader.vectors) == len(CORPUS)
    finally:
        reader.close()


def test_a_process_loading_its_embedder_to_write_keeps_no_reader_waiting(
    svc: SearchService, settings: Settings, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process with changes to apply loads its embedder before it takes the folder lock to
    write: a reader in another process (a web worker loading a commit) is never kept
    waiting for the model."""
    model = _GatedModel(monkeypatch)
    writer = SearchService.open(settings, store, catch_up=False)  # no embedder yet
    add_papers(
        store,
        settings,
        [paper(99, "Axolotl regeneration atlas", "Limbs.", "Bo", "q-bio", "2024-01-05")],
    )

    def a_reader_takes_the_lock_at_once() -> None:
        with IndexRoot(settings.data_dir / "index").lock(shared=True, wait=False) as held:
            assert held

    try:
        model.while_loading(writer.refresh, a_reader_takes_the_lock_at_once)
        assert _titles(writer, "axolotl", "bm25") == ["Axolotl regeneration atlas"]
    finally:
        writer.close()
