"""`papertide bench search`: ingest + index rate, index size, serving memory and latency.

Papers come from SnapshotGenerator with topics mixed in (TopicalSnapshotGenerator): each
paper draws a share of its words from one of a few hundred topic vocabularies, so that
similar papers exist, as in real abstracts. Serving is measured in a fresh process (spawn)
that opens the store and the index, as `papertide serve` would.
"""

from __future__ import annotations

import multiprocessing
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.engine import make_url

from papertide.bench.memory import measure_server_memory
from papertide.bench.output import BenchFailed, Echo
from papertide.bench.synth import SnapshotGenerator
from papertide.config import Settings
from papertide.ingest import IngestOptions, ingest_paths
from papertide.search.embedders import DEFAULT_EMBEDDER, StaticEmbedder, load_embedder, paper_text
from papertide.search.eval_similar import hub_share
from papertide.search.pgvector_index import PgVectorIndex
from papertide.search.service import SearchService
from papertide.search.vectors import VectorIndex
from papertide.store import Store
from papertide.store.scratch import scratch_database

# A progress bar: (label, total) -> a context yielding advance(n) (cli.common.progress_bar).
Bar = Callable[[str, int], AbstractContextManager[Callable[[int], None]]]

_TOPICS, _TOPIC_WORDS, _TOPIC_SHARE = 400, 40, 0.3


class TopicalSnapshotGenerator(SnapshotGenerator):
    """SnapshotGenerator whose papers each lean on one topic's words (30% of their words)."""

    def __init__(self, *, seed: int = 0, vocabulary: int = 30_000) -> None:
        super().__init__(seed=seed, vocabulary=vocabulary)
        pool = self.words[300:]
        self.topics = [self.rng.sample(pool, _TOPIC_WORDS) for _ in range(_TOPICS)]
        self.topic = self.topics[0]

    def record(self, index: int) -> dict[str, Any]:
        """The snapshot object for the ``index``-th paper, on a random topic."""
        self.topic = self.topics[self.rng.randrange(_TOPICS)]
        return super().record(index)

    def _words(self, n: int) -> list[str]:
        base = super()._words(n)
        return [
            self.rng.choice(self.topic) if self.rng.random() < _TOPIC_SHARE else w for w in base
        ]


def run_bench_search(
    base: Settings,
    *,
    papers: int,
    queries: int,
    keep: Path | None,
    workers: int,
    echo: Echo,
    bar: Bar | None = None,
) -> None:
    """Ingest and index ``papers`` generated papers, then time each kind of query; with a
    PostgreSQL database_url, in a scratch database there, for both vector backends. ``bar``
    shows the indexing's progress (an hour at 100k papers with a sentence-transformers model)."""
    if base.database_url:
        with scratch_database(base.database_url, keep=keep is not None) as url:
            node = base.model_copy(update={"database_url": url})
            if keep is not None:  # the folder's indexes are of this database: keep both
                echo(f"scratch database kept: {make_url(url).database}")
            _bench_search(node, papers, queries, keep, workers, echo, bar)
    else:
        _bench_search(base, papers, queries, keep, workers, echo, bar)


def _bench_search(
    base: Settings,
    papers: int,
    queries: int,
    keep: Path | None,
    workers: int,
    echo: Echo,
    bar: Bar | None,
) -> None:
    with tempfile.TemporaryDirectory(prefix="papertide-bench-search-") as tmp:
        folder = keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        settings = base.model_copy(update={"data_dir": folder / "data"})
        source = folder / "snapshot.jsonl"
        with source.open("wb") as fh:
            fh.writelines(TopicalSnapshotGenerator(seed=1).lines(papers))
        rate = _embed_rate(settings.search.embedder, min(papers, 20_000))
        echo(
            f"embedder {settings.search.embedder}: {rate:,.0f} abstracts/s "
            f"({min(papers, 20_000):,} generated papers, batches of 512, first sight)"
        )
        store = Store.open(settings.resolved_database_url)
        started = time.perf_counter()
        report = ingest_paths(
            store, [source], settings=settings, options=IngestOptions(fmt="arxiv-snapshot")
        )
        ingested = time.perf_counter() - started
        svc = SearchService.open(settings, store, catch_up=False)
        with bar("indexing", papers) if bar else nullcontext(None) as advance:
            indexed = svc.refresh(advance)
        total = time.perf_counter() - started
        size = svc.size_on_disk()
        svc.close()
        store.close()
        if report.added != papers or indexed != papers:
            raise BenchFailed(
                f"expected {papers:,} papers: {report.added:,} stored, {indexed:,} indexed"
            )
        echo(
            f"ingest+index {papers:,} papers: {papers / total:,.0f} papers/s "
            f"(store {papers / ingested:,.0f}/s, index {papers / (total - ingested):,.0f}/s); "
            f"index on disk {size / 1e6:,.0f} MB"
        )
        runs = {"local": settings}
        if settings.database_url:
            runs["pgvector"] = _pgvector_node(settings, folder, papers, echo)
        ctx_spawn = multiprocessing.get_context("spawn")
        for backend, node in runs.items():
            with ctx_spawn.Pool(1) as pool:
                figures = pool.apply(serve_figures, (node, queries))
            _print_figures(backend, figures, echo)
            if workers:
                _print_memory(node, workers, papers, queries, echo)


