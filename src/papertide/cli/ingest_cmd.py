"""`papertide ingest`: import files of papers into the store."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from papertide.cli.common import (
    console,
    err_console,
    fail,
    open_service,
    open_store,
    plural,
    settings_of,
)

if TYPE_CHECKING:  # the import stack is loaded by the command that runs it
    from papertide.models import ImportReport

# sources.files.FORMATS, named here without importing the parsers (tests/test_cli_help.py
# checks that the two agree).
_FORMATS_HELP = "auto, or one of: page, jsonl, arxiv-snapshot. auto looks at the first line."

_MAX_SHOWN_ERRORS = 20


def sample_paths() -> list[Path]:
    """The trending-page captures shipped inside the package."""
    from importlib import resources

    folder = resources.files("papertide") / "samples"
    return sorted(Path(str(p)) for p in folder.iterdir() if p.name.endswith(".txt"))


def ingest(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(None, help="Files to import (.gz is read through gzip)."),
    fmt: str = typer.Option(
        "auto",
        "--format",
        "-f",
        help=_FORMATS_HELP,
    ),
    samples: bool = typer.Option(False, "--samples", help="Import the bundled sample papers."),
    strict: bool = typer.Option(
        False, "--strict", help="Stop at the first unreadable record; nothing is imported then."
    ),
    namespace: str | None = typer.Option(
        None,
        "--id-namespace",
        help="Name for JSON-lines ids (default: the file name; a BEIR corpus.jsonl takes "
        "its folder's name).",
    ),
    fields: list[str] = typer.Option(
        [],
        "--field",
        help="JSON lines: map a paper field to a key, FIELD=KEY (dots for nested keys), "
        "e.g. --field abstract=summary --field authors=meta.authors. Repeatable.",
    ),
    page_year: int | None = typer.Option(
        None,
        "--page-year",
        help="Year for page dates written without one ('Mar 12'); default: the latest "
        "year that does not put the date in the future.",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
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
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    from papertide.ingest import ImportAborted, IngestOptions, ingest_paths
    from papertide.sources.files import FormatError
    from papertide.sources.jsonl import parse_mapping

    settings = settings_of(ctx)
    files = list(paths or []) + (sample_paths() if samples else [])
    if not files:
        raise fail("name at least one file to import, or use --samples", code=2)
    try:
        options = IngestOptions(
            fmt=fmt,
            strict=strict,
            namespace=namespace,
            mapping=parse_mapping(fields),
            page_year=page_year,
        )
    except ValueError as exc:
        raise fail(str(exc), code=2) from exc
    store = open_store(settings)
    total = sum(p.stat().st_size for p in files if p.is_file() and p.suffix != ".gz")
    progress = Progress(
        TextColumn("[bold]importing"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        disable=quiet,
        transient=True,
    )
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
        if report.added or report.changed:  # bring the search index up to date
            open_service(settings, store, quiet=quiet).close()
    except FormatError as exc:
        raise fail(f"{exc}\nNothing was imported.", code=2) from exc
    except ImportAborted as exc:
        raise fail(str(exc), code=1) from exc
    finally:
        store.close()
    print_report(report, files=len(files))


def print_report(report: ImportReport, *, files: int) -> None:
    """The import summary, with each unreadable record's file, line and reason."""
    for warning in report.warnings:
        err_console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    shown = report.errors[:_MAX_SHOWN_ERRORS]
    for error in shown:
        err_console.print(f"[red]skipped:[/] {error}", highlight=False)
    if len(report.errors) > len(shown):
        err_console.print(f"[red]... and {len(report.errors) - len(shown)} more skipped records")
    repeated = f"{report.repeated:,} repeats merged, " if report.repeated else ""
    console.print(
        f"Read {plural(report.records, 'record')} from {plural(files, 'file')} in "
        f"{report.seconds:.1f} s ({report.rate:,.0f} papers/s): "
        f"[green]{report.added:,} added[/], {report.changed:,} changed, "
        f"{report.unchanged:,} unchanged, {repeated}{len(report.errors):,} skipped; "
        f"listings: {report.listings_added} added, {report.listings_changed} changed.",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    """Add the command to the app."""
    app.command()(ingest)
