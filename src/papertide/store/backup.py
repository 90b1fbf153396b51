"""Backups of a live store, taken while it serves and imports.

SQLite: SQLite's online backup API (never a file copy: a WAL database is the main file plus
the WAL, and copying them one after the other while a writer commits gives a torn copy).
The copy runs inside one read transaction on the source, so it is the snapshot of one
moment however many steps it takes, and writers go on meanwhile (WAL: readers never block
them). It is written under a temporary name beside the target, checked, flushed to disk and
only then renamed: a backup killed at any point leaves nothing under the final name.

PostgreSQL: ``pg_dump`` in its custom format (``pg_restore`` reads it back), run when it is
on the PATH; otherwise the command to run is given.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from papertide.store.files import PRIVATE_FILE

# Test-only hook, as in mail/send.py: PAPERTIDE_TEST_PAUSE_AT=<point> makes the process
# write the file named by PAPERTIDE_TEST_PAUSE_FILE and sleep there, so a test can SIGKILL
# it at a known point of its progress (the backup half written, the import half loaded).
PAUSE_ENV = "PAPERTIDE_TEST_PAUSE_AT"
PAUSE_FILE_ENV = "PAPERTIDE_TEST_PAUSE_FILE"

STEP_PAGES = 4096  # pages copied per backup step (16 MiB at SQLite's default page size)


class BackupError(Exception):
    """A backup or restore that cannot be done as asked (one line for the operator)."""


class DatabaseUnavailable(BackupError):
    """pg_dump or pg_restore could not reach the database."""


@dataclass(frozen=True)
class BackupResult:
    """What a backup wrote."""

    path: Path
    size: int
    how: str  # "sqlite online backup" or "pg_dump"


def pause_point(name: str) -> None:
    """Stop here for a test that asked to (see PAUSE_ENV); nothing otherwise."""
    if os.environ.get(PAUSE_ENV) == name:
        marker = os.environ.get(PAUSE_FILE_ENV)
        if marker:
            Path(marker).write_text(name, "utf-8")
        time.sleep(3600)


def sqlite_file(url: str) -> Path | None:
    """The database file a SQLite URL names (None for another backend or in-memory)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    if parsed.database in (None, "", ":memory:"):
        raise BackupError("an in-memory SQLite database has nothing to back up")
    return Path(parsed.database)


def partial_name(target: Path) -> Path:
    """Where a backup is written before it is complete: a hidden sibling of ``target``
    (same folder, so the final rename is atomic)."""
    return target.with_name(f".{target.name}.partial")


def backup_sqlite(
    database: Path, target: Path, *, progress: Callable[[int, int], None] | None = None
) -> BackupResult:
    """Copy the live SQLite ``database`` to ``target`` (see the module docstring);
    ``progress(copied, total)`` is called after each step, in pages."""
    if not database.is_file():
        raise BackupError(f"no database at {database}")
    if target.resolve() == database.resolve():
        raise BackupError(f"{target} is the database itself: give another name")
    tmp = _private_new(partial_name(target))
    try:
        with _snapshot(database) as source, _closing(sqlite3.connect(tmp)) as copy:

            def step(_status: int, remaining: int, total: int) -> None:
                if progress is not None:
                    progress(total - remaining, total)
                pause_point("backup-step")

            source.backup(copy, pages=STEP_PAGES, progress=step)
            # One self-contained file (no -wal beside it); the store turns WAL on again.
            copy.execute("PRAGMA journal_mode=DELETE")
            checked = copy.execute("PRAGMA quick_check").fetchone()[0]
            if checked != "ok":
                raise BackupError(f"the copy failed its check ({checked}); nothing was written")
        _publish(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return BackupResult(target, target.stat().st_size, "sqlite online backup")


@contextmanager
def _snapshot(database: Path) -> Iterator[sqlite3.Connection]:
    """A connection to ``database`` holding one read transaction (its snapshot) open."""
    with _closing(sqlite3.connect(database, isolation_level=None)) as conn:
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("BEGIN")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the snapshot starts
        try:
            yield conn
        finally:
            conn.execute("COMMIT")


@contextmanager
def _closing(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    try:
        yield conn
    finally:
        conn.close()


def _private_new(path: Path) -> Path:
    """An empty file at ``path`` (replacing what a killed run left) that only this account
    may read: a backup holds password hashes, addresses and the signing secret."""
    path.unlink(missing_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_FILE))
    return path


def _publish(tmp: Path, target: Path) -> None:
    """Flush ``tmp`` to disk, rename it to ``target`` and flush the folder (the rename)."""
    with tmp.open("rb") as handle:
        os.fsync(handle.fileno())
    tmp.replace(target)
    fsync_dir(target.parent)


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (a rename in it) to disk."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def restore_sqlite(backup: Path, database: Path) -> None:
    """Replace the content of ``database`` with ``backup``'s, through SQLite's backup API
    into the live file (one write transaction: a reader sees the old content or the new,
    and the WAL beside it stays consistent, which a file copy would not)."""
    if not backup.is_file():
        raise BackupError(f"no backup at {backup}")
    with _closing(sqlite3.connect(f"file:{backup}?mode=ro", uri=True)) as source:
        try:
            checked = source.execute("PRAGMA quick_check").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"{backup} is not a SQLite database ({exc})") from None
        if checked != "ok":
            raise BackupError(f"{backup} fails SQLite's check ({checked})")
        database.parent.mkdir(parents=True, exist_ok=True)
        with _closing(sqlite3.connect(database, isolation_level=None)) as live:
            live.execute("PRAGMA busy_timeout=30000")
            source.backup(live)
            live.execute("PRAGMA journal_mode=WAL")


