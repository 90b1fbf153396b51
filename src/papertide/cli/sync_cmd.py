"""`papertide sync` and `papertide sources`: fetch fresh papers from the live sources."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

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

if TYPE_CHECKING:  # the network stack is loaded by the commands that run it
    import logging

    from papertide.config import Settings
    from papertide.sources.live import Page
    from papertide.store import Store
    from papertide.sync import SourceResult

_MAX_SHOWN_ERRORS = 10


_Sources = Annotated[
    list[str],
    typer.Option("--source", "-s", help="Run only this source (arxiv, oai, hf). Repeatable."),
]
_DryRun = Annotated[
    bool,
    typer.Option("--dry-run", help="Fetch and count, but keep nothing (papers and positions)."),
]
_Watch = Annotated[
    bool, typer.Option("--watch", help="Keep running: sync again every sync.interval_minutes.")
]
_Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or info lines.")]


def sync(
    ctx: typer.Context,
    source: _Sources = [],  # noqa: B006 (Typer's default for the option; never mutated)
    dry_run: _DryRun = False,
    watch_mode: _Watch = False,
    quiet: _Quiet = False,
) -> None:
    """Fetch what is new from the live sources: arXiv API, arXiv OAI-PMH, HF daily papers.

    Each source reads only what is new since its last successful run (remembered per
    source) and stores a page of papers together with its position, so a run cut short
    resumes where it stopped and running it twice adds nothing. Which sources, categories,
    sets and feeds: the sync settings, PAPERTIDE_SYNC__* (see `papertide sources`).

    Examples:

      papertide sync

      papertide sync --source hf --dry-run

      PAPERTIDE_SYNC__ARXIV_CATEGORIES=cs.CL,cs.IR papertide sync --source arxiv

      papertide sync --watch
    """
    from papertide.sync import sync_sources

    settings = settings_of(ctx)
    names = _names(source, settings)
    store = open_store(settings)
    note = None
    try:
        with _logging(quiet):
            if watch_mode:
                _watch(store, settings, names, quiet=quiet)
                return
            with _progress(quiet) as on_page:
                results = sync_sources(
                    store, settings=settings, names=names, dry_run=dry_run, on_page=on_page
                )
            if not dry_run:
                note = index_new_papers(store, settings, results, quiet=quiet)
    finally:
        store.close()
    _print_summary(results, dry_run=dry_run)
    if note:
        err_console.print(note, highlight=False)
    if any(r.status != "ok" for r in results):
        raise typer.Exit(1)


def _names(source: list[str], settings: Settings) -> list[str] | None:
    """The sources asked for (None: every enabled one); an unknown name ends the command."""
    from papertide.sources.live import make_source

    names = list(source) or None
    try:
        for name in names or []:
            make_source(name, settings)
    except ValueError as exc:
        raise fail(str(exc), code=2) from exc
    return names


def _watch(store: Store, settings: Settings, names: list[str] | None, *, quiet: bool) -> None:
    """Sync round after round (--watch), each round summed up and its papers indexed."""
    from papertide.sync import watch

    def on_round(results: list[SourceResult]) -> None:
        _print_summary(results)
        note = index_new_papers(store, settings, results, quiet=quiet)
        if note:
            err_console.print(note, highlight=False)

    watch(store, settings=settings, names=names, on_round=on_round)


def _line_handler(level: int) -> logging.Handler:
    """One line a record on stderr ("warning: arxiv: HTTP 503 from host/path; retry..."),
    printed above the progress bars and never wrapped into columns; each failed source is
    left to the summary, which states it (sync.py logs it as an error too)."""
    import logging  # here, not at the top: `papertide --help` need not load logging

    class LineHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            label = "" if record.levelno < logging.WARNING else record.levelname.lower() + ": "
            err_console.print(label + self.format(record), markup=False, highlight=False)

    def not_a_source_failure(record: logging.LogRecord) -> bool:
        return not (record.name == "papertide.sync" and record.levelno >= logging.ERROR)

    handler = LineHandler(level)
    handler.addFilter(not_a_source_failure)
    return handler


@contextmanager
def _logging(quiet: bool) -> Iterator[None]:
    """Show papertide's log lines (retries, resumptions, failures) on stderr for the run."""
    import logging

    handler = _line_handler(logging.WARNING if quiet else logging.INFO)
    logger = logging.getLogger("papertide")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


