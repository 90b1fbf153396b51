"""Moving a database from one schema revision to another with Alembic, under a lock so
that any number of processes may start together. Imported only when a database is not at
this papertide's newest revision (or by `papertide db downgrade`): a store that is up to
date opens without loading Alembic at all (store/revisions.py)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine

# pg_advisory_xact_lock key of migrations (paper writes use ..._72000002, store/__init__.py).
_MIGRATE_LOCK = 0x70617065_72000001

Queued = Callable[..., AbstractContextManager[Connection]]


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "papertide.store:migrations")
    return cfg


def upgrade(engine: Engine, queued: Queued) -> None:
    """Bring the schema to the newest revision (a no-op for a process that waited on the
    lock while another did it)."""
    _move(engine, queued, lambda cfg: command.upgrade(cfg, "head"))


def downgrade(engine: Engine, queued: Queued, revision: str) -> None:
    """Take the schema down to ``revision`` (what each migration's downgrade does)."""
    _move(engine, queued, lambda cfg: command.downgrade(cfg, revision))


def _move(engine: Engine, queued: Queued, step: Callable[[Config], None]) -> None:
    """Run an Alembic command on a connection that holds the migration lock (SQLite: the
    write lock taken up front; PostgreSQL: a transaction-level advisory lock)."""
    cfg = _config()
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as fk_conn:
        if sqlite:
            # Batch mode changes a SQLite column by copying the table and dropping the old
            # one; with foreign keys on, that drop cascades to every row that refers to it
            # (users -> sessions, votes). Alembic's documented answer: keys off during the
            # migration (the pragma only takes effect outside a transaction), checked
            # before commit, on again after.
            _set_foreign_keys(fk_conn, on=False)
        try:
            with queued(_MIGRATE_LOCK, conn=fk_conn) as conn:
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
