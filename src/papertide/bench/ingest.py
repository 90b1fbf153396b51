"""`papertide bench ingest`: import generated arXiv-snapshot lines into fresh stores (SQLite,
and PostgreSQL when --database-url names a server)."""

from __future__ import annotations

import resource
import statistics
import tempfile
import time
from pathlib import Path

from papertide.bench.output import BenchFailed, Echo
from papertide.bench.synth import write_snapshot
from papertide.config import Settings
from papertide.ingest import IngestOptions, ingest_paths
from papertide.models import ImportReport
from papertide.sources.files import numbered_lines
from papertide.sources.snapshot import parse_snapshot
from papertide.store import Store
from papertide.store.scratch import scratch_database


def run_bench_ingest(
    base: Settings, *, papers: int, repeat: int, keep: Path | None, echo: Echo
) -> None:
    """Import ``papers`` generated lines ``repeat`` times, then again; print the medians
    (and PostgreSQL's beside SQLite's when base.database_url names a PostgreSQL server)."""
    postgres = base.database_url if base.database_url else None
    with tempfile.TemporaryDirectory(prefix="papertide-bench-") as tmp:
        source = keep or Path(tmp) / "snapshot.jsonl"
        started = time.perf_counter()
        write_snapshot(source, papers)
        echo(
            f"generated {papers:,} lines ({source.stat().st_size / 1e6:,.0f} MB) "
            f"in {time.perf_counter() - started:.1f} s"
        )
        parse_rates, import_rates, again_rates, pg_rates = [], [], [], []
        for run in range(repeat):
            parse_rates.append(_parse_rate(source, base))
            settings = base.model_copy(
                update={"data_dir": Path(tmp) / f"run{run}", "database_url": None}
            )
            first, second = _import_twice(settings, source, papers)
            import_rates.append(first.rate)
            again_rates.append(second.rate)
            line = (
                f"run {run + 1}: SQLite import {first.rate:,.0f} papers/s, re-import (all "
                f"unchanged) {second.rate:,.0f} papers/s, parse only {parse_rates[-1]:,.0f} lines/s"
            )
            if postgres:
                with scratch_database(postgres) as url:
                    pg_first, _ = _import_twice(
                        settings.model_copy(update={"database_url": url}), source, papers
                    )
                pg_rates.append(pg_first.rate)
                line += f"; PostgreSQL import {pg_first.rate:,.0f} papers/s"
            echo(line)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    imp, par = statistics.median(import_rates), statistics.median(parse_rates)
    echo(
        f"[bold]median import rate: {imp:,.0f} papers/s[/] (SQLite; re-import "
        f"{statistics.median(again_rates):,.0f}/s; parse-only baseline {par:,.0f}/s; "
        f"import/parse ratio {imp / par:.2f}); peak RSS {rss:,.0f} MB"
    )
    if pg_rates:
        pg = statistics.median(pg_rates)
        ratios = [p / s for p, s in zip(pg_rates, import_rates, strict=True)]
        echo(
            f"[bold]median PostgreSQL import rate: {pg:,.0f} papers/s[/], "
            f"{statistics.median(ratios):.2f}x SQLite (median of the runs' ratios)"
        )


def _import_twice(
    settings: Settings, source: Path, papers: int
) -> tuple[ImportReport, ImportReport]:
    """Import ``source`` into the settings' (empty) store, then again (nothing changes)."""
    store = Store.open(settings.resolved_database_url)
    try:
        options = IngestOptions(fmt="arxiv-snapshot")
        first = ingest_paths(store, [source], settings=settings, options=options)
        second = ingest_paths(store, [source], settings=settings, options=options)
    finally:
        store.close()
    if first.added != papers or second.added or second.changed:
        raise BenchFailed(
            f"expected {papers:,} added then nothing: got {first.added:,} added, then "
            f"{second.added:,} added and {second.changed:,} changed"
        )
    return first, second


def _parse_rate(source: Path, settings: Settings) -> float:
    started = time.perf_counter()
    count = sum(
        1
        for _ in parse_snapshot(
            numbered_lines(source),
            str(source),
            max_title=settings.max_title_chars,
            max_abstract=settings.max_abstract_chars,
        )
    )
    return count / (time.perf_counter() - started)