def _print_memory(settings: Settings, workers: int, papers: int, queries: int, echo: Echo) -> None:
    """`serve --workers N` over the index: PSS and RSS summed over its processes."""
    rng = random.Random(11)
    records = list(map(TopicalSnapshotGenerator(seed=1).record, range(min(papers, 5_000))))
    picked = rng.sample(records, min(queries, len(records)))
    titles = [" ".join(rng.sample(t, min(3, len(t)))) for t in (r["title"].split() for r in picked)]
    memory = measure_server_memory(
        settings, workers=workers, titles=titles, paper_ids=[r["id"] for r in picked]
    )
    echo(
        f"  [bold]serve --workers {workers}: PSS {memory.pss_total:,.0f} MB in all[/] "
        f"(RSS summed {memory.rss_total:,.0f} MB); per process PSS "
        + ", ".join(f"{mb:,.0f}" for mb in memory.pss)
        + f" MB, after {2 * len(titles) + len(picked):,} requests spread over the workers"
    )


def _pgvector_node(settings: Settings, folder: Path, papers: int, echo: Echo) -> Settings:
    """A second node's settings (own data folder, pgvector backend), its index built."""
    search = settings.search.model_copy(update={"vector_backend": "pgvector"})
    node = settings.model_copy(update={"data_dir": folder / "node-pg", "search": search})
    store = Store.open(node.resolved_database_url)
    started = time.perf_counter()
    svc = SearchService.open(node, store, catch_up=False)
    indexed = svc.refresh()
    svc.close()
    store.close()
    if indexed != papers:
        raise BenchFailed(f"expected {papers:,} papers in the pgvector build, {indexed:,} indexed")
    echo(
        f"pgvector node: loaded {papers - svc.embedded:,} stored embeddings and built its "
        f"HNSW index in {time.perf_counter() - started:,.1f} s (embedded again: "
        f"{svc.embedded:,})"
    )
    return node


def _print_figures(backend: str, figures: dict[str, Any], echo: Echo) -> None:
    echo(f"[bold]{backend}[/]")
    for kind in ("bm25", "dense", "hybrid", "similar", "similar stored"):
        lat = figures[kind]
        echo(f"  {kind:14} p50 {lat[0]:7.2f} ms   p99 {lat[1]:7.2f} ms")
    share, lists = figures["hub"]
    echo(
        f"  similar lists: the most frequent paper is in {100 * share:.2f}% of {lists:,} "
        f"top-5 lists (uniform: {500 / max(figures['papers'], 1):.4f}%)"
    )
    echo(
        f"  serving RSS {figures['rss_mb']:,.0f} MB (open {figures['open_s']:.2f} s); "
        f"dense index {'HNSW' if figures['ann'] else 'exact'}, recall@10 vs exact "
        f"{figures['recall']:.3f} for 3-word queries, {figures['recall_papers']:.3f} for papers"
        + (f" (3-word queries at ef {figures['depth']})" if figures.get("depth") else "")
    )
    if "orphans" in figures:
        echo(
            f"  HNSW graph: {figures['orphans']:,} vectors no graph search reaches, "
            "scored exactly beside it"
        )
    for ef, recall, ms, recall_papers, ms_papers in figures.get("sweep", []):
        echo(
            f"  ef_search {ef:4}: 3-word queries recall@10 {recall:.3f}, p50 {ms:6.2f} ms; "
            f"papers (top 30) recall@10 {recall_papers:.3f}, p50 {ms_papers:6.2f} ms"
        )


