"""`papertide db status|check|upgrade|downgrade`: the database's schema revision, as the
operator sees and moves it (every other command upgrades a database to the newest on its
own; these never do unasked)."""

from __future__ import annotations

import typer

from papertide.cli.common import console, fail, open_store, settings_of

db_app = typer.Typer(
    help="The database's schema: its revision, upgrading it, taking it back down.",
    no_args_is_help=True,
)


def _state(ctx: typer.Context) -> tuple[str, str | None, list[str]]:
    """The database (password hidden), its revision, and the revisions this papertide knows."""
    from sqlalchemy.engine import make_url

    from papertide.store.revisions import known_revisions

    settings = settings_of(ctx)
    url = settings.resolved_database_url
    store = open_store(settings, migrate=False)
    try:
        current = store.schema_revision()
    finally:
        store.close()
    return make_url(url).render_as_string(hide_password=True), current, known_revisions()


def _describe(current: str | None, known: list[str]) -> tuple[str, bool]:
    """What the revision means for this papertide, and whether it is the newest."""
    if current is None:
        return "empty: no papertide tables yet (any command creates them)", False
    if current not in known:
        return f"{current}, which a newer papertide made: run that version", False
    behind = len(known) - 1 - known.index(current)
    if behind == 0:
        return f"{current}, the newest this papertide knows", True
    return f"{current}, {behind} behind the newest ({known[-1]}): `papertide db upgrade`", False


@db_app.command("status")
def status(ctx: typer.Context) -> None:
    """Print the database, its schema revision and what it means.

    Example:
      papertide db status
    """
    where, current, known = _state(ctx)
    text, _ = _describe(current, known)
    console.print(f"database: {where}\nrevision: {text}", highlight=False)


@db_app.command("check")
def check(ctx: typer.Context) -> None:
    """Exit 0 when the schema is the newest this papertide knows, 1 otherwise (for scripts
    and deploys: run it before starting new nodes).

    Example:
      papertide db check && papertide serve
    """
    _, current, known = _state(ctx)
    text, newest = _describe(current, known)
    if not newest:
        raise fail(f"schema {text}")
    console.print(f"schema {text}", highlight=False)


@db_app.command("upgrade")
def upgrade(ctx: typer.Context) -> None:
    """Bring the schema to the newest revision (safe with other processes running: they
    wait for it); a database already there is left as it is.

    Example:
      papertide db upgrade
    """
    from papertide.store import SchemaTooNew

    _, before, known = _state(ctx)
    if before is not None and before not in known:
        raise fail(str(SchemaTooNew(before, known[-1])), code=3)
    store = open_store(settings_of(ctx))  # migrates to the newest
    store.close()
    if before == known[-1]:
        console.print(f"already at {before}, the newest", highlight=False)
    else:
        console.print(f"upgraded from {before or 'empty'} to {known[-1]}", highlight=False)


@db_app.command("downgrade")
def downgrade(
    ctx: typer.Context,
    revision: str = typer.Argument(..., help="The revision to go back to (see `db status`)."),
    yes: bool = typer.Option(False, "--yes", help="Really: what later revisions added goes."),
) -> None:
    """Take the schema back to an older revision, to run an older papertide on it. What the
    later revisions added (tables, columns) is dropped: back the database up first.

    Example:
      papertide db downgrade social --yes
    """

    _, current, known = _state(ctx)
    if revision not in known:
        raise fail(f"no revision {revision!r}; this papertide knows {', '.join(known)}", 2)
    if current not in known or known.index(revision) >= known.index(current):
        raise fail(f"the schema is at {current}: {revision} is not older", 2)
    if not yes:
        raise fail(f"this drops what came after {revision}; add --yes to go ahead", 2)
    store = open_store(settings_of(ctx), migrate=False)
    try:
        store.downgrade(revision)
    finally:
        store.close()
    console.print(f"downgraded from {current} to {revision}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add `db` to the root command."""
    app.add_typer(db_app, name="db")
