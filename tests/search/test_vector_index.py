"""Embedders and the vector index: offline loading, model changes, HNSW vs exact search."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from papertide.config import Settings
from papertide.search import SearchService, torch_cpu
from papertide.search import embedders as emb
from papertide.search import graph as graph_module
from papertide.search import vectors as vectors_module
from papertide.search.graph_params import AUTO_EF_FLOOR, auto_ef, new_ann
from papertide.search.vectors import VectorIndex
from papertide.store import Store
from tests.support.embedders import FakeEmbedder, needs_minilm
from tests.support.search_corpus import CORPUS, add_papers


def test_default_embedder_loads_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def no_network(*_: object, **__: object) -> None:
        raise AssertionError("the default embedder tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    model = emb.StaticEmbedder.wordllama()
    vectors = model.embed(["sparse attention", "dark matter halos", ""])
    assert vectors.shape == (3, 256)
    assert np.allclose(np.linalg.norm(vectors[:2], axis=1), 1.0, atol=1e-5)
    assert not vectors[2].any()
    assert float(vectors[0] @ model.embed(["attention that is sparse"])[0]) > float(
        vectors[0] @ vectors[1]
    )


def test_the_table_is_one_file_that_processes_map_and_a_broken_one_is_rewritten(
    tmp_path: Path,
) -> None:
    """With a cache folder the default embedder's float32 table is a .npy file mapped
    read-only (web workers share its pages, not one 31 MB copy each); its vectors are the
    in-memory table's, to the bit; a truncated file is written again, whole."""
    texts = ["sparse attention for long sequences", "dark matter halos", ""]
    want = emb.StaticEmbedder.wordllama().embed(texts)
    mapped = emb.StaticEmbedder.wordllama(tmp_path)
    assert isinstance(mapped.table, np.memmap) and not mapped.table.flags.writeable
    (kept,) = tmp_path.glob("wordllama-256-*.f32.npy")
    assert Path(mapped.table.filename or "") == kept
    assert np.array_equal(mapped.embed(texts), want)
    again = emb.StaticEmbedder.wordllama(tmp_path)  # a second process: the same file
    assert Path(again.table.filename or "") == kept and list(tmp_path.iterdir()) == [kept]
    kept.write_bytes(kept.read_bytes()[: 1 << 20])  # cut short (a full disk, say)
    repaired = emb.StaticEmbedder.wordllama(tmp_path)
    assert np.array_equal(repaired.embed(texts), want)
    assert kept.stat().st_size > 32_000 * 256 * 4 and list(tmp_path.iterdir()) == [kept]


def test_processes_starting_at_once_share_one_table_and_a_killed_writers_file_goes(
    tmp_path: Path,
) -> None:
    """Two processes that find no table file write it at once (each a whole file under a
    private name, then renamed): both embed as the in-memory table does, and one file is
    left. A writer killed midway leaves its partial file; the next writer removes it."""
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    emb.StaticEmbedder.wordllama(tmp_path / "probe")
    (name,) = [p.name for p in (tmp_path / "probe").iterdir()]  # named after the weights
    folder = tmp_path / "index"
    folder.mkdir()
    (folder / f".{name}.{dead.stdout.strip()}.1").write_bytes(b"\x93NUMPY half of a table")
    script = (
        "import sys, hashlib; from pathlib import Path; "
        "from papertide.search import embedders as emb; "
        "e = emb.StaticEmbedder.wordllama(Path(sys.argv[1])); "
        "print(hashlib.sha256(e.embed(['dark matter halos', 'sparse attention']).tobytes())"
        ".hexdigest())"
    )
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(folder)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=120)[0].strip() for run in runs]
    assert [run.returncode for run in runs] == [0, 0]
    want = emb.StaticEmbedder.wordllama().embed(["dark matter halos", "sparse attention"])
    assert outputs == [hashlib.sha256(want.tobytes()).hexdigest()] * 2
    assert [p.name for p in folder.iterdir()] == [name]


def test_chunk_cache_matches_whole_text_tokenizing() -> None:
    model = emb.load_embedder()
    assert isinstance(model, emb.StaticEmbedder)
    texts = ["Graph neural networks, for molecules.", "Attention is all you need (2017)!"]
    assert np.allclose(model.embed(texts), model.embed_whole(texts), atol=1e-6)


def test_batch_pooling_matches_whole_texts_at_the_edges(monkeypatch: pytest.MonkeyPatch) -> None:
    model = emb.StaticEmbedder.wordllama()
    long = " ".join(f"word{i} of a long abstract" for i in range(300))  # > 512 tokens: cut
    texts = ["", "dark matter", long, "", "Attention is all you need.", "x"] * 30
    want = model.embed_whole(texts)
    assert np.allclose(model.embed(texts), want, atol=1e-6)
    assert not model.embed(texts)[0].any()
    # A full chunk table starts over; vectors stay the same.
    monkeypatch.setattr(emb, "_CACHE_LIMIT", 5)
    assert np.allclose(model.embed(texts[:6]), want[:6], atol=1e-6)
    assert np.allclose(model.embed(["new words here", *texts[:6]])[1:], want[:6], atol=1e-6)
    assert len(model._chunk_row) < 500


