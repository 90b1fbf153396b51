"""`papertide pictures fetch|status`: the worker's pictures round by hand, and its counts."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import typer

from papertide.cli.common import console, open_store, plural, progress_bar, settings_of

if TYPE_CHECKING:  # the pictures code is loaded by the commands that run it
    from papertide.config import Settings
    from papertide.pictures.fetch import RoundReport
    from papertide.store import Store

pictures_app = typer.Typer(help="Paper pictures: fetch them now, see how many there are.")


@pictures_app.command("fetch")
def fetch(
    ctx: typer.Context,
    limit: int | None = typer.Option(
        None, "--limit", "-n", min=1, help="Most papers to fetch for (default: pictures.per_round)."
    ),
) -> None:
    """Fetch and draw pictures for papers waiting for one, as the worker's round does.

    Papers opened by readers first, then those of the recent feeds, then saved ones; each
    is one request at the sources' pace (sync.request_interval).

    Example:  papertide pictures fetch --limit 20
    """
    from papertide.pictures.fetch import choose_papers, fetch_pictures

    settings = settings_of(ctx)
    store = open_store(settings)
    try:
        chosen = choose_papers(store, settings, limit=limit)
        with progress_bar("pictures", total=len(chosen)) as advance:
            report = fetch_pictures(store, settings, chosen, progress=advance)
    finally:
        store.close()
    _print(report)


def _summary(report: RoundReport) -> str:
    return (
        f"pictures: stored {report.stored} ({report.bytes_stored / 1024:.0f} KB), "
        f"failed {report.failed}, taken by another worker {report.taken}"
        + (f", cards cut for {report.cards} stored before" if report.cards else "")
    )


def _print(report: RoundReport) -> None:
    console.print(_summary(report), highlight=False)


@pictures_app.command("status")
def status(ctx: typer.Context) -> None:
    """How many papers have a picture, failed to get one, or were wished for.

    Example:  papertide pictures status
    """
    settings = settings_of(ctx)
    store = open_store(settings)
    try:
        counts = store.picture_counts()
    finally:
        store.close()
    console.print(
        f"{plural(counts['pictures'], 'picture')}, {counts['failed']} failed (tried again "
        f"later), {counts['wished']} wished for by readers",
        highlight=False,
    )


def run_round(store: Store, settings: Settings, stop: Callable[[], bool]) -> None:
    """The worker's pictures job: one round (until ``stop``), its outcome a log line like
    the worker's others (time-stamped, in JSON where the worker's lines are)."""
    import logging

    from papertide.pictures.fetch import fetch_pictures

    logging.getLogger("papertide.worker").info(_summary(fetch_pictures(store, settings, stop=stop)))


def register(app: typer.Typer) -> None:
    """Add `pictures` to the CLI."""
    app.add_typer(pictures_app, name="pictures")
