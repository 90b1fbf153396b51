"""`papertide bench nodes`: how fast what one node stores becomes searchable on another,
and how long a new node takes to catch up; with real `papertide serve` processes."""

from __future__ import annotations

import contextlib
import os
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

from papertide.bench.output import Echo
from papertide.bench.server import scratch_run, serve_process, wait_until
from papertide.bench.synth import write_snapshot
from papertide.config import Settings
from papertide.ingest import IngestOptions, import_items, ingest_paths
from papertide.models import Paper, Record
from papertide.search.service import SearchService
from papertide.store import Store


def run_bench_nodes(base: Settings, *, papers: int, rounds: int, echo: Echo) -> None:
    """Cross-node visibility and a new node's catch-up (see `bench nodes --help`)."""
    with scratch_run(base, "papertide-bench-nodes-", "shared.db") as (settings, folder):
        _bench(settings, folder, papers, rounds, echo)


def _bench(settings: Settings, folder: Path, papers: int, rounds: int, echo: Echo) -> None:
    node_a = settings.model_copy(update={"data_dir": folder / "node-a"})
    store = Store.open(node_a.resolved_database_url)
    source = write_snapshot(folder / "snapshot.jsonl", papers, seed=4)
    ingest_paths(store, [source], settings=node_a, options=IngestOptions(fmt="arxiv-snapshot"))
    started = time.perf_counter()
    svc = SearchService.open(node_a, store)
    first_build = time.perf_counter() - started
    svc.close()
    echo(
        f"{papers:,} papers on {store.engine.dialect.name}; node A's first build "
        f"(embedding every paper) {first_build:.1f} s"
    )
    with _serve(settings.model_copy(update={"data_dir": folder / "node-b"})) as b:
        _until(lambda: b.get("/healthz").json()["index"]["ready"], 3600)
        delays = [_store_and_find(store, settings, b, n) for n in range(rounds)]
    ordered = sorted(delays)
    echo(
        f"[bold]stored on one node, searchable on another: p50 {statistics.median(ordered):.2f} s, "
        f"p99 {ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]:.2f} s[/] "
        f"over {rounds} papers (follow_interval {settings.search.follow_interval:g} s)"
    )
    started = time.perf_counter()
    with _serve(settings.model_copy(update={"data_dir": folder / "node-c"})) as c:
        _until(lambda: c.get("/healthz").status_code == 200, 600)
        answered = time.perf_counter() - started
        _until(lambda: c.get("/healthz").json()["index"]["ready"], 3600)
        ready = time.perf_counter() - started
        _until(lambda: c.get("/healthz").json()["index"]["graph"], 3600, pause=0.5)
        graph = time.perf_counter() - started
    echo(
        f"[bold]a new node: answers in {answered:.1f} s, fully searchable in {ready:.1f} s[/] "
        f"({ready / first_build:.2f}x node A's first build, which embedded every paper); "
        f"dense search exact until its HNSW graph was in, at {graph:.1f} s"
    )
    store.close()


def _store_and_find(store: Store, settings: Settings, node: httpx.Client, n: int) -> float:
    title = f"Benchmark node paper {n} quokkas tardigrades {os.getpid()}"
    paper = Paper(title=title, abstract="Measured across nodes.", authors=["Bench Mark"])
    with store.write() as session:
        import_items(session, [Record(paper, "bench-nodes", n)], settings=settings)
    stored = time.perf_counter()

    def found() -> bool:
        answer = node.get("/api/search", params={"q": f'"{title}"', "mode": "bm25"})
        return any(p["title"] == title for p in answer.json()["papers"])

    _until(found, 120, pause=0.02)
    return time.perf_counter() - stored


@contextlib.contextmanager
def _serve(settings: Settings) -> Iterator[httpx.Client]:
    with serve_process(settings) as (client, _):
        yield client


def _until(check: Callable[[], object], timeout: float, *, pause: float = 0.1) -> None:
    wait_until(check, timeout, pause=pause)
