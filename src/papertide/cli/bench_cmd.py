"""`papertide bench ...`: benchmarks that print their figures (medians, and ratios to a
baseline measured in the same run, because shared machines are noisy).

Only the commands' options live here; the work is papertide.bench's. Each body imports its
benchmark when it runs, so that registering them costs `papertide --help` nothing, and hands
it the console to print through; a benchmark that cannot go on (BenchFailed) ends the
command with its message as the error.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from papertide.cli.common import console, fail, progress_bar, settings_of

bench_app = typer.Typer(help="Benchmarks: each prints medians and the baseline it compares to.")


@contextmanager
def _failures() -> Iterator[None]:
    """A benchmark's BenchFailed becomes the command's error (red, on stderr; exit 1)."""
    from papertide.bench.output import BenchFailed

    try:
        yield
    except BenchFailed as failed:
        raise fail(str(failed)) from None


@bench_app.command("ingest")
def bench_ingest(
    ctx: typer.Context,
    papers: int = typer.Option(100_000, "--papers", "-n", min=1, help="Generated papers."),
    repeat: int = typer.Option(3, "--repeat", "-r", min=1, help="Runs; the median is quoted."),
    keep: Path | None = typer.Option(
        None, "--keep", help="Write the generated snapshot lines here and keep them."
    ),
) -> None:
    """Import N generated arXiv-snapshot lines into a fresh store; print papers/s.

    Each run imports into a new SQLite database; the baseline is reading and parsing the
    same file without storing it, so the ratio shows what the store costs. With
    --database-url naming a PostgreSQL server, each run also imports into a new database
    created there (and dropped), and the PostgreSQL/SQLite ratio of the same run is printed.

    Example:  papertide bench ingest --papers 100000

    Example:  papertide --database-url postgresql+psycopg://me@localhost/postgres bench ingest
    """
    from papertide.bench.ingest import run_bench_ingest

    settings = settings_of(ctx)
    with _failures():
        run_bench_ingest(settings, papers=papers, repeat=repeat, keep=keep, echo=console.print)


@bench_app.command("search")
def bench_search(
    ctx: typer.Context,
    papers: int = typer.Option(100_000, "--papers", "-n", min=100, help="Generated papers."),
    queries: int = typer.Option(300, "--queries", "-q", min=10, help="Queries per kind."),
    keep: Path | None = typer.Option(
        None,
        "--keep",
        metavar="DIR",
        help="Keep the data folder here (and, on PostgreSQL, the scratch database; "
        "its name is printed).",
    ),
    workers: int = typer.Option(
        4, "--workers", "-w", min=0, help="Memory of `serve --workers N` per backend (0: skip)."
    ),
) -> None:
    """Ingest and index N generated papers, then time lexical, dense, hybrid and similar.

    Prints: the embedder's rate (abstracts/s, first sight); ingest+index papers/s; index
    size; serving RSS (a fresh process, after the queries); p50/p99 latency per kind over
    warm queries (similar: computed on a paper's first view; similar stored: later views,
    read back); HNSW recall@10 against exact search, for 3-word queries and for papers;
    then the memory of a real `papertide serve --workers N` over the index, queried
    through every worker: PSS summed over its processes (shared pages divided between the
    processes that map them: what the machine spends) beside RSS summed.

    With --database-url naming a PostgreSQL server, the papers go into a scratch database
    there, and the same figures are measured in the same run for both vector backends:
    local files (usearch HNSW) and pgvector (HNSW inside PostgreSQL, built from the
    embeddings the local build stored: nothing is embedded twice).

    Example:  papertide bench search --papers 100000

    Example:  papertide --database-url postgresql+psycopg://me@localhost/postgres bench search
    """
    from papertide.bench.search import run_bench_search

    settings = settings_of(ctx)
    with _failures():
        run_bench_search(
            settings,
            papers=papers,
            queries=queries,
            keep=keep,
            workers=workers,
            echo=console.print,
            bar=lambda label, total: progress_bar(label, total=total),
        )


@bench_app.command("nodes")
def bench_nodes(
    ctx: typer.Context,
    papers: int = typer.Option(100_000, "--papers", "-n", min=100, help="Generated papers."),
    rounds: int = typer.Option(50, "--rounds", "-r", min=5, help="Papers timed across nodes."),
) -> None:
    """Time what several machines on one database see of each other.

    N generated papers go into a scratch database (on the PostgreSQL server that
    --database-url names, else a SQLite file both nodes share), and node A builds its
    index, embedding every paper once. Then, with `papertide serve` running as node B (a
    data folder of its own), one paper at a time is stored and the time until B's
    /api/search finds it is taken, over R rounds (p50 and p99). Last, node C starts with
    an empty data folder: the time until it answers /healthz, and until its index is
    ready (it loads the stored embeddings), beside node A's first build as the baseline.

    Example:  papertide --database-url postgresql+psycopg://me@localhost/postgres bench nodes
    """
    from papertide.bench.nodes import run_bench_nodes

    settings = settings_of(ctx)
    with _failures():
        run_bench_nodes(settings, papers=papers, rounds=rounds, echo=console.print)


@bench_app.command("catchup")
def bench_catchup(
    ctx: typer.Context,
    papers: int = typer.Option(300, "--papers", "-n", min=10, help="Papers stored at the start."),
    added: int = typer.Option(300, "--added", "-a", min=10, help="Papers each import adds."),
    repeats: int = typer.Option(20, "--repeats", "-r", min=1, help="Imports killed."),
    workers: int = typer.Option(2, "--workers", "-w", min=1, help="serve's worker processes."),
) -> None:
    """Kill an import just past its commit, then check that "caught up" holds everywhere.

    N generated papers are stored and served by `papertide serve --workers W`. Each repeat
    runs `papertide ingest` on A new papers and SIGKILLs it once its papers are visible in
    the store (every other repeat: once their embeddings are being stored, mid-indexing);
    waits until /healthz reports the index ready, lag 0 and no build; then searches every
    stored paper's exact title (a BM25 phrase) through a connection to each worker, newest
    papers first. Prints each repeat's catch-up time and the titles each worker missed, and
    the total missed (the target: 0). With --database-url naming a PostgreSQL server, the
    store is a scratch database there.

    Example:  papertide bench catchup --repeats 20
    """
    from papertide.bench.catchup import run_bench_catchup

    settings = settings_of(ctx)
    with _failures():
        run_bench_catchup(
            settings,
            papers=papers,
            added=added,
            repeats=repeats,
            workers=workers,
            echo=console.print,
        )


@bench_app.command("web")
def bench_web(
    ctx: typer.Context,
    papers: int = typer.Option(100_000, "--papers", "-n", min=100, help="Generated papers."),
    requests: int = typer.Option(200, "--requests", "-r", min=10, help="Requests per page."),
    voters: int = typer.Option(200, "--voters", help="Accounts casting votes on recent papers."),
) -> None:
    """Fill a fresh store with N generated papers and votes, then time every page.

    Times are the app's own (the Server-Timing header), medians and 99th percentiles over
    warm requests, beside /healthz as the baseline of the framework itself.

    Example:  papertide bench web --papers 100000
    """
    from papertide.bench.web import run_bench_web

    settings = settings_of(ctx)
    with _failures():
        run_bench_web(settings, papers=papers, requests=requests, voters=voters, echo=console.print)


@bench_app.command("load")
def bench_load(
    ctx: typer.Context,
    papers: int = typer.Option(100_000, "--papers", "-n", min=100, help="Generated papers."),
    connections: int = typer.Option(64, "--connections", "-c", min=1, help="wrk connections."),
    duration: int = typer.Option(60, "--duration", "-d", min=1, help="Seconds per mix."),
    threads: int = typer.Option(2, "--threads", "-t", min=1, help="wrk threads."),
    workers: int = typer.Option(1, "--workers", "-w", min=1, help="serve's worker processes."),
    serve_threads: int | None = typer.Option(
        None, "--serve-threads", min=1, max=64, help="serve's --threads (default: the setting)."
    ),
    voters: int = typer.Option(30, "--voters", min=1, help="Signed-in voters (connections)."),
    overload: int = typer.Option(
        256, "--overload", min=0, help="Connections of the overload run (0: none)."
    ),
) -> None:
    """Serve N generated papers with `papertide serve` and load it with wrk.

    Mixes, each for --duration seconds: /healthz (the baseline); the anonymous mix (/,
    /trending, /search?q=random words, /papers/ID, /api/search); then the anonymous mix
    again while --voters signed-in users upvote and withdraw (JSON API) and read pages;
    last the anonymous mix over --overload connections, more than serve's threads and
    queue hold: requests accepted (p50, p99) and refused with 503, /healthz meanwhile.
    Prints requests/s, p50/p95/p99, errors and the server's RSS for each, the load average,
    and whether the vote rows equal the papers' vote counters afterwards. Needs wrk
    (Debian's package; scripts/services.sh installs it). With --database-url naming a
    PostgreSQL server, the store is a scratch database there.

    Example:  papertide bench load --papers 100000 --connections 64 --duration 60
    """
    from papertide.bench.load import LoadPlan, run_bench_load

    plan = LoadPlan(
        papers, connections, duration, threads, workers, voters, serve_threads, overload
    )
    settings = settings_of(ctx)
    with _failures():
        run_bench_load(settings, plan, console.print)


@bench_app.command("digest")
def bench_digest(
    ctx: typer.Context,
    subscribers: int = typer.Option(10_000, "--subscribers", "-n", min=1, help="Subscribers."),
    papers: int = typer.Option(2_000, "--papers", min=10, help="New papers in the period."),
) -> None:
    """Compose and deliver N personalised digests to a loopback SMTP server; print the rate.

    Needs aiosmtpd (the dev extra). Subscribers get varied interests (queries drawn from a
    pool, categories, authors, upvotes for one in ten); everything runs on a fresh SQLite
    store in a temporary folder.

    Example:  papertide bench digest --subscribers 10000
    """
    from papertide.bench.mail import run_bench_digest  # needs aiosmtpd

    run_bench_digest(settings_of(ctx), subscribers=subscribers, papers=papers, echo=console.print)


@bench_app.command("cli")
def bench_cli(
    ctx: typer.Context,
    runs: int = typer.Option(10, "--runs", "-n", min=1, help="Rounds; medians are quoted."),
    budget: float = typer.Option(
        0.3, "--budget", metavar="SECONDS", help="Target per help, over `python -c pass`."
    ),
    stats_budget: float = typer.Option(
        0.6, "--stats-budget", metavar="SECONDS", help="Target of `stats`, over python."
    ),
) -> None:
    """Time `papertide --help`, `--version`, every command's `--help` and `stats` on the
    demo's store in fresh processes, with PYTHONDONTWRITEBYTECODE=1.

    Each round runs `python -c pass` (the baseline: the interpreter's own start) and then
    every command once, so that all of them share the machine's load of the moment; the
    figures are medians over the rounds, with the time over the baseline and the ratio to
    it. The demo's store is made first in a temporary folder (untimed).

    Example:  papertide bench cli --runs 20
    """
    from papertide.bench.startup import run_bench_cli

    # The root command is the whole app: read from the context, not imported from cli.
    run_bench_cli(
        ctx.find_root().command,
        runs=runs,
        budget=budget,
        stats_budget=stats_budget,
        echo=console.print,
    )


@bench_app.command("pictures")
def bench_pictures(
    ctx: typer.Context,
    pdfs: int = typer.Option(30, "--pdfs", "-n", min=2, help="Generated PDFs (and thumbnails)."),
) -> None:
    """Draw generated PDFs and thumbnails in the worker's capped render process; print the
    render p50 (ms), the child's p50 with start-up against a child that only starts, its
    peak RSS (MB) and the pictures' sizes, against the targets (300 ms, 200 MB).

    Example:  papertide bench pictures --pdfs 30
    """
    from papertide.bench.pictures import run_bench_pictures

    wanted = settings_of(ctx).pictures
    with _failures():
        run_bench_pictures(
            pdfs=pdfs,
            memory_mb=wanted.render_memory_mb,
            timeout=wanted.render_timeout,
            echo=console.print,
        )


def register(app: typer.Typer) -> None:
    """Add `bench` and its commands to the app."""
    app.add_typer(bench_app, name="bench")