@contextmanager
def _progress(quiet: bool) -> Iterator[Any]:
    """A progress bar per source; yields the on_page callback that advances it."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

    progress = Progress(
        TextColumn("[bold]{task.description:<6}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[label]}  [green]{task.fields[added]} added"),
        console=err_console,
        disable=quiet,
        transient=True,
    )
    tasks: dict[str, TaskID] = {}

    def on_page(name: str, page: Page, result: SourceResult) -> None:
        if name not in tasks:
            tasks[name] = progress.add_task(name, total=None, label="", added=0)
        done, total = page.progress
        progress.update(
            tasks[name], completed=done, total=total, label=page.label, added=result.report.added
        )

    with progress:
        yield on_page


def index_new_papers(
    store: Store, settings: Settings, results: list[SourceResult], *, quiet: bool = False
) -> str | None:
    """Bring the search index up to date when a sync stored papers, and compute the new
    papers' similar lists (the feeds show them first); returns a note when another process
    writing the index (a running `papertide serve` on the same data folder) was left to
    take them in, as `ingest` does: the sync never waits on that node's index lock."""
    if not any(r.report.added or r.report.changed for r in results):
        return None
    return index_stored_papers(settings, store, quiet=quiet, similar=True)


def _print_summary(results: list[SourceResult], *, dry_run: bool = False) -> None:
    """A line per source, then each failure and skipped record."""
    from rich.table import Table

    read = [r for r in results if r.status == "ok"]
    title = None
    if dry_run and read:  # a dry run of failed sources would store nothing: no such title
        title = "would be stored (dry run)"
    table = Table(title=title, title_justify="left")
    for column in ("source", "status", "pages", "added", "changed", "unchanged", "skipped"):
        table.add_column(column, justify="left" if column in ("source", "status") else "right")
    for r in results:
        status = "[green]ok[/]" if r.status == "ok" else f"[red]{r.status}[/]"
        rep = r.report
        skipped = len(rep.errors) + r.skipped
        table.add_row(
            r.name, status, str(r.pages), f"{rep.added:,}", f"{rep.changed:,}",
            f"{rep.unchanged:,}", f"{skipped:,}",
        )  # fmt: skip
    console.print(table)
    for r in results:
        for error in r.report.errors[:_MAX_SHOWN_ERRORS]:
            err_console.print(f"[red]skipped:[/] {error}", highlight=False, soft_wrap=True)
        if r.message:
            err_console.print(f"[red]error:[/] {r.message}", highlight=False, soft_wrap=True)
    if not read:
        what = "every source" if len(results) > 1 else "the source"
        console.print(f"Nothing fetched: {what} failed.", highlight=False)
        return
    total = plural(sum(r.report.added for r in results), "new paper")
    console.print(f"{total}{' would be added' if dry_run else ''}.", highlight=False)


def sources(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List the live sources: what each reads, where it stands, and its last run.

    Example:  papertide sources --json
    """
    import orjson
    from rich.table import Table

    settings = settings_of(ctx)
    store = open_store(settings)
    try:
        rows = _source_rows(store, settings)
    finally:
        store.close()
    if as_json:
        typer.echo(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
        return
    table = Table()
    for column in ("source", "on", "reads", "position", "last run", "status", "added"):
        # fold: a long URL wraps onto the next line instead of being cut with "…"
        table.add_column(column, overflow="fold")
    for row in rows:
        run = row["last_run"] or {}
        position = row["watermark"] or "-"
        if row["checkpoint"]:
            position += " (part way: resumes)"
        table.add_row(
            row["name"], "yes" if row["enabled"] else "no", row["reads"], position,
            run.get("finished") or "never", run.get("status") or "-", str(run.get("added", "-")),
        )  # fmt: skip
    console.print(table)


def _source_rows(store: Any, settings: Settings) -> list[dict[str, Any]]:
    from papertide.sources.live import make_source
    from papertide.store.sync_state import last_runs, list_states

    states, runs = list_states(store), last_runs(store)
    rows = []
    for name in ("arxiv", "oai", "hf"):
        state, run = states.get(name), runs.get(name)
        rows.append(
            {
                "name": name,
                "enabled": name in settings.sync.sources,
                "reads": make_source(name, settings).describe(),
                "watermark": state.watermark if state else None,
                "checkpoint": state.checkpoint if state else None,
                "last_success": state.last_success.isoformat(" ")
                if state and state.last_success
                else None,
                "last_run": {
                    "finished": run.finished.isoformat(" "),
                    "status": run.status,
                    "pages": run.pages,
                    "added": run.added,
                    "changed": run.changed,
                    "message": run.message,
                }
                if run
                else None,
            }
        )
    return rows


def register(app: typer.Typer) -> None:
    """Add the commands to the app."""
    app.command()(sync)
    app.command()(sources)
