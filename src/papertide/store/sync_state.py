"""Per-source sync state and the sync run log: the store side of `papertide sync`.

A source's row holds its ``watermark`` (where the next incremental run starts: an ISO date
or time) and, while a run is part way through, its ``checkpoint`` (the page to resume
from). Both are written by ``save_state`` inside the transaction that stores the page's
papers, so they never point past what was stored.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update

from papertide.clock import utcnow
from papertide.store import Store, WriteSession
from papertide.store.schema import source_runs, source_state


@dataclass(slots=True)
class SourceState:
    """Where one live source stands."""

    source: str
    watermark: str | None = None
    checkpoint: dict[str, Any] | None = None
    last_success: datetime | None = None


@dataclass(slots=True)
class SourceRun:
    """One run of one source, as logged."""

    source: str
    started: datetime
    finished: datetime
    status: str
    pages: int = 0
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    errors: int = 0
    message: str | None = None


def load_state(store: Store, source: str) -> SourceState:
    """The stored state of ``source`` (an empty one if it never ran)."""
    with store.engine.connect() as conn:
        row = (
            conn.execute(select(source_state).where(source_state.c.source == source))
            .mappings()
            .first()
        )
    return _state(row) if row is not None else SourceState(source)


def list_states(store: Store) -> dict[str, SourceState]:
    """The state of every source that has run, by name."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(source_state).order_by(source_state.c.source)).mappings()
        return {row["source"]: _state(row) for row in rows}


def _state(row: Any) -> SourceState:
    return SourceState(
        source=row["source"],
        watermark=row["watermark"],
        checkpoint=row["checkpoint"],
        last_success=row["last_success"],
    )


def save_state(
    session: WriteSession,
    *,
    source: str,
    watermark: str | None,
    checkpoint: dict[str, Any] | None,
    succeeded: bool = False,
) -> None:
    """Write a source's position inside the caller's transaction (with the page's papers)."""
    conn = session.conn
    values: dict[str, Any] = {"watermark": watermark, "checkpoint": checkpoint, "updated": utcnow()}
    if succeeded:
        values["last_success"] = values["updated"]
    exists = conn.execute(
        select(source_state.c.source).where(source_state.c.source == source)
    ).first()
    if exists is None:
        conn.execute(insert(source_state).values(source=source, **values))
    else:
        conn.execute(update(source_state).where(source_state.c.source == source).values(values))


def log_run(store: Store, *, run: SourceRun) -> None:
    """Append a run to the log in its own transaction (a failed run is logged too)."""
    with store.write() as session:
        session.conn.execute(
            insert(source_runs).values(
                source=run.source,
                started=run.started,
                finished=run.finished,
                status=run.status,
                pages=run.pages,
                added=run.added,
                changed=run.changed,
                unchanged=run.unchanged,
                errors=run.errors,
                message=run.message,
            )
        )


def last_runs(store: Store) -> dict[str, SourceRun]:
    """The latest logged run of each source, by name."""
    newest = select(func.max(source_runs.c.pk)).group_by(source_runs.c.source)
    names = [f.name for f in fields(SourceRun)]
    with store.engine.connect() as conn:
        rows = conn.execute(select(source_runs).where(source_runs.c.pk.in_(newest))).mappings()
        return {row["source"]: SourceRun(**{n: row[n] for n in names}) for row in rows}
