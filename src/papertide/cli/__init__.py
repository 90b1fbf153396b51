"""The `papertide` command: thin Typer wrappers over the pipeline stages."""

from __future__ import annotations

from pathlib import Path

import typer

from papertide import __version__
from papertide.cli import (
    bench_cmd,
    bench_web,
    demo_cmd,
    digest_cmd,
    ingest_cmd,
    inspect_cmd,
    search_cmd,
    serve_cmd,
    sync_cmd,
)
from papertide.cli.common import build_settings

app = typer.Typer(
    name="papertide",
    help=(
        "Research-paper discovery you can host yourself: import papers, look at them, "
        "serve the site.\n\n"
        "Quick start:  papertide ingest --samples && papertide serve"
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"papertide {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    ctx: typer.Context,
    data_dir: Path | None = typer.Option(
        None, "--data-dir", envvar="PAPERTIDE_DATA_DIR", help="Folder for the database and indexes."
    ),
    database_url: str | None = typer.Option(
        None,
        "--database-url",
        envvar="PAPERTIDE_DATABASE_URL",
        help="SQLAlchemy URL, e.g. postgresql+psycopg://u:pw@host/db (default: SQLite file).",
    ),
    config: Path | None = typer.Option(
        None, "--config", envvar="PAPERTIDE_CONFIG_FILE", help="TOML settings file."
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    ctx.obj = build_settings(data_dir=data_dir, database_url=database_url, config=config)


ingest_cmd.register(app)
inspect_cmd.register(app)
serve_cmd.register(app)
search_cmd.register(app)
demo_cmd.register(app)
digest_cmd.register(app)
sync_cmd.register(app)
bench_web.register(bench_cmd.bench_app)
app.add_typer(bench_cmd.bench_app, name="bench")


def main() -> None:
    """Entry point of the `papertide` script."""
    app()
