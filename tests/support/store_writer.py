"""A process that writes to a store in a loop, for backups taken under load:
`python -m tests.support.store_writer URL STOP_FILE`. Each transaction inserts one paper
and counts it in the site_counters row WRITES_COUNTER, so any consistent copy of the store
holds exactly as many of the writer's papers as that counter says (a torn copy would not).
It stops when STOP_FILE exists (or after two minutes) and prints how many it wrote."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from sqlalchemy import func, insert, select, update

from papertide.clock import utcnow
from papertide.models import Paper
from papertide.store import Store
from papertide.store.schema import papers, site_counters

WRITES_COUNTER = "test_writer"
ID_PREFIX = "writer-"


def writer_papers_and_counter(store: Store) -> tuple[int, int]:
    """How many of the writer's papers a store holds, and what its counter says."""
    with store.engine.connect() as conn:
        held = conn.scalar(
            select(func.count()).select_from(papers).where(papers.c.id.like(f"{ID_PREFIX}%"))
        )
        counted = conn.scalar(
            select(site_counters.c.value).where(site_counters.c.name == WRITES_COUNTER)
        )
    return int(held or 0), int(counted or 0)


def main(url: str, stop: Path) -> None:
    """Write until ``stop`` exists."""
    store = Store.open(url)
    with store.write() as ws:
        ws.conn.execute(insert(site_counters).values(name=WRITES_COUNTER, value=0))
    deadline = time.monotonic() + 120
    n = 0
    while not stop.exists() and time.monotonic() < deadline:
        now = utcnow()
        made = Paper(
            id=f"{ID_PREFIX}{n}",
            title=f"Written under a backup {n}",
            abstract="x" * 2000,  # pages enough for a backup to take several steps
            first_seen=now,
            listed_on=now.date(),
        )
        with store.write() as ws:
            ws.insert_papers([made])
            ws.conn.execute(
                update(site_counters)
                .where(site_counters.c.name == WRITES_COUNTER)
                .values(value=site_counters.c.value + 1)
            )
        n += 1
    store.close()
    print(n)


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
