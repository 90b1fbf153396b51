"""Throw-away databases for benchmarks: a fresh SQLite file, or a new database on the
PostgreSQL server a URL names (created, then dropped), so each run starts empty."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import count

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

_serial = count()


@contextmanager
def scratch_database(url: str, *, keep: bool = False) -> Iterator[str]:
    """The URL of a new, empty database on the same PostgreSQL server as ``url`` (dropped
    afterwards, unless ``keep``); needs the right to CREATE DATABASE."""
    parsed = make_url(url)
    name = f"papertide_bench_{os.getpid()}_{next(_serial)}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield parsed.set(database=name).render_as_string(hide_password=False)
    finally:
        if not keep:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
