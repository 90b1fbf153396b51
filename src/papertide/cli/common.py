"""What every command shares: the Settings built from global options, the console, the store.

Kept light: `papertide --help` imports this module, so rich, pydantic and the store are
loaded only when a command runs (the consoles are made on first use).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import typer

from papertide.words import plural as plural  # the commands import it from here

if TYPE_CHECKING:
    from rich.console import Console

    from papertide.config import Settings
    from papertide.search.service import SearchService
    from papertide.store import Store


class _LazyConsole:
    """A rich Console made on first use (importing rich costs a tenth of a second)."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    def _real(self) -> Console:
        if self._console is None:
            from papertide.terminal import SafeConsole  # prints no ESC from imported text

            self._console = SafeConsole(**self._options)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real(), name)

    # Special methods are looked up on the type, not through __getattr__ (rich's Live and
    # Progress enter the console they are given).
    def __enter__(self) -> Console:
        return self._real().__enter__()

    def __exit__(self, *exc: object) -> None:
        self._real().__exit__(*exc)


console = cast("Console", _LazyConsole(soft_wrap=True))  # never split "file:line: reason"
err_console = cast("Console", _LazyConsole(stderr=True, soft_wrap=True))


@dataclass(frozen=True)
class GlobalOptions:
    """The global options as given; the Settings are built from them when a command runs."""

    data_dir: Path | None = None
    database_url: str | None = None
    config: Path | None = None


def build_settings(
    *, data_dir: Path | None, database_url: str | None, config: Path | None
) -> Settings:
    """Settings from the global options layered over env variables and the config file."""
    from papertide.config import Settings

    overrides: dict[str, object] = {}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if database_url is not None:
        overrides["database_url"] = database_url
    if config is not None:
        if not config.is_file():
            raise fail(f"config file {config} does not exist", code=2)
        overrides["config_file"] = config
    return Settings(**overrides)  # type: ignore[arg-type]


def settings_of(ctx: typer.Context) -> Settings:
    """The Settings for this invocation, built from the global options on first use."""
    from papertide.config import Settings

    root = ctx.find_root()
    found = root.obj
    if isinstance(found, Settings):
        return found
    options = found if isinstance(found, GlobalOptions) else GlobalOptions()
    settings = build_settings(
        data_dir=options.data_dir, database_url=options.database_url, config=options.config
    )
    root.obj = settings
    return settings


def open_store(settings: Settings, *, migrate: bool = True) -> Store:
    """Open (and unless told not to, migrate) the configured database."""
    from papertide.store import Store

    return Store.open(
        settings.resolved_database_url,
        migrate=migrate,
        connect_timeout=settings.database_connect_timeout,
    )


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print an error in red on stderr and return the Exit to raise."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


@contextmanager
def progress_bar(
    label: str, *, total: int | None = None, quiet: bool = False
) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr (gone when done); yields ``advance(n)``. With a ``total``
    it shows done/total and the time left."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    columns: list[ProgressColumn] = [TextColumn(f"[bold]{label}"), BarColumn()]
    columns.append(MofNCompleteColumn())
    if total:
        columns.append(TimeRemainingColumn())
    progress = Progress(
        *columns,
        console=err_console,
        disable=quiet,
        transient=True,
    )
    with progress:
        task = progress.add_task(label, total=total)
        yield lambda n: progress.advance(task, n)


def open_service(settings: Settings, store: Store, *, quiet: bool = False) -> SearchService:
    """papertide.indexing.index_stored with a progress bar on stderr: the search index,
    caught up with everything stored (the caller closes it)."""
    from papertide.indexing import index_stored

    def bar(total: int) -> AbstractContextManager[Callable[[int], None]]:
        return progress_bar("indexing", total=total, quiet=quiet)

    return index_stored(settings, store, bar=bar)


_FOLLOWS = (
    "The search index is being written by another process (a running `papertide serve`, "
    "say): it follows the store's change feed and takes these papers in."
)


def index_stored_papers(
    settings: Settings, store: Store, *, quiet: bool, similar: bool = False
) -> str | None:
    """Bring the search index up to the papers just stored, with a bar of papers done, the
    total and the time left (then, with ``similar``, one of their similar lists computed);
    returns a note when this process left that to another.

    The papers are stored whatever happens here: a running node holding the index, the
    database going away or the index refusing a writer ends this step, not the command
    (the index follows the change feed, so the next process to open it applies them)."""
    from sqlalchemy.exc import DBAPIError

    from papertide.indexing import index_unless_busy

    try:
        done = index_unless_busy(
            settings,
            store,
            progress=lambda total: progress_bar("indexing", total=total, quiet=quiet),
            similar=(lambda total: progress_bar("similar papers", total=total, quiet=quiet))
            if similar
            else None,
        )
    except (DBAPIError, ValueError) as exc:
        if isinstance(exc, ValueError) and "Lock" not in str(exc):
            raise  # tantivy's writer lock (LockBusy) is the one ValueError meant here
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        return (
            f"[yellow]warning:[/] the papers are stored, but indexing them here stopped "
            f"({reason}). The index follows the store's change feed: a running `papertide "
            "serve` takes them in, or else the next command that opens the index."
        )
    return _FOLLOWS if done.busy else None
