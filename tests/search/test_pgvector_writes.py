"""On pgvector every node shares one vectors table: a vector is written once, by the process
that embedded it. Another node that catches up finds it there and neither rewrites nor
locks its row, so nodes never wait on each other's rows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from papertide.config import Settings
from papertide.search import SearchService
from papertide.store import Store
from papertide.store.pgvectors import table_name
from tests.support.search_corpus import CORPUS, add_papers, pk_of

pytestmark = pytest.mark.postgres


def _pgvector_node(settings: Settings, folder: Path) -> Settings:
    search = settings.search.model_copy(update={"vector_backend": "pgvector"})
    return settings.model_copy(update={"data_dir": folder, "search": search})


def _rows(store: Store, table: str) -> dict[int, tuple[str, str, str]]:
    """Each vector row's (xmin, xmax, ctid): an update or a row lock changes them."""
    with store.engine.connect() as conn:
        found = conn.execute(
            text(f"SELECT paper_pk, xmin::text, xmax::text, ctid::text FROM {table}")
        ).all()
    return {int(pk): (xmin, xmax, ctid) for pk, xmin, xmax, ctid in found}


def _search_on_another_node(url: str, folder: Path, query: str) -> subprocess.CompletedProcess:
    """`papertide search` as a node of its own (its own data folder, pgvector), which
    catches its index up with the store before it answers. Any row lock it waited for
    fails it within seconds (lock_timeout) instead of hanging."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERTIDE_")}
    env.update(
        PAPERTIDE_SEARCH__VECTOR_BACKEND="pgvector",
        PGOPTIONS="-c lock_timeout=3s",
    )
    argv = ["--data-dir", str(folder), "--database-url", url, "search", query, "--json"]
    return subprocess.run(
        [sys.executable, "-m", "papertide", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_a_second_node_neither_rewrites_nor_locks_the_vectors_the_first_wrote(
    pg_url: str, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path / "a", database_url=pg_url)
    store = Store.open(pg_url)
    add_papers(store, settings, CORPUS)
    first = SearchService.open(_pgvector_node(settings, tmp_path / "a"), store)
    assert first.embedded == len(CORPUS)  # it embedded every paper, and wrote their rows
    table = table_name(settings.search.embedder)
    written = _rows(store, table)
    assert len(written) == len(CORPUS)
    first.close()
    # Another session holds every row's lock meanwhile: a node that wrote (or locked) a
    # row the first one wrote would wait on it, and give up at its lock_timeout.
    with store.engine.connect() as holder, holder.begin():
        holder.execute(text(f"SELECT paper_pk FROM {table} FOR UPDATE")).all()
        locker = holder.execute(text(f"SELECT DISTINCT xmax::text FROM {table}")).scalar_one()
        done = _search_on_another_node(pg_url, tmp_path / "b", "dark matter halos")
    assert done.returncode == 0, done.stderr
    hits = json.loads(done.stdout)["hits"]
    want = next(p.arxiv_id for p in CORPUS if "dark matter halos" in (p.abstract or ""))
    assert hits and hits[0]["id"] == want
    assert "close in meaning" in hits[0]["why"]  # the shared vectors answered too
    # Not one row rewritten (xmin, ctid) or locked by anyone but the holder (xmax).
    assert _rows(store, table) == {
        pk: (xmin, locker, ctid) for pk, (xmin, _, ctid) in written.items()
    }
    store.close()


def test_a_vector_missing_from_the_shared_table_is_added_by_the_next_node(
    pg_url: str, tmp_path: Path
) -> None:
    """The embedding was stored but its row is not in the table (a process that stopped
    between the two, or a table made after the embeddings): a node that catches up adds
    the row, from the stored embedding, and leaves the others alone."""
    settings = Settings(data_dir=tmp_path / "a", database_url=pg_url)
    store = Store.open(pg_url)
    add_papers(store, settings, CORPUS)
    SearchService.open(_pgvector_node(settings, tmp_path / "a"), store).close()
    table = table_name(settings.search.embedder)
    written = _rows(store, table)
    lost = pk_of(store, CORPUS[1].arxiv_id or "")
    with store.engine.begin() as conn:
        conn.execute(text(f"DELETE FROM {table} WHERE paper_pk = :pk"), {"pk": lost})
    second = SearchService.open(_pgvector_node(settings, tmp_path / "b"), store)
    assert second.embedded == 0  # from the stored embedding
    again = _rows(store, table)
    assert set(again) == set(written)
    assert {pk: row for pk, row in again.items() if pk != lost} == {
        pk: row for pk, row in written.items() if pk != lost
    }
    second.close()
    store.close()
