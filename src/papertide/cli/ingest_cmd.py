"""`papertide ingest`: import files of papers into the store."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from papertide.cli.common import (
    console,
    err_console,
    fail,
    index_stored_papers,
    open_store,
    plural,
    settings_of,
)

if TYPE_CHECKING:  # the import stack is loaded by the command that runs it
    from rich.progress import Progress

    from papertide.config import Settings
    from papertide.ingest import IngestOptions
    from papertide.models import ImportReport
    from papertide.store import Store

# sources.files.FORMATS, named here without importing the parsers (tests/cli/test_help.py
# checks that the two agree).
_FORMATS_HELP = "auto, or one of: page, jsonl, arxiv-snapshot. auto looks at the first line."

_MAX_SHOWN_ERRORS = 20


def sample_paths() -> list[Path]:
    """The trending-page captures shipped inside the package."""
    from importlib import resources

    folder = resources.files("papertide") / "samples"
    return sorted(Path(str(p)) for p in folder.iterdir() if p.name.endswith(".txt"))


_Files = Annotated[
    list[Path] | None, typer.Argument(help="Files to import (.gz is read through gzip).")
]
_Format = Annotated[str, typer.Option("--format", "-f", help=_FORMATS_HELP)]
_Samples = Annotated[bool, typer.Option("--samples", help="Import the bundled sample papers.")]
_Strict = Annotated[
    bool,
    typer.Option("--strict", help="Stop at the first unreadable record; nothing is imported then."),
]
_Namespace = Annotated[
    str | None,
    typer.Option(
        "--id-namespace",
        help="Name for JSON-lines ids (default: the file name; a BEIR corpus.jsonl takes "
        "its folder's name).",
    ),
]
_Fields = Annotated[
    list[str],
    typer.Option(
        "--field",
        help="JSON lines: map a paper field to a key, FIELD=KEY (dots for nested keys), "
        "e.g. --field abstract=summary --field authors=meta.authors. Repeatable.",
    ),
]
_PageYear = Annotated[
    int | None,
    typer.Option(
        "--page-year",
        help="Year for page dates written without one ('Mar 12'); default: the latest "
        "year that does not put the date in the future.",
    ),
]
_Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]


def ingest(
    ctx: typer.Context,
    paths: _Files = None,
    fmt: _Format = "auto",
    samples: _Samples = False,
    strict: _Strict = False,
    namespace: _Namespace = None,
    fields: _Fields = [],  # noqa: B006 (Typer's default for the option; never mutated)
    page_year: _PageYear = None,
    quiet: _Quiet = False,
) -> None:
    """Import papers from files: trending-page captures, JSON lines, the arXiv snapshot.

    Each paper is stored once: records of the same paper (same arXiv id in any version,
    same id in the file's namespace, or same title and first author) are merged. An import
    is all or nothing: if it stops, the store is as it was.

    Examples:

      papertide ingest --samples

      papertide ingest shared/seeds/*.txt

      papertide ingest arxiv-metadata-oai-snapshot.json --format arxiv-snapshot

      papertide ingest papers.jsonl --field abstract=summary --id-namespace mylab
    """
    settings = settings_of(ctx)
    files = list(paths or []) + (sample_paths() if samples else [])
    if not files:
        raise fail("name at least one file to import, or use --samples", code=2)
    options = _options(fmt, strict, namespace, fields, page_year)
    started = time.perf_counter()
    store = open_store(settings)
    try:
        report = _import(store, files, settings, options, quiet=quiet)
        indexing = time.perf_counter()
        note = (
            index_stored_papers(settings, store, quiet=quiet)
            if report.added or report.changed
            else None
        )
        indexing = time.perf_counter() - indexing
    finally:
        store.close()
    whole = time.perf_counter() - started
    print_report(report, files=len(files), whole=whole, indexing=indexing)
    if note:
        err_console.print(note, highlight=False)


def _options(
    fmt: str, strict: bool, namespace: str | None, fields: list[str], page_year: int | None
) -> IngestOptions:
    """The import's options; a bad --field ends the command (exit status 2)."""
    from papertide.ingest import IngestOptions
    from papertide.sources.jsonl import parse_mapping

    try:
        return IngestOptions(
            fmt=fmt,
            strict=strict,
            namespace=namespace,
            mapping=parse_mapping(fields),
            page_year=page_year,
        )
    except ValueError as exc:
        raise fail(str(exc), code=2) from exc


def _import(
    store: Store, files: list[Path], settings: Settings, options: IngestOptions, *, quiet: bool
) -> ImportReport:
    """Import ``files`` under a progress bar of the bytes read; an unreadable file or an
    aborted import ends the command."""
    from papertide.ingest import ImportAborted, ingest_paths
    from papertide.sources.files import FormatError

    total = sum(p.stat().st_size for p in files if p.is_file() and p.suffix != ".gz")
    progress = _progress(quiet)
    try:
        with progress:
            task = progress.add_task("import", total=total or None)
            report = ingest_paths(
                store,
                files,
                settings=settings,
                options=options,
                on_bytes=lambda n: progress.advance(task, n),
            )
    except FormatError as exc:
        raise fail(f"{exc}\nNothing was imported.", code=2) from exc
    except ImportAborted as exc:
        raise fail(str(exc), code=1) from exc
    return report


def _progress(quiet: bool) -> Progress:
    """The import's progress bar on stderr: bytes read, rate, time left (gone when done)."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    return Progress(
        TextColumn("[bold]importing"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        disable=quiet,
        transient=True,
    )


def print_report(
    report: ImportReport, *, files: int, whole: float | None = None, indexing: float = 0.0
) -> None:
    """The import summary, with each unreadable record's file, line and reason. ``whole``:
    the seconds of the whole run (start-up, storing, ``indexing``), which the rate is
    counted over."""
    for warning in report.warnings:
        err_console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    shown = report.errors[:_MAX_SHOWN_ERRORS]
    for error in shown:
        err_console.print(f"[red]skipped:[/] {error}", highlight=False)
    if len(report.errors) > len(shown):
        err_console.print(f"[red]... and {len(report.errors) - len(shown)} more skipped records")
    repeated = f"{report.repeated:,} repeats merged, " if report.repeated else ""
    seconds = report.seconds if whole is None else whole
    rate = report.records / seconds if seconds > 0 else 0.0
    parts = ""
    if whole is not None:
        parts = f"; storing {report.seconds:.1f} s, indexing {indexing:.1f} s"
    console.print(
        f"Read {plural(report.records, 'record')} from {plural(files, 'file')} in "
        f"{seconds:.1f} s ({rate:,.0f} papers/s{parts}): "
        f"[green]{report.added:,} added[/], {report.changed:,} changed, "
        f"{report.unchanged:,} unchanged, {repeated}{len(report.errors):,} skipped; "
        f"listings: {report.listings_added} added, {report.listings_changed} changed.",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    """Add the command to the app."""
    app.command()(ingest)
