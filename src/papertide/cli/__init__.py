"""The `papertide` command: thin Typer wrappers over the pipeline stages.

Registering the commands imports only Typer and the command modules, which import what a
command runs inside its body: `papertide --help` and `--version` answer without loading the
store, the web app, the search indexes or the mail code (tests/cli/test_startup.py).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from papertide import __version__
from papertide.cli import (
    backup_cmd,
    bench_cmd,
    db_cmd,
    demo_cmd,
    digest_cmd,
    eval_cmd,
    hub_cmd,
    ingest_cmd,
    inspect_cmd,
    pictures_cmd,
    search_cmd,
    serve_cmd,
    subscribers_cmd,
    sync_cmd,
    users_cmd,
)
from papertide.cli.common import GlobalOptions
from papertide.cli.helpfmt import PlainGroup

app = typer.Typer(
    name="papertide",
    cls=PlainGroup,
    help=(
        "Research-paper discovery you can host yourself: import papers, search them, "
        "serve the site, mail digests.\n\n"
        "Quick start (the bundled sample papers, then the site on http://127.0.0.1:8000):\n\n"
        "\b\n  papertide demo\n  papertide serve\n\n"
        "Run `papertide COMMAND --help` for a command's options and examples."
    ),
    no_args_is_help=True,
    rich_markup_mode=None,  # plain click help: paragraphs wrapped whole, and no rich import
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
        None,
        "--data-dir",
        envvar="PAPERTIDE_DATA_DIR",
        metavar="DIR",
        help="Folder for the database and indexes.",
    ),
    database_url: str | None = typer.Option(
        None,
        "--database-url",
        envvar="PAPERTIDE_DATABASE_URL",
        metavar="URL",
        help="SQLAlchemy URL, e.g. postgresql+psycopg://u:pw@host/db (default: SQLite file).",
    ),
    config: Path | None = typer.Option(
        None, "--config", envvar="PAPERTIDE_CONFIG_FILE", metavar="FILE", help="TOML settings file."
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    # Settings are built when a command asks for them (common.settings_of), not here:
    # `papertide COMMAND --help` passes through this callback too.
    ctx.obj = GlobalOptions(data_dir=data_dir, database_url=database_url, config=config)


ingest_cmd.register(app)
inspect_cmd.register(app)
serve_cmd.register(app)
search_cmd.register(app)
eval_cmd.register(app)
demo_cmd.register(app)
digest_cmd.register(app)
subscribers_cmd.register(app)
users_cmd.register(app)
sync_cmd.register(app)
pictures_cmd.register(app)
hub_cmd.register(app)
bench_cmd.register(app)
db_cmd.register(app)
backup_cmd.register(app)


def main() -> None:
    """Entry point of the `papertide` script: a mistake in a setting, the config file or the
    database URL, or a database that cannot be used, is one line and exit 2 or 3."""
    try:
        app()
    except Exception as exc:
        from papertide.cli.common import err_console
        from papertide.cli.errors import explain

        explained = explain(exc, config=_config_given())
        if explained is None:
            raise
        message, code = explained
        err_console.print(f"[bold red]error:[/] {message}", highlight=False)
        raise SystemExit(code) from None


def _config_given() -> Path | None:
    """The config file this invocation names (--config, else PAPERTIDE_CONFIG_FILE)."""
    args = sys.argv[1:]
    for i, arg in enumerate(args):
        if arg == "--config" and i + 1 < len(args):
            return Path(args[i + 1])
        if arg.startswith("--config="):
            return Path(arg.split("=", 1)[1])
    found = os.environ.get("PAPERTIDE_CONFIG_FILE")
    return Path(found) if found else None
