"""The index follows the store across processes, races and kills: `papertide ingest`,
`reindex` and the index commit run as real processes, overlapped or killed with SIGKILL at
random points, and afterwards every stored paper is searchable."""

from __future__ import annotations

import functools
import json
import random
import signal
import time
from pathlib import Path

import pytest

from papertide.bench.synth import SnapshotGenerator, write_snapshot
from papertide.config import Settings
from papertide.search import SearchService
from papertide.store import Store
from tests.support.processes import _finish, _index_holds_every_paper, _papertide


def _one_paper(path: Path, title: str) -> Path:
    path.write_text(json.dumps({"_id": "solo-1", "title": title, "text": "A lone abstract."}))
    return path


@pytest.mark.parametrize("big", [30_000])
def test_a_small_import_during_a_big_one_loses_nothing(
    any_settings: Settings, any_store: Store, tmp_path: Path, big: int
) -> None:
    """The operator's report: 30,000 papers imported, a 1-paper import started while it runs;
    every stored paper must be searchable, with no reindex."""
    snapshot = write_snapshot(tmp_path / "big.jsonl", big, seed=3)
    title = "Tardigrade cryptobiosis under vacuum"
    solo = _one_paper(tmp_path / "solo.jsonl", title)
    first = _papertide(any_settings, "ingest", str(snapshot), "-q")
    time.sleep(random.uniform(0.5, 3.0))
    second = _papertide(any_settings, "ingest", str(solo), "--format", "jsonl", "-q")
    _finish(second)
    _finish(first)
    assert any_store.count_papers() == big + 1
    svc = _index_holds_every_paper(any_settings, any_store)
    hits = svc.search(f'"{title}"', mode="bm25").hits
    assert [h.paper.title for h in hits if h.paper] == [title]
    svc.close()


