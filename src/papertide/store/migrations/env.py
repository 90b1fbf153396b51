"""Alembic environment: runs on the connection the Store hands over, or on a URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from papertide.store.schema import metadata

config = context.config


def run_migrations() -> None:
    """Migrate through the given connection (Store.migrate) or a fresh engine (alembic CLI)."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as conn:
        _run(conn)


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=metadata,
        render_as_batch=True,  # SQLite changes columns by copying the table
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
