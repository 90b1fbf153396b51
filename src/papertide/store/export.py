"""The whole store in a portable form, and back: one JSON Lines file per table and a
manifest (format, schema revision, row counts), readable by either backend, so a site moves
from SQLite to PostgreSQL (or back) with `papertide export DIR` and `papertide import-site DIR`.

Tables are taken from the declared schema (schema.py), so a table a later migration adds
is carried without a change here; only the derived ones below are left out. Rows keep their
primary keys (a paper's pk is in votes, lists, comments, digests and every mailed link's
token), values are written by column type (times as ISO text, bytes as base64, JSON as
JSON), and embeddings are carried: they are the one expensive derived thing.

An import is one transaction: killed or failed at any point, the target is as it was.
"""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

import orjson
from sqlalchemy import (
    Connection,
    Date,
    DateTime,
    Engine,
    LargeBinary,
    Table,
    delete,
    func,
    select,
    text,
)

from papertide import __version__
from papertide.clock import utcnow
from papertide.store.backup import BackupError, fsync_dir, pause_point
from papertide.store.files import PRIVATE_DIR
from papertide.store.schema import metadata
from papertide.store.writer import WriteSession

FORMAT = "papertide-export"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
_BATCH = 1000

# Declared tables whose rows are computed from the others and never carried.
DERIVED = {
    # The triggers on papers write a change for every imported paper: that is what makes
    # every node's index take the imported papers in.
    "paper_changes": "the change feed: written again by the import's paper inserts",
    # Their positions are feed positions of the old database, meaningless in the new one;
    # each list is recomputed when a paper page asks for it.
    "similar_lists": "recomputed on demand",
}
# Tables a new store fills on its own (a counter row; a signing key made at a node's
# start): the export's rows replace the target's, so mailed links stay valid.
REPLACED = ("site_counters", "site_secrets")


Progress = Callable[[str, int], None]  # (table, rows) after each table


class ExportError(BackupError):
    """An export or import that cannot be done as asked (one line for the operator)."""


def exported_tables() -> list[Table]:
    """Every declared table except the derived ones, parents before children."""
    return [t for t in metadata.sorted_tables if t.name not in DERIVED]