def _wait_for(condition: object, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_reindex_killed_anywhere_leaves_the_old_index_serving_and_resumes(
    settings: Settings, store: Store, tmp_path: Path
) -> None:
    papers = 6_000
    _finish(_papertide(settings, "ingest", str(write_snapshot(tmp_path / "s.jsonl", papers)), "-q"))
    live = SearchService.open(settings, store, catch_up=False).state["generation"]
    rng = random.Random(7)
    for _ in range(3):
        process = _papertide(settings, "reindex", PAPERTIDE_SEARCH__BUILD_CHECKPOINT="500")
        time.sleep(rng.uniform(0.3, 6.0))
        process.send_signal(signal.SIGKILL)
        process.wait()
        svc = _index_holds_every_paper(settings, store)  # the previous generation serves
        assert svc.search("model", mode="bm25").total > 0
        svc.close()
    out = _finish(_papertide(settings, "reindex", PAPERTIDE_SEARCH__BUILD_CHECKPOINT="500"))
    svc = _index_holds_every_paper(settings, store)
    assert svc.state["generation"] != live or "indexed" in out
    gens = sorted(p.name for p in (settings.data_dir / "index" / "gens").iterdir())
    assert len(gens) <= 2  # old generations are cleaned up after the swap
    svc.close()


def test_ingest_killed_while_indexing_is_caught_up_by_the_next_process(
    settings: Settings, store: Store, tmp_path: Path
) -> None:
    _finish(_papertide(settings, "ingest", str(write_snapshot(tmp_path / "a.jsonl", 2_000)), "-q"))
    rng = random.Random(11)
    generator = SnapshotGenerator(seed=5)
    for round_ in range(3):
        path = tmp_path / f"more{round_}.jsonl"
        path.write_bytes(b"".join(generator.lines(3_000, start=10_000 * (round_ + 1))))
        expected = store.count_papers() + 3_000
        process = _papertide(settings, "ingest", str(path), "-q")
        _wait_for(lambda e=expected: store.count_papers() == e)  # stored; now indexing
        time.sleep(rng.uniform(0.0, 1.5))
        process.send_signal(signal.SIGKILL)
        process.wait()
        # The next process that opens the index (here `papertide search`) catches up.
        newest = store.list_papers(limit=1)[0]
        found = _papertide(settings, "search", f'"{newest.title}"', "--mode", "bm25", "--json")
        hits = json.loads(_finish(found))
        assert newest.id in [h["id"] for h in hits["hits"]]
        _index_holds_every_paper(settings, store).close()


def test_processes_started_together_on_an_empty_database(
    any_settings: Settings, tmp_path: Path
) -> None:
    """Three processes at once on a database no one has migrated: the migration runs under
    a lock, so one migrates and the others wait, then find nothing to do."""
    snapshot = write_snapshot(tmp_path / "s.jsonl", 50)
    processes = [_papertide(any_settings, "stats", "--json") for _ in range(2)]
    processes.append(_papertide(any_settings, "ingest", str(snapshot), "-q"))
    for process in processes:
        _finish(process)
    store = Store.open(any_settings.resolved_database_url)
    assert store.count_papers() == 50
    store.close()


def test_two_imports_of_one_file_both_succeed(
    any_settings: Settings, any_store: Store, tmp_path: Path
) -> None:
    """No UniqueViolation traceback: paper writers take turns (SQLite's write lock, an
    advisory lock on PostgreSQL), so the second finds the first's papers and adds none."""
    snapshot = write_snapshot(tmp_path / "s.jsonl", 3_000, seed=9)
    both = [_papertide(any_settings, "ingest", str(snapshot)) for _ in range(2)]
    outputs = [_finish(process) for process in both]
    assert sorted("3,000 added" in out for out in outputs) == [False, True]
    assert any_store.count_papers() == 3_000
    _index_holds_every_paper(any_settings, any_store).close()


def test_a_second_node_loads_stored_vectors_and_never_embeds_again(
    any_settings: Settings, any_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Embeddings are computed once, by the first process that indexes a paper, and kept in
    the database: a node with an empty data folder builds its index from them."""
    from papertide.search.follow import FollowMixin
    from tests.support.search_corpus import CORPUS, add_papers

    add_papers(any_store, any_settings, CORPUS)
    first = SearchService.open(any_settings, any_store)
    assert any_store.count_embeddings(model=any_settings.search.embedder) == len(CORPUS)
    expected = first.search("dark matter halos", mode="dense").hits
    first.close()

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("a paper was embedded again")

    monkeypatch.setattr(FollowMixin, "_embed_missing", refuse)
    node_b = any_settings.model_copy(update={"data_dir": tmp_path / "node-b"})
    second = SearchService.open(node_b, any_store)
    assert second.embedded == 0 and first.embedded == len(CORPUS)
    assert len(second._vector_index()) == len(CORPUS)
    got = second.search("dark matter halos", mode="dense").hits
    assert [(h.paper_id, round(h.score, 4)) for h in got] == [
        (h.paper_id, round(h.score, 4)) for h in expected
    ]
    second.close()


def test_a_build_makes_its_hnsw_graph_once_at_the_end(
    settings: Settings, store: Store, tmp_path: Path
) -> None:
    """A whole generation is loaded first and goes live searched exactly; its HNSW graph
    is then built over every row (all cores, one pass) and saved as its first version."""
    from papertide.ingest import IngestOptions, ingest_paths

    small = settings.model_copy(
        update={"search": settings.search.model_copy(update={"ann_threshold": 100})}
    )
    source = write_snapshot(tmp_path / "s.jsonl", 400, seed=2)
    ingest_paths(store, [source], settings=small, options=IngestOptions(fmt="arxiv-snapshot"))
    svc = SearchService.open(small, store)
    vectors = svc._vector_index()
    assert vectors.approximate
    assert svc.live is not None and (svc.live.folder / "vectors" / "ann.json").is_file()
    paper = store.list_papers(limit=1)[0]
    assert paper.pk is not None
    assert vectors.search(vectors.get([paper.pk])[0], 1)[0][0] == paper.pk
    svc.close()


def test_a_new_generation_goes_live_before_its_graph_which_is_built_apart(
    settings: Settings, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first build swaps in searched exactly; the HNSW graph is built afterwards holding
    no folder lock, so another process applies the feed meanwhile (new and changed papers),
    and the adopted graph plus the rows written since answer for every paper."""
    from papertide.ingest import IngestOptions, ingest_paths
    from papertide.search.graph_upkeep import GraphRows
    from papertide.search.vectors import VectorIndex

    small = settings.model_copy(
        update={"search": settings.search.model_copy(update={"ann_threshold": 100})}
    )
    source = write_snapshot(tmp_path / "s.jsonl", 400, seed=2)
    ingest_paths(store, [source], settings=small, options=IngestOptions(fmt="arxiv-snapshot"))
    svc = SearchService.open(small, store, catch_up=False)
    other = SearchService.open(small, store, catch_up=False)
    seen: dict[str, object] = {}
    build_apart = VectorIndex.build_graph_apart

    def build_while_others_write(self: VectorIndex, rows: GraphRows) -> object:
        seen["live_before_graph"] = svc.ready and not self.approximate
        more = write_snapshot(tmp_path / "more.jsonl", 460, seed=2)  # 60 new, 400 as before
        ingest_paths(store, [more], settings=small, options=IngestOptions(fmt="arxiv-snapshot"))
        ingest_paths(store, [_one_paper(tmp_path / "x.jsonl", "Quokka graphs")], settings=small)
        other.sync()
        seen["applied_meanwhile"] = other.refresh(wait=False)
        return build_apart(self, rows)

    monkeypatch.setattr(VectorIndex, "build_graph_apart", build_while_others_write)
    svc.refresh()
    assert seen["live_before_graph"] is True
    assert seen["applied_meanwhile"] == 61  # the other process was never locked out
    vectors = svc._vector_index()
    assert isinstance(vectors, VectorIndex) and vectors.approximate
    stored = store.list_papers(limit=1000)
    assert len(stored) == 461 == len(vectors)
    for paper in stored:  # each paper's own vector finds it: graph or rows since
        assert paper.pk is not None
        assert vectors.search(vectors.get([paper.pk])[0], 1)[0][0] == paper.pk
    reader = _index_holds_every_paper(small, store)
    graph = reader._vector_index()._graph  # type: ignore[union-attr]
    assert graph is not None and graph.saved and graph.covered == len(graph.keys) == 461
    assert reader.search('"Quokka graphs"', mode="bm25").hits[0].paper.title == "Quokka graphs"


def test_rows_a_fold_strands_are_found_by_the_graph_thread_and_searched_exactly(
    settings: Settings, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inserting into full neighbour lists can cut an older row's last link, and a fold
    checks only the rows it inserted. A sparse graph (4 links a node) makes this happen
    here: after 400 papers and a fold of 200 more, some older papers are found by no
    search of the graph. The follower's graph thread checks every row apart and saves
    those as orphans in a new version; then each paper's own vector finds it again, in
    this process and in another that loads the new version."""
    from papertide.ingest import IngestOptions, ingest_paths
    from papertide.search import graph as graph_module
    from papertide.search import vectors as vectors_module
    from papertide.search.background import IndexFollower
    from papertide.search.graph_params import new_ann
    from papertide.search.vectors import VectorIndex

    sparse = functools.partial(new_ann, connectivity=4, expansion_add=4)
    monkeypatch.setattr(graph_module, "new_ann", sparse)
    monkeypatch.setattr(graph_module, "REINSERT_ROUNDS", 0)
    monkeypatch.setattr(vectors_module, "_ANN_MERGE", 50)
    small = settings.model_copy(
        update={"search": settings.search.model_copy(update={"ann_threshold": 100})}
    )
    options = IngestOptions(fmt="arxiv-snapshot")
    ingest_paths(store, [write_snapshot(tmp_path / "a.jsonl", 400, seed=2)], settings=small)
    svc = SearchService.open(small, store)
    other = SearchService.open(small, store)
    vectors = svc._vector_index()
    assert isinstance(vectors, VectorIndex) and vectors._graph is not None
    assert vectors._graph.audited  # a build checks every row
    more = write_snapshot(tmp_path / "b.jsonl", 600, seed=2)  # 200 new, 400 as before
    ingest_paths(store, [more], settings=small, options=options)
    svc.refresh()  # applied and folded into the graph (more than _ANN_MERGE changes)
    vectors = svc._vector_index()
    assert isinstance(vectors, VectorIndex) and vectors._graph is not None
    assert vectors._graph.saved and not vectors._graph.audited
    pks = [p.pk or 0 for p in store.list_papers(limit=2000)]
    assert len(pks) == 600

    def unfound(index: VectorIndex) -> list[int]:
        return [pk for pk in pks if index.search(index.get([pk])[0], 1)[0][0] != pk]

    stranded = unfound(vectors)
    assert stranded  # the fold left papers no search of the graph finds
    version = vectors._graph.version
    assert IndexFollower(svc, interval=60).graph_step() == 0  # no build: the audit
    vectors = svc._vector_index()
    assert isinstance(vectors, VectorIndex) and vectors._graph is not None
    assert vectors._graph.audited and vectors._graph.version == version + 1
    assert set(stranded) <= set(vectors._graph.orphans.tolist())
    assert unfound(vectors) == []
    other.sync()
    theirs = other._vector_index()
    assert isinstance(theirs, VectorIndex) and theirs._graph is not None
    assert theirs._graph.version == version + 1 and unfound(theirs) == []
    assert svc.audit_graph() == 0  # nothing left to check
    svc.close()
    other.close()


def test_a_node_building_its_graph_goes_on_applying_the_feed(
    settings: Settings, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A web process with one worker: while its HNSW graph is being built (minutes at 1M
    vectors), the papers stored meanwhile become searchable within a round, not once the
    graph is in (bench nodes saw 12 s). The build is held at its start, then let go."""
    import threading

    from papertide.ingest import IngestOptions, ingest_paths
    from papertide.search.background import IndexFollower
    from papertide.search.graph_upkeep import GraphRows
    from papertide.search.vectors import VectorIndex

    small = settings.model_copy(
        update={
            "search": settings.search.model_copy(
                update={"ann_threshold": 100, "follow_interval": 0.1}
            )
        }
    )
    source = write_snapshot(tmp_path / "s.jsonl", 400, seed=2)
    ingest_paths(store, [source], settings=small, options=IngestOptions(fmt="arxiv-snapshot"))
    entered, release = threading.Event(), threading.Event()
    build_apart = VectorIndex.build_graph_apart

    def held_build(self: VectorIndex, rows: GraphRows) -> object:
        entered.set()
        release.wait(60)
        return build_apart(self, rows)

    monkeypatch.setattr(VectorIndex, "build_graph_apart", held_build)
    svc = SearchService.open(small, store, catch_up=False)
    follower = IndexFollower(svc, interval=0.1)
    follower.start()
    try:
        assert entered.wait(60), "the graph build never started"
        ingest_paths(store, [_one_paper(tmp_path / "x.jsonl", "Quokka graphs")], settings=small)

        def found() -> bool:
            hits = svc.search('"Quokka graphs"', mode="bm25").hits
            return bool(hits) and hits[0].paper.title == "Quokka graphs"

        deadline = time.monotonic() + 10
        while not found() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert found(), "the paper waited for the graph"
        assert not svc._vector_index().approximate  # the graph was still being built
    finally:
        release.set()
    deadline = time.monotonic() + 60
    while not svc._vector_index().approximate and time.monotonic() < deadline:
        time.sleep(0.05)
    vectors = svc._vector_index()
    assert vectors.approximate and len(vectors) == 401
    follower.stop()
    svc.close()


def test_serve_killed_while_building_its_index_resumes_the_build(
    settings: Settings, store: Store, tmp_path: Path
) -> None:
    """`serve` builds its first index in the background; SIGKILL it mid-build, and the next
    process resumes that build from its last checkpoint instead of starting over."""
    import socket

    from papertide.ingest import IngestOptions, ingest_paths

    source = write_snapshot(tmp_path / "s.jsonl", 8_000, seed=6)
    ingest_paths(store, [source], settings=settings, options=IngestOptions(fmt="arxiv-snapshot"))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = str(sock.getsockname()[1])
    serve = _papertide(settings, "serve", "--port", port, PAPERTIDE_SEARCH__BUILD_CHECKPOINT="500")
    gens = settings.data_dir / "index" / "gens"

    def checkpointed() -> bool:
        for state in gens.glob("*/state.json"):
            build = json.loads(state.read_text()).get("build")
            if build and int(build["after_pk"]) > 0:
                return True
        return False

    _wait_for(checkpointed, timeout=300)
    serve.send_signal(signal.SIGKILL)
    serve.wait()
    svc = SearchService.open(settings, store, catch_up=False)
    assert not svc.ready  # the half-built generation never went live
    building = svc.root.unfinished(settings.search)
    assert building is not None
    done = int(svc.root.state_of(building)["build"]["after_pk"])
    assert 0 < done < store.max_paper_pk()
    assert svc.refresh() == store.count_papers() - done  # the rest, not all over again
    svc.close()
    _index_holds_every_paper(settings, store).close()
