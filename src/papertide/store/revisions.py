"""The schema's revisions: which one a database is at, which ones this papertide knows,
and moving a database to the newest when a store opens.

A store that is up to date opens with one query (``SELECT version_num FROM
alembic_version``) and without importing Alembic (its import was 70 ms of `papertide
stats` with compiled bytecode and 300 ms without, 2026-12-06, -X importtime): the revisions are
read from the migration files' ``revision = ...`` lines (a test checks them against
Alembic's own reading). Only a database at another revision loads the migration machinery
(store/migrating.py)."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import cache
from pathlib import Path

from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import DBAPIError

_VERSIONS = Path(__file__).parent / "migrations" / "versions"
_ASSIGNED = re.compile(r"^(down_revision|revision)\s*(?::[^=]*)?=\s*(.+?)\s*$", re.MULTILINE)


def known_revisions() -> list[str]:
    """The revisions this papertide knows, oldest first (from the migration files)."""
    return list(_chain())


@cache
def _chain() -> tuple[str, ...]:
    parents: dict[str, str | None] = {}
    for path in _VERSIONS.glob("*.py"):
        found = dict(_ASSIGNED.findall(path.read_text(encoding="utf-8")))
        if "revision" not in found:
            continue
        down = found.get("down_revision", "None")
        parents[_string(found["revision"])] = None if down == "None" else _string(down)
    chain: list[str] = []
    children = {parent: child for child, parent in parents.items()}
    at = children.get(None)
    while at is not None:
        chain.append(at)
        at = children.get(at)
    if len(chain) != len(parents):
        raise RuntimeError(f"the migrations in {_VERSIONS} are not one line of revisions")
    return tuple(chain)


def _string(literal: str) -> str:
    return literal.strip("\"'")


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


_READ_REVISION = text("SELECT version_num FROM alembic_version")


class RevisionsMixin:
    """Schema revisions; mixed into Store, which provides ``engine`` and ``_queued``."""

    engine: Engine
    _queued: Callable[..., AbstractContextManager[Connection]]

    def schema_revision(self) -> str | None:
        """The revision the database is at (None: an empty database), in one query."""
        with self.engine.connect() as conn:
            try:
                versions = conn.execute(_READ_REVISION).all()
            except DBAPIError:
                conn.rollback()
                if not inspect(conn).has_table("alembic_version"):
                    return None
                # The table is there now: another process's first migration committed it
                # between the two looks (nodes starting together on a new database), or the
                # database refused the read for a reason of its own. Asked again, the first
                # answers and the second raises its error.
                versions = conn.execute(_READ_REVISION).all()
        if len(versions) > 1:
            raise RuntimeError(f"the database is at several revisions: {sorted(versions)}")
        return str(versions[0][0]) if versions else None

    def migrate(self) -> None:
        """Bring the schema to the newest revision (a no-op when it is there: one query).

        Under a lock, so that any number of processes may start together: the first
        migrates, the others wait for it and then find nothing to do."""
        current = self.schema_revision()
        if current == _chain()[-1]:  # a read first: at head, no lock is needed
            return
        self.refuse_newer(current)
        from papertide.store import migrating

        migrating.upgrade(self.engine, self._queued)

    def refuse_newer(self, current: str | None) -> None:
        """Raise SchemaTooNew when ``current`` is a revision this papertide does not know
        (Alembic would fail half way into a 100-line traceback)."""
        known = known_revisions()
        if current is not None and current not in known:
            raise SchemaTooNew(current, known[-1])

    def downgrade(self, revision: str) -> None:
        """Take the schema down to ``revision`` (what each migration's downgrade does)."""
        from papertide.store import migrating

        migrating.downgrade(self.engine, self._queued, revision)


__all__ = ["RevisionsMixin", "SchemaTooNew", "known_revisions"]