def _encode(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


def _decoder(table: Table) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Turn an exported row of ``table`` back into column values, by column type."""
    by_type: dict[str, Callable[[Any], Any]] = {}
    for column in table.columns:
        kind = column.type
        if isinstance(kind, DateTime):
            by_type[column.name] = datetime.fromisoformat
        elif isinstance(kind, Date):
            by_type[column.name] = date.fromisoformat
        elif isinstance(kind, LargeBinary):
            by_type[column.name] = base64.b64decode

    def decode(row: dict[str, Any]) -> dict[str, Any]:
        return {k: (by_type[k](v) if v is not None and k in by_type else v) for k, v in row.items()}

    return decode


class ExportMixin:
    """Export and import; mixed into Store, which provides ``engine``, ``write`` and
    ``schema_revision``."""

    engine: Engine
    write: Callable[[], AbstractContextManager[WriteSession]]
    schema_revision: Callable[[], str | None]

    def export_site(
        self, folder: Path, *, force: bool = False, progress: Progress | None = None
    ) -> dict[str, int]:
        """Write every non-derived table to ``folder`` (made whole, then renamed into place;
        an existing one is replaced only with ``force``). Returns rows per table."""
        if folder.exists() and not force:
            raise ExportError(f"{folder} already exists: give another folder, or --force")
        folder.parent.mkdir(parents=True, exist_ok=True)
        partial = folder.with_name(f".{folder.name}.partial")
        shutil.rmtree(partial, ignore_errors=True)  # what a killed export left
        partial.mkdir(mode=PRIVATE_DIR)  # addresses, password hashes, the signing secret
        counts: dict[str, int] = {}
        with self._export_snapshot() as conn:
            revision = self.schema_revision()
            for table in exported_tables():
                counts[str(table.name)] = _write_table(conn, table, partial / f"{table.name}.jsonl")
                if progress is not None:
                    progress(table.name, counts[table.name])
        manifest = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "revision": revision,
            "papertide": __version__,
            "created": utcnow().isoformat(),
            "backend": self.engine.dialect.name,
            "tables": {
                str(t.name): {"rows": counts[t.name], "columns": [str(c.name) for c in t.columns]}
                for t in exported_tables()
            },
            "derived": DERIVED,
        }
        with (partial / MANIFEST).open("wb") as handle:  # written last: the export is whole
            handle.write(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
            _flush(handle)
        fsync_dir(partial)
        _swap_in(partial, folder)
        return counts

    @contextmanager
    def _export_snapshot(self) -> Iterator[Connection]:
        """One read transaction over every table: the export is of one moment."""
        with self.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    def import_site(self, folder: Path, *, progress: Progress | None = None) -> dict[str, int]:
        """Load an export into this store, which must be empty (see REPLACED), in one
        transaction. Returns rows per table."""
        manifest = read_manifest(folder)
        here = self.schema_revision()
        if manifest["revision"] != here:
            raise ExportError(
                f"the export is at schema revision {manifest['revision']}, this database at "
                f"{here}: upgrade both to the same revision (`papertide db upgrade` on the "
                "source, then export again)"
            )
        _check_columns(manifest)
        counts: dict[str, int] = {}
        # The paper writers' transaction (and lock): no import runs beside the load.
        with self.write() as ws:
            conn = ws.conn
            _refuse_non_empty(conn)
            for table in exported_tables():
                if table.name in REPLACED:
                    conn.execute(delete(table))
                counts[table.name] = _load_table(conn, table, folder / f"{table.name}.jsonl")
                if counts[table.name] != manifest["tables"][table.name]["rows"]:
                    raise ExportError(
                        f"{table.name}.jsonl holds {counts[table.name]} rows, the manifest "
                        f"says {manifest['tables'][table.name]['rows']}: the export is damaged"
                    )
                if progress is not None:
                    progress(table.name, counts[table.name])
                pause_point(f"import-{table.name}")
            if conn.dialect.name == "postgresql":
                _advance_sequences(conn)
        return counts


def _write_table(conn: Connection, table: Table, path: Path) -> int:
    """Every row of ``table``, in primary-key order (a reply after the comment it answers),
    one JSON object a line."""
    order = list(table.primary_key.columns) or list(table.columns)
    rows = conn.execution_options(yield_per=_BATCH).execute(select(table).order_by(*order))
    count = 0
    with path.open("wb") as handle:
        for row in rows.mappings():
            encoded = {str(k): _encode(v) for k, v in row.items()}
            handle.write(orjson.dumps(encoded) + b"\n")
            count += 1
        _flush(handle)
    return count


def _load_table(conn: Connection, table: Table, path: Path) -> int:
    """Insert ``path``'s rows into ``table`` in batches; returns how many."""
    decode = _decoder(table)
    count = 0
    batch: list[dict[str, Any]] = []
    with path.open("rb") as handle:
        for number, line in enumerate(handle, 1):
            try:
                batch.append(decode(orjson.loads(line)))
            except (orjson.JSONDecodeError, ValueError, TypeError) as exc:
                raise ExportError(
                    f"{path.name} line {number}: not an exported row ({exc})"
                ) from None
            if len(batch) >= _BATCH:
                conn.execute(table.insert(), batch)
                count += len(batch)
                batch = []
    if batch:
        conn.execute(table.insert(), batch)
        count += len(batch)
    return count


def read_manifest(folder: Path) -> dict[str, Any]:
    """The export's manifest, checked: a folder with none is no finished export."""
    if not folder.is_dir():
        raise ExportError(f"no export at {folder}: no such folder")
    path = folder / MANIFEST
    if not path.is_file():
        raise ExportError(f"{folder} has no {MANIFEST}: not an export, or one that did not finish")
    try:
        manifest: dict[str, Any] = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise ExportError(f"{path} is not JSON ({exc})") from None
    if manifest.get("format") != FORMAT or manifest.get("version") != FORMAT_VERSION:
        raise ExportError(
            f"{path} is not a papertide export of format version {FORMAT_VERSION} "
            f"(format {manifest.get('format')!r}, version {manifest.get('version')!r})"
        )
    for name in manifest["tables"]:
        if not (folder / f"{name}.jsonl").is_file():
            raise ExportError(f"{folder} lacks {name}.jsonl: the export is damaged")
    return manifest


def _check_columns(manifest: dict[str, Any]) -> None:
    """The export holds exactly this store's tables and columns."""
    tables = manifest["tables"]
    for table in exported_tables():
        if table.name not in tables:
            raise ExportError(f"the export has no table {table.name}")
        if tables[table.name]["columns"] != [c.name for c in table.columns]:
            raise ExportError(f"the export's columns of {table.name} differ from this store's")
    extra = sorted(set(tables) - {t.name for t in exported_tables()})
    if extra:
        raise ExportError(f"the export has tables this papertide does not know: {extra}")


def _refuse_non_empty(conn: Connection) -> None:
    """Refuse a target that holds anything but what a new store fills on its own."""
    held = {}
    for table in exported_tables():
        if table.name in REPLACED:
            continue
        n = int(conn.scalar(select(func.count()).select_from(table)) or 0)
        if n:
            held[table.name] = n
    if held:
        shown = ", ".join(f"{name}: {n}" for name, n in held.items())
        raise ExportError(
            f"the target database is not empty ({shown}): import into a new, empty database"
        )


def _advance_sequences(conn: Connection) -> None:
    """PostgreSQL: each serial key's sequence past the highest imported key, so the next
    row gets a fresh one (inserting explicit keys does not move a sequence)."""
    for table in metadata.sorted_tables:
        keys = list(table.primary_key.columns)
        if len(keys) != 1 or not keys[0].autoincrement or keys[0].name != "pk":
            continue
        conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'pk'), "
                f"COALESCE((SELECT MAX(pk) FROM {table.name}), 0) + 1, false)"
            )
        )


def _flush(handle: IO[bytes]) -> None:
    handle.flush()
    os.fsync(handle.fileno())


def _swap_in(partial: Path, folder: Path) -> None:
    """Rename the finished ``partial`` to ``folder``, replacing an old one last."""
    old = folder.with_name(f".{folder.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        folder.replace(old)
    partial.replace(folder)
    fsync_dir(folder.parent)
    shutil.rmtree(old, ignore_errors=True)