def libpq_url(url: str, *, connect_timeout: int = 0) -> tuple[str, dict[str, str]]:
    """A SQLAlchemy PostgreSQL URL as libpq takes it (``postgresql://``), without the
    password, which goes in the environment (PGPASSWORD) rather than on a command line;
    with ``connect_timeout`` (seconds) PGCONNECT_TIMEOUT too, which a connect_timeout in the
    URL overrides (libpq: the connection string wins over the environment)."""
    parsed: URL = make_url(url)
    env = {"PGPASSWORD": parsed.password} if parsed.password else {}
    if connect_timeout > 0:
        env["PGCONNECT_TIMEOUT"] = str(connect_timeout)
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def pg_dump_command(url: str, target: Path) -> str:
    """The command that backs up the PostgreSQL database ``url`` to ``target``."""
    plain, _ = libpq_url(url)
    return f"pg_dump --format=custom --file={target} '{plain}'"


def backup_postgres(url: str, target: Path, *, connect_timeout: int = 0) -> BackupResult:
    """``pg_dump --format=custom`` of ``url`` into ``target`` (via a temporary name); its
    connection fails after ``connect_timeout`` seconds (0: libpq's default, no limit)."""
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise BackupError(
            "pg_dump is not on the PATH: install PostgreSQL's client tools (the server's "
            f"version or newer), or run: {pg_dump_command(url, target)}"
        )
    plain, env = libpq_url(url, connect_timeout=connect_timeout)
    tmp = _private_new(partial_name(target))
    try:
        done = subprocess.run(
            [pg_dump, "--format=custom", f"--file={tmp}", f"--dbname={plain}"],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise _failed("pg_dump", done.stderr)
        _publish(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return BackupResult(target, target.stat().st_size, "pg_dump")


def restore_postgres(url: str, backup: Path, *, connect_timeout: int = 0) -> None:
    """``pg_restore --clean --if-exists --single-transaction`` of ``backup`` into ``url``:
    all of it or, on an error, nothing (``connect_timeout``: as for backup_postgres)."""
    if not backup.is_file():
        raise BackupError(f"no backup at {backup}")
    pg_restore = shutil.which("pg_restore")
    plain, env = libpq_url(url, connect_timeout=connect_timeout)
    if pg_restore is None:
        raise BackupError(
            "pg_restore is not on the PATH: install PostgreSQL's client tools, or run: "
            f"pg_restore --clean --if-exists --single-transaction --dbname='{plain}' {backup}"
        )
    done = subprocess.run(
        [
            pg_restore,
            "--clean",
            "--if-exists",
            "--single-transaction",
            "--exit-on-error",
            f"--dbname={plain}",
            str(backup),
        ],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise _failed("pg_restore", done.stderr)


def _failed(tool: str, stderr: str) -> BackupError:
    """The first line of a client tool's complaint, as the error to raise."""
    first = (stderr.strip().splitlines() or ["(no message)"])[0]
    unreachable = "connection to server" in first or "could not connect" in first
    return (DatabaseUnavailable if unreachable else BackupError)(f"{tool} failed: {first}")