def serve_figures(settings: Settings, count: int) -> dict[str, Any]:
    """In a fresh process: open store and index, time warm queries, read RSS and recall."""
    started = time.perf_counter()
    store = Store.open(settings.resolved_database_url, migrate=False)
    svc = SearchService.open(settings, store, catch_up=False)
    opened = time.perf_counter() - started
    rng = random.Random(7)
    sample = _sample_papers(svc, count, rng)
    texts = [" ".join(rng.sample(p[1].split(), min(3, len(p[1].split())))) for p in sample]
    figures: dict[str, Any] = {"open_s": opened, "papers": svc.lexical.num_docs()}
    for mode in ("bm25", "dense", "hybrid"):
        for text in texts[:20]:  # warm up
            svc.search(text, k=10, mode=mode)
        figures[mode] = _percentiles([_timed(svc.search, t, k=10, mode=mode) for t in texts])
    for pid, _ in sample[:20]:
        svc.similar(pid, k=10)
    # First view of a paper: neighbours computed (and stored); later views read them back.
    svc._similar.clear()
    svc.store.clear_similar()
    figures["similar"] = _percentiles([_timed(svc.similar, pid, k=10) for pid, _ in sample[20:]])
    svc._similar.clear()  # the in-process cache too: time the stored lists
    figures["similar stored"] = _percentiles(
        [_timed(svc.similar, pid, k=10) for pid, _ in sample[20:]]
    )
    # Hubness: the paper found in the most of these top-5 lists (uncut), as a share of them.
    hubs = hub_share(svc, [pid for pid, _ in sample[20:]])
    figures["hub"] = (hubs.share, hubs.lists)
    figures["rss_mb"] = _rss_mb()
    figures.update(_recall_figures(svc, store, sample, texts))
    store.close()
    return figures


def _recall_figures(
    svc: SearchService, store: Store, sample: list[tuple[str, str]], texts: list[str]
) -> dict[str, Any]:
    """Recall@10 of the dense index against exact search, for 3-word queries and for papers
    as queries; over an HNSW graph or pgvector, the depth sweep too."""
    vectors = svc._vector_index()
    figures: dict[str, Any] = {"ann": vectors.approximate}
    text_queries = svc.embedder.embed(texts[:200])
    # Papers as queries (what similar papers asks): abstract-length vectors, clearer ties.
    pks = [p.pk for p in store.papers_by_id([pid for pid, _ in sample[:200]]) if p.pk]
    paper_queries = vectors.get(pks)
    exact_text = vectors.exact_many(text_queries, 10)
    exact_papers = vectors.exact_many(paper_queries, 10)
    figures["recall"] = _recall(vectors, text_queries, exact_text)
    figures["recall_papers"] = _recall(vectors, paper_queries, exact_papers, paper=True)

    def sweep(depths: tuple[int, ...]) -> None:
        figures["sweep"] = []
        for ef in depths:
            vectors.set_depth(ef, ef)
            figures["sweep"].append(
                (
                    ef,
                    _recall(vectors, text_queries, exact_text),
                    _percentiles([_timed(vectors.search, q, 10) for q in text_queries])[0],
                    _recall(vectors, paper_queries, exact_papers, paper=True),
                    _percentiles([_timed(vectors.search, q, 30) for q in paper_queries])[0],
                )
            )

    if isinstance(vectors, PgVectorIndex):  # the depth sweep behind the pg_ef_* defaults
        kept = vectors.ef_search, vectors.ef_search_papers
        sweep((40, 80, 160, 400, 1000))
        vectors.set_depth(*kept)
    elif vectors.approximate:  # the local graph: the depth sweep behind auto_ef
        figures["depth"] = vectors.text_depth
        figures["orphans"] = vectors.orphans
        configured = vectors.ef_search, vectors.ef_search_papers
        sweep((128, 256, 384, 512, 1024))
        vectors.set_depth(*configured)
    return figures


def _sample_papers(svc: SearchService, count: int, rng: random.Random) -> list[tuple[str, str]]:
    """Random stored papers (id, title), read from the index by pk (a fresh store's pks)."""
    total = svc.lexical.num_docs()
    pks = rng.sample(range(1, total + 1), min(count + 20, total))
    found = svc.lexical.papers(pks)
    return [(found[pk].id or "", found[pk].title) for pk in pks if pk in found]


def _embed_rate(name: str, count: int) -> float:
    """Papers embedded per second (title and abstract) by a newly loaded ``name``."""
    records = list(map(TopicalSnapshotGenerator(seed=2).record, range(count)))
    texts = [paper_text(r["title"], r["abstract"].strip()) for r in records]
    embedder = StaticEmbedder.wordllama() if name == DEFAULT_EMBEDDER else load_embedder(name)
    started = time.perf_counter()
    for start in range(0, len(texts), 512):
        embedder.embed(texts[start : start + 512])
    return len(texts) / (time.perf_counter() - started)


def _recall(
    vectors: VectorIndex | PgVectorIndex,
    queries: np.ndarray,
    exact: list[list[int]],
    *,
    paper: bool = False,
) -> float:
    """Share of the exact top 10 that the search (HNSW above the threshold) returns."""
    found = [
        len({pk for pk, _ in vectors.search(q, 10, paper=paper)} & set(e)) / 10
        for q, e in zip(queries, exact, strict=True)
    ]
    return float(np.mean(found)) if found else 0.0


def _timed(fn: Any, *args: Any, **kwargs: Any) -> float:
    started = time.perf_counter()
    fn(*args, **kwargs)
    return 1000 * (time.perf_counter() - started)


def _percentiles(ms: list[float]) -> tuple[float, float]:
    ordered = sorted(ms)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0