def test_unknown_embedder_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown embedder"):
        emb.load_embedder("word2vec")


def test_model_change_re_embeds(
    settings: Settings, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_papers(store, settings, CORPUS)
    fake = settings.model_copy(
        update={"search": settings.search.model_copy(update={"embedder": "fake-8"})}
    )
    monkeypatch.setattr("papertide.search.service.load_embedder", lambda *_, **__: FakeEmbedder())
    svc = SearchService.open(fake, store)
    assert svc._vector_index().dim == 8 and len(svc._vector_index()) == len(CORPUS)
    svc.close()
    monkeypatch.undo()
    again = SearchService.open(settings, store)
    vectors = again._vector_index()
    assert (vectors.model, vectors.dim, len(vectors)) == ("wordllama-256", 256, len(CORPUS))
    assert again.state["embedder"] == "wordllama-256"
    assert again.search("dark matter", mode="dense").hits[0].paper_id == "2401.00004"


def test_blend_weight_is_the_embedders_unless_set(
    settings: Settings, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert emb.default_dense_weight("wordllama-256") == emb.STATIC_DENSE_WEIGHT == 1.0
    assert emb.default_dense_weight("st:all-MiniLM-L6-v2") == 1.5
    assert settings.search.dense_weight is None
    monkeypatch.setenv("PAPERTIDE_SEARCH__DENSE_WEIGHT", "2.5")
    assert Settings().search.dense_weight == 2.5
    add_papers(store, settings, CORPUS)
    monkeypatch.setattr("papertide.search.service.load_embedder", lambda *_, **__: FakeEmbedder())
    for name, default in (("fake-8", 1.0), ("st:fake-8", 1.5)):
        search = settings.search.model_copy(update={"embedder": name})
        svc = SearchService.open(settings.model_copy(update={"search": search}), store)

        def scores(weight: float | None, svc: SearchService = svc) -> dict[str, float]:
            svc.config = svc.config.model_copy(update={"dense_weight": weight})
            hits = svc.search("dark matter halos", k=20, mode="hybrid").hits
            return {hit.paper_id: hit.score for hit in hits}

        # blend = bm25/best + weight * cosine: from weights 0 and 1, any weight follows.
        lexical, one, unset = scores(0.0), scores(1.0), scores(None)
        shared = set(lexical) & set(one) & set(unset)
        assert shared and any(one[p] != lexical[p] for p in shared)
        for paper in shared:
            expected = lexical[paper] + default * (one[paper] - lexical[paper])
            assert unset[paper] == pytest.approx(expected, abs=1e-5)
        svc.close()


def _clustered(n: int, dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(50, dim))
    points = centres[rng.integers(0, 50, n)] + 0.35 * rng.normal(size=(n, dim))
    return emb.normalize_rows(points.astype(np.float32))


def test_hnsw_agrees_with_exact_search(tmp_path: Path) -> None:
    data = _clustered(3000, 64, seed=1)
    index = VectorIndex.open(tmp_path / "v", model="m", dim=64, ann_threshold=500)
    index.upsert(list(range(1, 3001)), data)
    assert index.approximate
    queries = _clustered(100, 64, seed=2)
    recall = np.mean(
        [
            len(
                {p for p, _ in index.search(q, 10)}
                & {p for p, _ in index.search(q, 10, exact=True)}
            )
            / 10
            for q in queries
        ]
    )
    assert recall >= 0.95
    exact = [[p for p, _ in index.search(q, 10, exact=True)] for q in queries[:5]]
    assert index.exact_many(queries[:5], 10) == exact
    index.flush()
    reopened = VectorIndex.open(tmp_path / "v", model="m", dim=64, ann_threshold=500)
    assert reopened.approximate and len(reopened) == 3000
    assert reopened.search(data[0], 1)[0][0] == 1


def test_every_vector_is_reachable_in_the_graph_built_on_every_core(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """usearch's concurrent insertion can strand a node no search reaches (about one build
    in two at this size, before the check that inserts such rows again): each paper's own
    vector must find it, in a fresh graph and after new rows and replacements are folded in."""
    monkeypatch.setattr(vectors_module, "_ANN_MERGE", 50)  # fold 80 changes into the graph
    data = _clustered(580, 256, seed=3)
    for attempt in range(8):
        index = VectorIndex.open(tmp_path / f"v{attempt}", model="m", dim=256, ann_threshold=100)
        index.upsert(list(range(1, 501)), data[:500])
        assert index.approximate
        index.flush()  # saved: the fold loads a private copy, replaces 20 rows and adds 60
        index.upsert([*range(1, 21), *range(501, 561)], np.vstack([data[560:], data[500:560]]))
        index.flush()
        graph = index._graph
        assert graph is not None and graph.saved and not graph.stale
        assert graph.covered == 580 and len(graph.keys) == 560  # 20 rows replaced
        pks = list(range(1, 561))
        assert [index.search(v, 1)[0][0] for v in index.get(pks)] == pks


def test_vectors_no_graph_search_reaches_are_scored_exactly_beside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows the graph strands even after being inserted again (a 1M build kept 542) are
    its orphans: saved with it and scored exactly on every search, in the writer, in a
    reader of the saved graph and after a fold. A sparse graph (4 links a node, no second
    insertion) strands 5-16 of these 500 rows a build, on one core or two: real unreachable
    nodes, which the graph alone does not find."""
    sparse = functools.partial(new_ann, connectivity=4, expansion_add=4)
    monkeypatch.setattr(graph_module, "new_ann", sparse)
    monkeypatch.setattr(graph_module, "REINSERT_ROUNDS", 0)
    monkeypatch.setattr(vectors_module, "_ANN_MERGE", 50)
    data = _clustered(580, 256, seed=3)
    for attempt in range(3):
        folder = tmp_path / f"v{attempt}"
        index = VectorIndex.open(folder, model="m", dim=256, ann_threshold=100)
        index.upsert(list(range(1, 501)), data[:500])
        index.flush()
        assert index._graph is not None and index._graph.saved
        orphans = index._graph.orphans.tolist()
        assert orphans
        reader = VectorIndex.open(folder, model="m", dim=256, ann_threshold=100)
        assert reader._graph is not None and reader._graph.orphans.tolist() == orphans
        pks = list(range(1, 501))
        for each in (index, reader):
            assert [each.search(v, 1)[0][0] for v in each.get(pks)] == pks
            assert [each.search(v, 1, paper=True)[0][0] for v in each.get(pks)] == pks
        reader._graph.orphans = np.zeros(0, dtype=np.int64)  # the graph alone
        found = [reader.search(v, 1)[0][0] for v in reader.get(orphans)]
        assert all(f != o for f, o in zip(found, orphans, strict=True))
        # A deleted orphan is never an answer.
        vector = index.get(orphans[:1])[0]
        index.delete(orphans[:1])
        assert orphans[0] not in [pk for pk, _ in index.search(vector, 10)]
        pks.remove(orphans[0])
        # A fold (20 rows replaced, 60 added): the rows it inserted and the orphans stay
        # findable. (Inserting can also cut an old row's last link: a fold checks only
        # these, see Graph.absorb.)
        index.upsert([*range(21, 41), *range(501, 561)], np.vstack([data[560:], data[500:560]]))
        index.flush()
        checked = sorted({*orphans[1:], *range(21, 41), *range(501, 561)})
        assert [index.search(v, 1)[0][0] for v in index.get(checked)] == checked
        assert set(index._graph.orphans.tolist()) <= set(pks) | set(checked)


def _saved_index(folder: Path, data: np.ndarray, rows: int) -> VectorIndex:
    """An index of the first ``rows`` of ``data`` (pks 1 to rows), its graph saved."""
    index = VectorIndex.open(folder, model="m", dim=data.shape[1], ann_threshold=100)
    index.upsert(list(range(1, rows + 1)), data[:rows])
    index.flush()
    return index


def test_a_save_never_writes_into_a_file_left_hard_linked_by_an_interrupted_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new version made by add_orphans hard-links the graph's files; a process killed
    after the links and before ann.json leaves them named as the next version. The next
    save must not write into them: they are the live version's files, which readers map."""
    monkeypatch.setattr(vectors_module, "_ANN_MERGE", 50)
    data = _clustered(700, 64, seed=4)
    folder = tmp_path / "v"
    index = _saved_index(folder, data, 600)
    live = folder / "ann-000001.usearch"
    before = live.read_bytes()
    os.link(live, tmp_path / "kept")  # the live version's inode, as a reader's mapping
    for kind in ("usearch", "keys", "center"):  # an interrupted add_orphans
        os.link(folder / f"ann-000001.{kind}", folder / f"ann-000002.{kind}")
    index.upsert(list(range(601, 701)), data[600:])
    index.flush()  # a fold: saved as version 2
    assert json.loads((folder / "ann.json").read_text())["version"] == 2
    assert (tmp_path / "kept").read_bytes() == before
    reader = VectorIndex.open(folder, model="m", dim=64, ann_threshold=100)
    pks = list(range(1, 701))
    assert [reader.search(v, 1)[0][0] for v in reader.get(pks)] == pks


def test_a_build_checks_its_rows_at_the_depth_its_searches_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reachability check's last pass runs at the graph's own search depth, which
    grows with its size: checked at the floor (256) instead of 1024, a 1M build counted
    4,005 rows as unreached where a check at full depth finds 542."""
    depths: list[int] = []
    check = graph_module.Graph._unreached

    def recorded(self: graph_module.Graph, *args: object, **kw: object) -> object:
        depths.append(int(args[3]))  # type: ignore[call-overload]
        return check(self, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(graph_module.Graph, "_unreached", recorded)
    rows = 70_000  # the first size whose depth is above the floor of 256
    data = _clustered(rows, 16, seed=6).astype(np.float16)
    keys = np.arange(1, rows + 1, dtype=np.int64)
    graph = graph_module.Graph.build(tmp_path, keys, data, ef_search=None, ef_papers=64)
    assert auto_ef(rows) > AUTO_EF_FLOOR
    assert max(depths) == graph.text_ef == auto_ef(rows)


_AUDIT_KILLED = """
import sys, time
from pathlib import Path
from papertide.search import graph as graph_module
from papertide.search.vectors import VectorIndex

index = VectorIndex.open(Path(sys.argv[1]), model="m", dim=64, ann_threshold=100)
name_version = graph_module.Graph._name_version

def stalled(self):  # the new version's files are written; ann.json names the old one
    print("written", flush=True)
    time.sleep(60)
    name_version(self)

graph_module.Graph._name_version = stalled
found = index.stranded_apart(index.graph_rows())
assert found is not None
index.adopt_orphans(*found)
"""


def test_an_audit_killed_while_saving_its_version_leaves_the_graph_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process checking a folded graph is killed with SIGKILL after writing the new
    version's files (hard links to the live ones) and before naming it in ann.json: the
    folder still serves the old version, whole; the next audit and the next fold succeed,
    and every row stays findable."""
    monkeypatch.setattr(vectors_module, "_ANN_MERGE", 50)
    data = _clustered(800, 64, seed=7)
    folder = tmp_path / "v"
    index = _saved_index(folder, data, 600)
    index.upsert(list(range(601, 701)), data[600:700])
    index.flush()  # a fold: saved unaudited as version 2
    assert index.audit_wanted()
    live = folder / "ann-000002.usearch"
    child = subprocess.Popen(
        [sys.executable, "-c", _AUDIT_KILLED, str(folder)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "written"
    assert (folder / "ann-000003.usearch").is_file()  # the links, not yet named
    child.kill()
    assert child.wait(30) == -9
    assert json.loads((folder / "ann.json").read_text())["version"] == 2
    pks = list(range(1, 701))
    reader = VectorIndex.open(folder, model="m", dim=64, ann_threshold=100)
    assert reader.audit_wanted()
    assert [reader.search(v, 1)[0][0] for v in reader.get(pks)] == pks
    found = reader.stranded_apart(reader.graph_rows())
    assert found is not None and reader.adopt_orphans(*found)
    assert not reader.audit_wanted()
    assert json.loads((folder / "ann.json").read_text())["version"] == 3
    # The next writer (which, under the folder lock, loads what another process committed
    # before it writes: search/follow.py) folds over it all.
    index = VectorIndex.open(folder, model="m", dim=64, ann_threshold=100)
    index.upsert(list(range(701, 801)), data[700:])
    index.flush()
    assert json.loads((folder / "ann.json").read_text())["version"] == 4
    assert not live.exists()  # the old names are gone; a process mapping them keeps the inode
    pks = list(range(1, 801))
    after = VectorIndex.open(folder, model="m", dim=64, ann_threshold=100)
    assert [after.search(v, 1)[0][0] for v in after.get(pks)] == pks
    assert [reader.search(v, 1)[0][0] for v in reader.get(pks[:700])] == pks[:700]


def test_papers_as_queries_search_the_mapped_graph_at_their_own_depth(tmp_path: Path) -> None:
    data = _clustered(3000, 64, seed=1)
    writer = VectorIndex.open(
        tmp_path / "v", model="m", dim=64, ann_threshold=500, ef_search_papers=10
    )
    writer.upsert(list(range(1, 3001)), data)
    writer.flush()
    reader = VectorIndex.open(
        tmp_path / "v", model="m", dim=64, ann_threshold=500, ef_search_papers=10
    )
    queries = _clustered(100, 64, seed=2)

    def recall(**kw: bool) -> float:
        exact = [{p for p, _ in reader.search(q, 10, exact=True)} for q in queries]
        found = [{p for p, _ in reader.search(q, 10, **kw)} for q in queries]
        return float(np.mean([len(f & e) / 10 for f, e in zip(found, exact, strict=True)]))

    # One mapped file, two depths: a few-word query at ef 1024, a paper at ef 10 (here far
    # too shallow, so that the depth shows in the answers).
    assert reader.approximate
    assert recall() >= 0.95
    assert recall(paper=True) < 0.9
    # ... and one mapping each for the writer and the reader: a view of its own for the
    # second depth would cost every web worker ~50 MB at 1M papers.
    graph_files = list((tmp_path / "v").glob("ann-*.usearch"))
    assert len(graph_files) == 1
    maps = Path("/proc/self/maps").read_text().splitlines()
    assert sum(line.endswith(str(graph_files[0])) for line in maps) == 2


def _mapped_kb(path: Path) -> int:
    """Resident kB of this process's mappings of ``path`` (pages it touched)."""
    total, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split()
        if "-" in head[0] and len(head) >= 5:  # a mapping's first line
            inside = line.endswith(str(path))
        elif inside and head[0] == "Rss:":
            total += int(head[1])
    return total


def test_a_served_index_reads_the_vectors_its_graph_holds_from_the_graph(tmp_path: Path) -> None:
    """One copy of the vectors in a web worker's memory, not two: the rows the saved graph
    holds are read from its file (which searches touch anyway), so a reader leaves the rows
    file's pages alone; rows written since come from the rows file."""
    data = _clustered(4000, 256, seed=1)  # a rows file of 2 MB
    writer = VectorIndex.open(tmp_path / "v", model="m", dim=256, ann_threshold=500)
    writer.upsert(list(range(1, 4001)), data)
    writer.flush()
    writer.upsert([4001], data[:1] * 0.5 + data[1:2] * 0.5)
    writer.flush()  # one row the graph does not hold
    reader = VectorIndex.open(tmp_path / "v", model="m", dim=256, ann_threshold=500)
    rows_file = tmp_path / "v" / "vectors.f16"
    assert _mapped_kb(rows_file) == 0
    got = reader.get(list(range(1, 4002)))
    assert np.abs(got[:4000] - data.astype(np.float16).astype(np.float32)).max() < 1e-3
    assert np.abs(got[4000] - (data[0] * 0.5 + data[1] * 0.5)).max() < 1e-3
    # The last row's page and the kernel's fault-around of it (64 kB), not the 2 MB file.
    resident = _mapped_kb(rows_file)
    assert resident <= 256, f"{resident} kB of the rows file resident"
    assert reader.cosines([6, 9999], data[5]) == [pytest.approx(1.0, abs=1e-3), 0.0]


def test_vector_updates_deletes_and_compaction(tmp_path: Path) -> None:
    index = VectorIndex.open(tmp_path / "v", model="m", dim=4, ann_threshold=1000)
    eye = np.eye(4, dtype=np.float32)
    index.upsert([10, 20, 30], eye[:3])
    index.upsert([10], eye[3:4])  # 10 moves to the 4th axis
    assert index.search(eye[3], 1) == [(10, pytest.approx(1.0))]
    index.delete([20])
    assert 20 not in {pk for pk, _ in index.search(eye[1], 3)}
    index.flush()
    reopened = VectorIndex.open(tmp_path / "v", model="m", dim=4, ann_threshold=1000)
    assert len(reopened) == 2 and sorted(pk for pk, _ in reopened.search(eye[0], 5)) == [10, 30]
    other = VectorIndex.open(tmp_path / "v", model="other", dim=4, ann_threshold=1000)
    assert other.reset and len(other) == 0


def test_flushes_write_only_changes_and_reopening_searches_the_delta(tmp_path: Path) -> None:
    folder = tmp_path / "v"
    data = _clustered(1200, 32, seed=3)
    index = VectorIndex.open(folder, model="m", dim=32, ann_threshold=500)
    index.upsert(list(range(1, 1001)), data[:1000])
    index.flush()  # the HNSW graph is new: saved as version 1, covering 1,000 rows
    graph_file = folder / "ann-000001.usearch"
    snapshot = graph_file.stat().st_mtime_ns
    assert json.loads((folder / "ann.json").read_text())["covered"] == 1000
    index.upsert(list(range(1001, 1101)), data[1000:1100])  # new papers
    index.upsert([5, 6], data[1100:1102])  # changed papers: new vectors
    index.delete([7, 8, 1050])
    index.flush()
    # Appended rows and in-place dead marks; the saved graph is left as it was.
    assert graph_file.stat().st_mtime_ns == snapshot
    assert json.loads((folder / "ann.json").read_text())["version"] == 1
    assert (folder / "keys.i64").stat().st_size == 8 * 1102
    keys = np.fromfile(folder / "keys.i64", dtype=np.int64)
    assert keys[4] == keys[5] == keys[6] == keys[7] == -1 and keys[-1] == 6
    reopened = VectorIndex.open(folder, model="m", dim=32, ann_threshold=500)
    assert reopened.approximate and len(reopened) == 1097
    for pk, vector in ((5, data[1100]), (6, data[1101]), (1100, data[1099])):
        assert reopened.search(vector, 1)[0][0] == pk  # the rows after the graph: exact
    found = {p for q in data[:1100:37] for p, _ in reopened.search(q, 20)}
    assert not found & {7, 8, 1050}  # stale in the graph, deleted from the rows
    assert np.array_equal(reopened.get([5]), np.asarray([data[1100]], dtype=np.float16))
    # A flush cut short (vectors appended, keys not) is ignored on open: its commit never ran.
    with (folder / "vectors.f16").open("ab") as out:
        out.write(np.asarray(data[:3], dtype=np.float16).tobytes())
    assert len(VectorIndex.open(folder, model="m", dim=32, ann_threshold=500)) == 1097


def test_graph_is_folded_in_as_a_new_version_readers_keep_theirs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once enough rows changed, the writer saves a new graph version; a reader that maps
    the old one (its file since unlinked) still answers, and a new open maps the new one."""
    monkeypatch.setattr(vectors_module, "_ANN_MERGE", 50)
    folder = tmp_path / "v"
    data = _clustered(1300, 32, seed=8)
    writer = VectorIndex.open(folder, model="m", dim=32, ann_threshold=500)
    writer.upsert(list(range(1, 1001)), data[:1000])
    writer.flush()
    reader = VectorIndex.open(folder, model="m", dim=32, ann_threshold=500)
    writer.upsert(list(range(1001, 1101)), data[1000:1100])
    writer.delete(list(range(1, 21)))
    writer.flush()  # 120 changes > 50: folded into version 2
    assert json.loads((folder / "ann.json").read_text()) | {"rows_file": ""} == {
        "version": 2,
        "covered": 1100,
        "rows_file": "",
        "audited": False,  # rows were inserted: the graph thread checks every row later
    }
    assert (
        not (folder / "ann-000001.usearch").exists() and (folder / "ann-000002.usearch").is_file()
    )
    # Its version-1 view, as it was (top 10: HNSW is approximate, the point is that it reads)
    assert 1 in [pk for pk, _ in reader.search(data[0], 10)]
    fresh = VectorIndex.open(folder, model="m", dim=32, ann_threshold=500)
    assert fresh.search(data[1050], 1)[0][0] == 1051 and fresh.search(data[0], 1)[0][0] != 1
    assert fresh._graph is not None and not fresh._graph.stale and fresh._graph.covered == 1100
    # Deleting most of the graph compacts the rows: a new epoch and a new version, and the
    # reader that opened before the compaction is not confused by the renumbered rows.
    writer.delete(list(range(21, 900)))
    writer.flush()
    after = VectorIndex.open(folder, model="m", dim=32, ann_threshold=500)
    assert after.approximate and len(after) == 1100 - 899
    assert after.search(data[950], 1)[0][0] == 951
    assert fresh.search(data[950], 1)[0][0] == 951


def test_stale_neighbours_never_crowd_out_live_ones(tmp_path: Path) -> None:
    """Deleting the 200 nearest papers of a query without folding the graph: the search
    asks the graph for more until it has k live answers."""
    folder = tmp_path / "v"
    data = _clustered(3000, 32, seed=9)
    index = VectorIndex.open(folder, model="m", dim=32, ann_threshold=500)
    index.upsert(list(range(1, 3001)), data)
    index.flush()
    nearest = [pk for pk, _ in index.search(data[0], 200, exact=True)]
    index.delete(nearest)
    expected = [pk for pk, _ in index.search(data[0], 10, exact=True)]
    got = [pk for pk, _ in index.search(data[0], 10)]
    assert len(got) == 10 and not set(got) & set(nearest)
    assert len(set(got) & set(expected)) >= 8


def test_folder_of_an_earlier_layout_is_searched_exactly_until_a_write(tmp_path: Path) -> None:
    folder = tmp_path / "v"
    data = _clustered(1000, 32, seed=5)
    index = VectorIndex.open(folder, model="m", dim=32, ann_threshold=500)
    index.upsert(list(range(1, 1001)), data)
    index.flush()
    (folder / "ann.json").unlink()  # as a folder written before graph versions
    legacy = VectorIndex.open(folder, model="m", dim=32, ann_threshold=500)
    assert not legacy.approximate  # searched exactly until a writer builds the graph
    assert legacy.search(data[10], 1)[0][0] == 11
    legacy.upsert([1001], data[:1])
    assert legacy.approximate
    legacy.flush()
    again = VectorIndex.open(folder, model="m", dim=32, ann_threshold=500)
    assert again.approximate and again.search(data[10], 1)[0][0] == 11


@needs_minilm
def test_sentence_transformers_local_model(
    settings: Settings, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = emb.load_embedder("st:all-MiniLM-L6-v2")
    assert model.dim == 384 and model.name == "st:all-MiniLM-L6-v2"
    add_papers(store, settings, CORPUS)
    st = settings.model_copy(
        update={"search": settings.search.model_copy(update={"embedder": model.name})}
    )
    svc = SearchService.open(st, store)
    assert svc.search("galaxies and dark matter", mode="dense").hits[0].paper_id == "2401.00004"


@needs_minilm
def test_a_query_is_encoded_on_one_torch_thread_and_batches_on_every_one(
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    """A query is too small to share between cores, and on a busy host torch's threads wait
    for each other after every operator; batches (an index build) keep every thread, and
    the query's setting never leaks into the thread that made it or into another."""
    import threading

    import torch

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = emb.load_embedder("st:all-MiniLM-L6-v2")
    assert isinstance(model, emb.SentenceTransformerEmbedder)
    request.addfinalizer(functools.partial(torch.set_num_threads, torch.get_num_threads()))
    torch.set_num_threads(2)
    seen: list[int] = []
    encode = model.model.encode

    def recording(*args: object, **kwargs: object) -> object:
        seen.append(torch.get_num_threads())
        return encode(*args, **kwargs)

    monkeypatch.setattr(model.model, "encode", recording)
    one = model.embed(["coffee lowers the risk of liver cirrhosis"])
    assert seen == [1] and torch.get_num_threads() == 2
    batch = model.embed([f"sentence {i} about liver disease" for i in range(20)] + ["x"])
    assert seen == [1, 2] and batch.shape == (21, 384)
    assert float(one[0] @ model.embed(["coffee lowers the risk of liver cirrhosis"])[0]) > 0.9999
    other: list[int] = []
    thread = threading.Thread(target=lambda: (model.embed(["a query"]), other.append(0)))
    thread.start()
    thread.join()
    assert other and seen[-1] == 1 and torch.get_num_threads() == 2


@needs_minilm
def test_batches_run_in_bfloat16_when_asked_and_agree_with_float32(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Index work in bfloat16 gives each text a vector within a cosine of 0.999 of its
    float32 one (and not the same numbers: the format is really used); a query is encoded in
    float32 whatever the setting, so it is the same vector either way."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    fast = emb.load_embedder("st:all-MiniLM-L6-v2", precision="bfloat16")
    exact = emb.load_embedder("st:all-MiniLM-L6-v2", precision="float32")
    assert isinstance(fast, emb.SentenceTransformerEmbedder) and fast.batch_bf16
    assert isinstance(exact, emb.SentenceTransformerEmbedder) and not exact.batch_bf16
    texts = [
        f"Finding {i}: coffee intake and the risk of liver disease in adults." for i in range(16)
    ]
    ours, theirs = fast.embed(texts), exact.embed(texts)
    assert float((ours * theirs).sum(axis=1).min()) > 0.999 and not np.array_equal(ours, theirs)
    query = ["coffee lowers the risk of liver cirrhosis"]
    assert np.array_equal(fast.embed(query), exact.embed(query))
    auto = emb.load_embedder("st:all-MiniLM-L6-v2")
    assert isinstance(auto, emb.SentenceTransformerEmbedder)
    assert auto.batch_bf16 == (torch_cpu.batch_precision("auto") == "bfloat16")


def _one_direction(n: int, dim: int, seed: int) -> np.ndarray:
    """Unit vectors that share one dominant direction, as mean-pooled embeddings do."""
    rng = np.random.default_rng(seed)
    common = rng.normal(size=dim)
    common /= np.linalg.norm(common)
    return emb.normalize_rows((3.0 * common + _clustered(n, dim, seed)).astype(np.float32))


def test_hnsw_is_centred_and_reports_cosines(tmp_path: Path) -> None:
    data = _one_direction(6000, 64, seed=3)
    index = VectorIndex.open(tmp_path / "v", model="m", dim=64, ann_threshold=500)
    index.upsert(list(range(1, 6001)), data)
    assert index.approximate
    # The graph holds vectors minus half their mean: most of the shared direction is gone.
    assert index._graph is not None
    assert np.linalg.norm(index._graph.center) == pytest.approx(
        0.5 * np.linalg.norm(data.mean(axis=0)), rel=1e-3
    )
    queries = emb.normalize_rows(
        (data[:200:2] + np.random.default_rng(4).normal(size=(100, 64))).astype(np.float32)
    )
    recalls = []
    for q in queries:
        approx, exact = index.search(q, 10), index.search(q, 10, exact=True)
        recalls.append(len({p for p, _ in approx} & {p for p, _ in exact}) / 10)
        cosines = dict(exact)
        for pk, score in approx:  # reported scores are cosines, not centred inner products
            if pk in cosines:
                assert score == pytest.approx(cosines[pk], abs=2e-3)
    # usearch builds the graph on several threads, so the graph (and recall) differs from run
    # to run (0.939 seen once on the 2-core machine, 0.95 and over otherwise).
    assert np.mean(recalls) >= 0.92
    index.flush()
    assert (tmp_path / "v" / "ann-000001.center").is_file()
    reopened = VectorIndex.open(tmp_path / "v", model="m", dim=64, ann_threshold=500)
    assert reopened._graph is not None
    assert np.array_equal(reopened._graph.center, index._graph.center)
    assert reopened.search(data[7], 1)[0][0] == 8


def test_vectors_are_mapped_and_rewrites_replace_the_file(tmp_path: Path) -> None:
    """Readers map vectors.f16 (web workers share its pages); a compaction writes a new
    file and renames it, so a reader's mapping of the old one never changes under it."""
    rng = np.random.default_rng(3)
    data = rng.normal(size=(300, 16)).astype(np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    index = VectorIndex.open(tmp_path / "v", model="m", dim=16, ann_threshold=10_000)
    index.upsert(list(range(1, 301)), data)
    index.flush()
    reader = VectorIndex.open(tmp_path / "v", model="m", dim=16, ann_threshold=10_000)
    path = str(tmp_path / "v" / "vectors.f16")
    assert path in Path("/proc/self/maps").read_text()
    before = reader.search(data[7], 3)
    inode = (tmp_path / "v" / "vectors.f16").stat().st_ino
    index.delete(list(range(1, 200)))  # more than a quarter dead: the next flush compacts
    index.flush()
    assert (tmp_path / "v" / "vectors.f16").stat().st_ino != inode
    assert reader.search(data[7], 3) == before  # the old mapping still reads the old rows
    fresh = VectorIndex.open(tmp_path / "v", model="m", dim=16, ann_threshold=10_000)
    assert len(fresh) == 101 and fresh.search(data[250], 1)[0][0] == 251


def test_the_writer_maps_its_rows_after_a_flush(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The web worker that applied the feed keeps no private copy of the rows once they are
    in the file (it maps them, as the other workers do); its next writes still go through,
    and a pk written twice in one batch keeps its last vector."""
    monkeypatch.setattr(vectors_module, "_MAP_AFTER_FLUSH", 100)
    rng = np.random.default_rng(4)
    data = rng.normal(size=(400, 16)).astype(np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    folder = tmp_path / "v"
    index = VectorIndex.open(folder, model="m", dim=16, ann_threshold=10_000)
    index.upsert(list(range(1, 51)), data[:50])
    index.flush()
    assert not isinstance(index._vectors, np.memmap)  # small: kept in memory
    index.upsert(list(range(51, 201)), data[50:200])
    index.flush()
    assert isinstance(index._vectors, np.memmap)
    assert str(folder / "vectors.f16") in Path("/proc/self/maps").read_text()
    index.upsert([5, 300, 5], data[200:203])  # 5 twice: the second vector wins
    index.delete([7])
    assert len(index) == 200 and 7 not in index and 300 in index
    assert index.search(data[202], 1)[0][0] == 5 and index.search(data[201], 1)[0][0] == 300
    index.flush()
    reopened = VectorIndex.open(folder, model="m", dim=16, ann_threshold=10_000)
    assert len(reopened) == 200
    assert np.array_equal(reopened.get([5, 9]), index.get([5, 9]))
    assert np.array_equal(reopened.get([5])[0], data[202].astype(np.float16))
    assert reopened.search(data[100], 1)[0][0] == 101


def test_search_depth_follows_the_graphs_size_unless_configured(tmp_path: Path) -> None:
    """Unset, a few-word query's HNSW depth is auto_ef of the graph's size (1024 at 1M,
    by the square root of the size, at least 256); a configured depth is kept as given."""
    assert [auto_ef(n) for n in (0, 6000, 62_500, 100_000, 1_000_000, 4_000_000)] == [
        256,
        256,
        256,
        324,
        1024,
        2048,
    ]
    data = _one_direction(1000, 16, seed=5)
    auto = VectorIndex.open(tmp_path / "a", model="m", dim=16, ann_threshold=100)
    auto.upsert(list(range(1, 1001)), data)
    configured = VectorIndex.open(
        tmp_path / "c", model="m", dim=16, ann_threshold=100, ef_search=600
    )
    configured.upsert(list(range(1, 1001)), data)
    assert auto.text_depth == 256 and configured.text_depth == 600
    auto.set_depth(40, 40)
    assert auto.text_depth == 40
    assert auto._graph is not None and auto._graph.ann.expansion_search == 40
    assert auto.search(data[9], 1)[0][0] == 10
