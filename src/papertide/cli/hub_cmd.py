"""`papertide sync-hub`: one round of what the papers led to (Hub repositories, GitHub stars)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from papertide.cli.common import console, err_console, open_store, plural, settings_of

if TYPE_CHECKING:  # the network stack is loaded by the command that runs it
    from papertide.hub_sync import HubReport, StepFn

_Limit = Annotated[
    int | None,
    typer.Option(
        "--limit",
        "-n",
        min=1,
        help="Ask about at most N papers (default: sync.hub_papers_per_round).",
    ),
]
_Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]


def sync_hub(ctx: typer.Context, limit: _Limit = None, quiet: _Quiet = False) -> None:
    """Ask the Hugging Face Hub which models, datasets and Spaces cite the papers in the
    feeds, and GitHub how many stars their code has: one round, as the worker runs it.

    The papers of the newest sync.hub_recent_days days, trending's and those saved in lists,
    each at most every sync.hub_refresh_hours, never-asked ones first. A failed answer
    stores nothing for its paper, which the next round asks about again. Exit 1 if any
    look-up failed.

    Examples:

      papertide sync-hub --limit 20

      PAPERTIDE_SYNC__GITHUB_TOKEN_FILE=/run/secrets/github papertide sync-hub
    """
    from papertide.hub_sync import sync_hub as run_round

    settings = settings_of(ctx)
    store = open_store(settings)
    try:
        with _progress(quiet) as on_step:
            report = run_round(store, settings, limit=limit, on_step=on_step)
    finally:
        store.close()
    print_report(report)
    if report.failed:
        raise typer.Exit(1)


@contextmanager
def _progress(quiet: bool) -> Iterator[StepFn]:
    """A progress bar per part of the round (hf-hub, github)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

    progress = Progress(
        TextColumn("[bold]{task.description:<7}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err_console,
        disable=quiet,
        transient=True,
    )
    tasks: dict[str, TaskID] = {}

    def on_step(part: str, done: int, total: int) -> None:
        if part not in tasks:
            tasks[part] = progress.add_task(part, total=total)
        progress.update(tasks[part], completed=done)

    with progress:
        yield on_step


def print_report(report: HubReport) -> None:
    """One line for the Hub, one for GitHub, then each problem."""
    console.print(
        f"hf-hub: {plural(report.papers, 'paper')} checked, "
        f"{plural(report.repos, 'repository', 'repositories')} stored",
        highlight=False,
    )
    console.print(
        f"github: {plural(report.stars_checked, 'repository', 'repositories')} checked, "
        f"{report.stars_changed} with new star counts",
        highlight=False,
    )
    for problem in report.problems:
        err_console.print(f"[red]failed:[/] {problem}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add the command to the app."""
    app.command("sync-hub")(sync_hub)
