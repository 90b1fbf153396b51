"""`papertide backup|restore|export|import-site`: copies of the whole store while it runs, and
the portable export that moves a site from SQLite to PostgreSQL and back
(store/backup.py and store/export.py do the work)."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from papertide.cli.common import console, fail, open_store, plural, settings_of

_REINDEX = (
    "the search index follows the database it was built from: run `papertide reindex` "
    "before serving (stored embeddings are reused)"
)


def _new_target(target: Path, force: bool) -> None:
    """Refuse a target that exists (unless ``force``) or whose folder does not."""
    if target.exists() and not force:
        raise fail(f"{target} already exists: give another name, or --force", 2)
    if not target.parent.is_dir():
        raise fail(f"no folder {target.parent} to write {target.name} in", 2)


def backup(
    ctx: typer.Context,
    target: Path = typer.Argument(..., metavar="FILE", help="Where to write the backup."),
    force: bool = typer.Option(False, "--force", help="Replace FILE if it exists."),
) -> None:
    """Back the database up to FILE while papertide keeps serving and importing.

    SQLite: a consistent copy of one moment (SQLite's online backup, never a file copy),
    written under a temporary name and renamed when complete; the copy is an ordinary
    SQLite database. PostgreSQL: `pg_dump --format=custom` (needs pg_dump installed, of the
    server's version or newer; otherwise the command to run is printed).
    Put a backup back with `papertide restore FILE --yes`.

    Example:
      papertide backup /backups/papertide-$(date +%F).db
    """
    from papertide.store.backup import backup_postgres, backup_sqlite, sqlite_file

    _new_target(target, force)
    settings = settings_of(ctx)
    url = settings.resolved_database_url
    started = time.perf_counter()
    database = sqlite_file(url)
    if database:
        result = backup_sqlite(database, target)
    else:
        result = backup_postgres(url, target, connect_timeout=settings.database_connect_timeout)
    seconds = time.perf_counter() - started
    console.print(
        f"backed up to {result.path}: {result.size / 1e6:,.1f} MB in {seconds:.1f} s "
        f"({result.how})",
        highlight=False,
    )


def restore(
    ctx: typer.Context,
    source: Path = typer.Argument(..., metavar="FILE", help="A backup `papertide backup` wrote."),
    yes: bool = typer.Option(False, "--yes", help="Really: the database's content is replaced."),
) -> None:
    """Replace everything in the database with a backup's content.

    Stop every papertide process that uses the database first (serve, worker, sync), then
    rebuild the search index (`papertide reindex`) before starting them again.

    Example:
      papertide restore /backups/papertide-2026-12-06.db --yes
    """
    from papertide.store.backup import restore_postgres, restore_sqlite, sqlite_file
    from papertide.store.revisions import known_revisions

    if not source.is_file():
        raise fail(f"no backup at {source}: no such file", 2)
    if not yes:
        raise fail("this replaces everything in the database with the backup; add --yes", 2)
    settings = settings_of(ctx)
    url = settings.resolved_database_url
    database = sqlite_file(url)
    if database is None:
        restore_postgres(url, source, connect_timeout=settings.database_connect_timeout)
    else:
        found = _sqlite_revision(source)
        if found is not None and found not in known_revisions():
            raise fail(f"{source} is at schema revision {found!r}, newer than this papertide", 2)
        restore_sqlite(source, database)
    console.print(f"restored {source}; {_REINDEX}", highlight=False)


def _sqlite_revision(path: Path) -> str | None:
    """The schema revision a SQLite backup is at (None when it has none)."""
    import sqlite3

    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError:
        return None  # not a papertide database, or not SQLite: restore_sqlite says which
    finally:
        conn.close()
    return str(row[0]) if row else None


def export(
    ctx: typer.Context,
    folder: Path = typer.Argument(..., metavar="DIR", help="The folder to write (new)."),
    force: bool = typer.Option(False, "--force", help="Replace DIR if it exists."),
) -> None:
    """Write the whole site to DIR as JSON lines: papers, votes, comments, lists, accounts
    (with their password hashes), subscribers, digests, embeddings and stored secrets, one
    file per table and a manifest with the schema revision. A consistent copy of one
    moment, taken while the site runs; DIR appears only once complete. Load it into an
    empty database, of either kind, with `papertide import-site DIR`.

    Example:
      papertide export site-export
    """
    _new_target(folder, force)
    store = open_store(settings_of(ctx))
    try:
        counts = store.export_site(folder, force=force)
        revision = store.schema_revision()
    finally:
        store.close()
    _print_counts(f"exported to {folder} (schema revision {revision})", counts)


def import_site(
    ctx: typer.Context,
    folder: Path = typer.Argument(..., metavar="DIR", help="A folder `papertide export` wrote."),
) -> None:
    """Load an export into this (empty) database, in one transaction: if it fails or is
    stopped, the database is as it was. A database that already holds papers, accounts or
    anything else is refused.

    Examples:
      papertide export site-export
      papertide --database-url postgresql+psycopg://u@db/papertide import-site site-export
    """
    from papertide.store.export import read_manifest

    read_manifest(folder)  # a missing or unfinished export is named before opening anything
    store = open_store(settings_of(ctx))
    try:
        counts = store.import_site(folder)
    finally:
        store.close()
    _print_counts(f"imported {folder}", counts)
    console.print(_REINDEX, highlight=False)


def _print_counts(title: str, counts: dict[str, int]) -> None:
    held = ", ".join(f"{name} {n:,}" for name, n in counts.items() if n)
    console.print(f"{title}: {plural(sum(counts.values()), 'row')} ({held or 'none'})")


def register(app: typer.Typer) -> None:
    """Add the commands to the app."""
    app.command()(backup)
    app.command()(restore)
    app.command()(export)
    app.command("import-site")(import_site)
