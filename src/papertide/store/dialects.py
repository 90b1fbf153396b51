"""What differs between the two databases, loaded for the one in use.

SQLAlchemy's PostgreSQL dialect package imports every PostgreSQL driver module it knows
(asyncpg, pg8000, psycopg, psycopg2): a SQLite store that imported it would pay for that
on every command's start (a twentieth of `papertide stats`). So the store's tables and
statements name the PostgreSQL types and INSERT ... ON CONFLICT only where a connection to
PostgreSQL compiles them; on PostgreSQL the dialect is loaded by the engine anyway.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Connection, Dialect, Index, text
from sqlalchemy.types import TypeDecorator, TypeEngine


def insert_of(conn: Connection) -> Any:
    """The ``insert`` of ``conn``'s database, whose statements have ON CONFLICT (both
    PostgreSQL's and SQLite's spell it the same way)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


class JsonColumn(TypeDecorator[Any]):
    """JSONB on PostgreSQL (comparable, indexable); JSON text elsewhere. With
    ``none_as_null`` a Python None is SQL NULL, else JSON 'null' (as JSON's own flag)."""

    impl = JSON
    cache_ok = True

    def __init__(self, *, none_as_null: bool = False) -> None:
        super().__init__(none_as_null=none_as_null)
        self.none_as_null = none_as_null

    @property
    def should_evaluate_none(self) -> bool:
        """None is written as JSON 'null' unless ``none_as_null`` (as JSON decides)."""
        return not self.none_as_null

    @should_evaluate_none.setter
    def should_evaluate_none(self, value: bool) -> None:
        """What ``TypeEngine.evaluates_none()`` sets on a copy (as JSON's own setter)."""
        self.none_as_null = not value

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        """JSONB for PostgreSQL, imported only when a PostgreSQL engine asks."""
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            return dialect.type_descriptor(JSONB(none_as_null=self.none_as_null))
        return dialect.type_descriptor(JSON(none_as_null=self.none_as_null))


def partial_index(name: str, *columns: str, where: str, unique: bool = False) -> Index:
    """An index of the rows where ``where`` holds, on SQLite and on PostgreSQL alike (as
    ``sqlite_where=`` and ``postgresql_where=`` would declare it). PostgreSQL's option is
    added when something first reads the index's PostgreSQL options (that dialect's DDL
    compiler, Alembic): naming it here would import the dialect to check the name."""
    index = Index(name, *columns, unique=unique, sqlite_where=text(where))

    def options_of(dialect_name: str) -> Any:
        options = Index._kw_reg_for_dialect_cls(dialect_name)
        if dialect_name == "postgresql":
            options["where"] = text(where)
        return options

    index.dialect_options.creator = options_of
    return index
