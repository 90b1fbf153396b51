"""The schema's revisions (Alembic): which one a database is at, which ones this papertide
knows, and moving a database to another one (up to the newest when a store opens, or down
by the operator's `papertide db downgrade`), under a lock so that any number of processes
may start together."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

# pg_advisory_xact_lock key of migrations (paper writes use ..._72000002, store/__init__.py).
_MIGRATE_LOCK = 0x70617065_72000001


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "papertide.store:migrations")
    return cfg


def known_revisions() -> list[str]:
    """The revisions this papertide knows, oldest first."""
    script = ScriptDirectory.from_config(_config())
    return [r.revision for r in reversed(list(script.walk_revisions()))]


class SchemaTooNew(Exception):
    """The database is at a revision this papertide does not know: a newer one migrated it."""

    def __init__(self, found: str, newest: str) -> None:
        self.found, self.newest = found, newest
        super().__init__(
            f"the database was migrated by a newer papertide (schema revision {found!r}; "
            f"this one knows revisions up to {newest!r}): run the newer papertide, or take "
            f"the database back with the newer one's `papertide db downgrade {newest} --yes` "
            "(back it up first)"
        )


class RevisionsMixin:
    """Schema revisions; mixed into Store, which provides ``engine`` and ``_queued``."""

    engine: Engine
    _queued: Callable[..., AbstractContextManager[Connection]]

    def schema_revision(self) -> str | None:
        """The revision the database is at (None: an empty database)."""
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (a no-op when it is there).

        Under a lock, so that any number of processes may start together: the first
        migrates, the others wait for it and then find nothing to do (SQLite: the write
        lock taken up front; PostgreSQL: a transaction-level advisory lock)."""
        head = ScriptDirectory.from_config(_config()).get_current_head()
        current = self.schema_revision()
        if current == head:  # a read first: at head, no lock is needed
            return
        self.refuse_newer(current)
        self._move(lambda cfg: command.upgrade(cfg, "head"))

    def refuse_newer(self, current: str | None) -> None:
        """Raise SchemaTooNew when ``current`` is a revision this papertide does not know
        (Alembic would fail half way into a 100-line traceback)."""
        known = known_revisions()
        if current is not None and current not in known:
            raise SchemaTooNew(current, known[-1])

    def downgrade(self, revision: str) -> None:
        """Take the schema down to ``revision`` (what each migration's downgrade does)."""
        self._move(lambda cfg: command.downgrade(cfg, revision))

    def _move(self, step: Callable[[Config], None]) -> None:
        """Run an Alembic command on a connection that holds the migration lock."""
        cfg = _config()
        sqlite = self.engine.dialect.name == "sqlite"
        with self.engine.connect() as fk_conn:
            if sqlite:
                # Batch mode changes a SQLite column by copying the table and dropping the old
                # one; with foreign keys on, that drop cascades to every row that refers to it
                # (users -> sessions, votes). Alembic's documented answer: keys off during the
                # migration (the pragma only takes effect outside a transaction), checked
                # before commit, on again after.
                _set_foreign_keys(fk_conn, on=False)
            try:
                with self._queued(_MIGRATE_LOCK, conn=fk_conn) as conn:
                    cfg.attributes["connection"] = conn
                    step(cfg)
                    if sqlite:
                        broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                        if broken:
                            raise RuntimeError(f"migration broke foreign keys: {broken[:5]}")
            finally:
                if sqlite:
                    _set_foreign_keys(fk_conn, on=True)


def _set_foreign_keys(conn: Connection, *, on: bool) -> None:
    """SQLite's foreign_keys pragma on ``conn``'s own DBAPI connection, outside any
    transaction (SQLAlchemy would begin one around a statement sent through ``conn``)."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    finally:
        cursor.close()


__all__ = ["RevisionsMixin", "SchemaTooNew", "known_revisions"]
