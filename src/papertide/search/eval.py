"""BEIR evaluation: load a BEIR-layout folder into a temporary store and index, run its
queries through SearchService.search (the path the site uses), and score the rankings.

Layout (Thakur et al., 2021): corpus.jsonl ({"_id", "title", "text"}), queries.jsonl
({"_id", "text"}), qrels/SPLIT.tsv (query-id, corpus-id, score; a header line).

A split's queries fall into two fixed parts by a hash of their id (``part_of``): ``tune``,
where ranking settings are chosen, and ``held-out``, where the chosen settings are checked,
so that a figure on new claims is not one tuned to the same claims.
"""

from __future__ import annotations

import csv
import hashlib
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import orjson

from papertide.config import Settings
from papertide.ingest import IngestOptions, ingest_paths
from papertide.search.metrics import mrr_at, ndcg_at, recall_at
from papertide.search.service import SearchService
from papertide.store import Store

NAMESPACE = "beir"
PARTS = ("all", "tune", "held-out")


@dataclass(slots=True)
class BeirSet:
    """A BEIR data set: the corpus file, the judged queries and their judgements."""

    corpus: Path
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


@dataclass(slots=True)
class Scores:
    """Mean metrics of one mode over the judged queries."""

    mode: str
    ndcg10: float
    recall100: float
    mrr10: float
    queries: int
    ms_per_query: float
    part: str = "all"


def part_of(query_id: str) -> str:
    """The fixed part of a split a query belongs to: 'held-out' when the first byte of the
    SHA-256 of its id is odd (about half the queries), else 'tune'."""
    return "held-out" if hashlib.sha256(query_id.encode()).digest()[0] % 2 else "tune"


def load_beir(folder: Path, split: str = "test", part: str = "all") -> BeirSet:
    """Read a BEIR folder; only queries with judgements in ``split`` are kept, and of
    those only the ``part`` ('tune' or 'held-out', ``part_of``) unless it is 'all'."""
    if part not in PARTS:
        raise ValueError(f"part {part!r} is not one of {', '.join(PARTS)}")
    corpus, qrels_path = folder / "corpus.jsonl", folder / "qrels" / f"{split}.tsv"
    for needed in (corpus, folder / "queries.jsonl", qrels_path):
        if not needed.is_file():
            raise FileNotFoundError(f"{needed} is missing (BEIR layout expected)")
    qrels: dict[str, dict[str, int]] = {}
    with qrels_path.open(newline="") as handle:
        rows = csv.reader(handle, delimiter="\t")
        next(rows, None)
        for qid, doc, score, *_ in rows:
            if part == "all" or part_of(qid) == part:
                qrels.setdefault(qid, {})[doc] = int(score)
    queries: dict[str, str] = {}
    with (folder / "queries.jsonl").open("rb") as handle:
        for line in handle:
            if line.strip():
                item = orjson.loads(line)
                if str(item["_id"]) in qrels:
                    queries[str(item["_id"])] = item["text"]
    return BeirSet(corpus, queries, qrels)


def evaluate(
    beir: BeirSet,
    settings: Settings,
    modes: list[str],
    *,
    on_stage: Callable[[str], None] | None = None,
    on_indexed: Callable[[int], None] | None = None,
) -> list[Scores]:
    """Index ``beir`` in a temporary store with ``settings.search`` and score each mode:
    over all its queries, then over each part they fall in (``part_of``), when they fall in
    both; ``on_indexed(n)`` is called as papers are indexed (a progress bar)."""
    say = on_stage or (lambda _: None)
    with indexed(beir, settings, on_stage=say, on_indexed=on_indexed) as (svc, ids):
        return [s for mode in modes for s in _score(svc, beir, ids, mode, say)]


@contextmanager
def indexed(
    beir: BeirSet,
    settings: Settings,
    *,
    on_stage: Callable[[str], None],
    on_indexed: Callable[[int], None] | None = None,
) -> Iterator[tuple[SearchService, dict[str, str]]]:
    """``beir``'s corpus in a temporary store and index: the service, and paper id -> the
    corpus id it was imported under."""
    with tempfile.TemporaryDirectory(prefix="papertide-eval-") as tmp:
        local = settings.model_copy(update={"data_dir": Path(tmp), "database_url": None})
        store = Store.open(local.resolved_database_url)
        try:
            on_stage("importing the corpus")
            options = IngestOptions(fmt="jsonl", namespace=NAMESPACE)
            ingest_paths(store, [beir.corpus], settings=local, options=options)
            on_stage(f"indexing {store.count_papers():,} papers")
            svc = SearchService.open(local, store, catch_up=False)
            svc.refresh(on_indexed)
            try:
                yield svc, corpus_ids(store)
            finally:
                svc.close()
        finally:
            store.close()


def corpus_ids(store: Store) -> dict[str, str]:
    """Paper id -> the BEIR corpus id it was imported under."""
    out: dict[str, str] = {}
    for batch in store.iter_modified(None):
        for _, paper in batch:
            assert paper.id is not None
            full = store.get_paper(paper.id)
            if full is not None and NAMESPACE in full.external_ids:
                out[paper.id] = full.external_ids[NAMESPACE]
    return out


def _score(
    svc: SearchService, beir: BeirSet, ids: dict[str, str], mode: str, say: Callable[[str], None]
) -> list[Scores]:
    say(f"searching: {mode}")
    per_query: dict[str, tuple[float, float, float]] = {}
    started = time.perf_counter()
    for qid, text in beir.queries.items():
        hits = svc.search(text, k=100, mode=mode).hits
        ranked = [ids.get(hit.paper_id, "") for hit in hits]
        judged = beir.qrels[qid]
        per_query[qid] = (
            ndcg_at(ranked, judged, 10),
            recall_at(ranked, judged, 100),
            mrr_at(ranked, judged, 10),
        )
    ms = 1000 * (time.perf_counter() - started) / max(len(beir.queries), 1)
    parts = {qid: part_of(qid) for qid in per_query}
    out = [_mean(mode, "all", list(per_query.values()), ms)]
    if len(set(parts.values())) > 1:
        for part in PARTS[1:]:
            rows = [row for qid, row in per_query.items() if parts[qid] == part]
            out.append(_mean(mode, part, rows, ms))
    return out


def _mean(mode: str, part: str, rows: list[tuple[float, float, float]], ms: float) -> Scores:
    if not rows:
        return Scores(mode, 0.0, 0.0, 0.0, 0, ms, part)
    ndcg, recall, mrr = (statistics.fmean(col) for col in zip(*rows, strict=True))
    return Scores(mode, ndcg, recall, mrr, len(rows), ms, part)
