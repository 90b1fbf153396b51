"""What every command shares: the Settings built from global options, the console, the store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from papertide.config import Settings
from papertide.store import Store
from papertide.terminal import SafeConsole as Console  # prints no ESC from imported text

console = Console(soft_wrap=True)  # never split a "file:line: reason" line
err_console = Console(stderr=True, soft_wrap=True)


def build_settings(
    *, data_dir: Path | None, database_url: str | None, config: Path | None
) -> Settings:
    """Settings from the global options layered over env variables and the config file."""
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
    """The Settings the main callback built for this invocation."""
    settings = ctx.obj
    if not isinstance(settings, Settings):  # a command called without the main callback
        settings = Settings()
        ctx.obj = settings
    return settings


def open_store(settings: Settings) -> Store:
    """Open (and migrate) the configured database."""
    return Store.open(settings.resolved_database_url)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print an error in red on stderr and return the Exit to raise."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


@contextmanager
def progress_bar(
    label: str, *, total: int | None = None, quiet: bool = False
) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr (gone when done); yields ``advance(n)``."""
    progress = Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err_console,
        disable=quiet,
        transient=True,
    )
    with progress:
        task = progress.add_task(label, total=total)
        yield lambda n: progress.advance(task, n)
