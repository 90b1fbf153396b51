"""Writes inside one transaction: dedupe look-ups, inserts, updates, listings, the run log."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, delete, insert, or_, select, text, update

from papertide.clock import utcnow
from papertide.models import ImportReport, Paper
from papertide.store.feeds import select_papers, to_papers
from papertide.store.rows import paper_to_row
from papertide.store.schema import (
    external_ids,
    ingest_runs,
    listing_items,
    listings,
    papers,
    site_counters,
)

SQLITE_BUSY_MS = 30_000  # how long a SQLite statement waits for another writer's lock
# Inserts of one transaction after which PostgreSQL's statistics are first refreshed
# (WriteSession._keep_statistics); then each time they double.
_FIRST_ANALYZE = 5_000


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A write transaction that takes its lock up front (BEGIN IMMEDIATE on SQLite).

    A deferred SQLite transaction that reads and then writes cannot upgrade its lock once
    another writer committed, and fails at once with "database is locked" (the busy timeout
    does not apply: SQLite docs, "isolation", BEGIN DEFERRED). Every write, however small,
    goes through here or ``Store.write()``.
    """
    with engine.connect().execution_options(papertide_write=True) as conn, conn.begin():
        yield conn


# How long a write that can be skipped (a similar list: derived data, computed again on a
# later view) waits for another writer's lock before giving up.
BRIEF_WAIT_MS = 100


@contextmanager
def writing_briefly(engine: Engine) -> Iterator[Connection]:
    """``writing``, but giving up (OperationalError) after BRIEF_WAIT_MS behind another
    writer instead of SQLite's 30 s busy timeout or PostgreSQL's unbounded lock wait: for
    writes a request can do without, so that a big import never holds a page up."""
    with engine.connect().execution_options(papertide_write=True) as conn:
        sqlite = conn.dialect.name == "sqlite"
        raw: Any = conn.connection.dbapi_connection
        if sqlite:
            raw.execute(f"PRAGMA busy_timeout={BRIEF_WAIT_MS}")
        try:
            with conn.begin():
                if not sqlite:
                    conn.execute(text(f"SET LOCAL lock_timeout = '{BRIEF_WAIT_MS}ms'"))
                yield conn
        finally:
            if sqlite:
                raw.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")


def touch_pages(conn: Connection) -> None:
    """Tell page caches that something a page shows changed (a vote, a comment, a saved
    paper): the writes the change feed does not carry bump this counter, in their own
    transaction (``Store.change_token`` reads it)."""
    conn.execute(
        update(site_counters)
        .where(site_counters.c.name == "votes")
        .values(value=site_counters.c.value + 1)
    )


class WriteSession:
    """The write half of the Store, bound to one open transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._inserted = 0
        self._analyze_at = _FIRST_ANALYZE

    def _keep_statistics(self, added: int) -> None:
        """On PostgreSQL, ANALYZE the tables this transaction is filling each time its
        inserts double. Rows of an open transaction are invisible to autovacuum, so a big
        import's planner statistics still describe the table as it was: the dedupe look-ups
        (``find_candidates``: keys IN (...) OR ...) then looked unselective and ran as
        sequential scans of every row inserted so far, batch after batch (17 s a batch
        seen at 1M papers). ANALYZE inside the transaction samples its own new rows."""
        self._inserted += added
        if self._inserted < self._analyze_at or self.conn.dialect.name != "postgresql":
            return
        self.conn.execute(text(f"ANALYZE {papers.name}, {external_ids.name}"))
        self._analyze_at = self._inserted * 2

    def find_candidates(
        self,
        *,
        arxiv_ids: Iterable[str],
        dois: Iterable[str],
        external: Iterable[tuple[str, str]],
        title_keys: Iterable[str],
    ) -> list[Paper]:
        """Stored papers that share any of the given keys with incoming records."""
        pks: set[int] = set()
        by_ns: dict[str, list[str]] = defaultdict(list)
        for ns, value in external:
            by_ns[ns].append(value)
        for ns, values in by_ns.items():
            query = select(external_ids.c.paper_pk).where(
                external_ids.c.namespace == ns, external_ids.c.value.in_(values)
            )
            pks.update(self.conn.scalars(query))
        conditions = []
        for column, keys in (
            (papers.c.arxiv_id, set(arxiv_ids)),
            (papers.c.doi, set(dois)),
            (papers.c.title_key, set(title_keys)),
        ):
            if keys:
                conditions.append(column.in_(keys))
        if conditions:
            pks.update(self.conn.scalars(select(papers.c.pk).where(or_(*conditions))))
        return self.load(pks)

    def load(self, pks: Iterable[int]) -> list[Paper]:
        """Papers by row key, with their external ids."""
        keys = list(pks)
        if not keys:
            return []
        return to_papers(self.conn.execute(select_papers().where(papers.c.pk.in_(keys))).mappings())

    def insert_papers(self, new: list[Paper]) -> None:
        """Insert new papers; sets each one's pk.

        A plain executemany and one SELECT of the new keys: ordered INSERT ... RETURNING
        makes SQLAlchemy send one statement per row on SQLite, several times slower.
        """
        if not new:
            return
        self.conn.execute(insert(papers), [paper_to_row(p) for p in new])
        by_id = {p.id: p for p in new}
        query = select(papers.c.id, papers.c.pk).where(papers.c.id.in_(list(by_id)))
        for pid, pk in self.conn.execute(query):
            by_id[pid].pk = pk
        self._add_external_ids(new, {})
        self._keep_statistics(len(new))

    def update_papers(self, changed: list[tuple[Paper, dict[str, str]]]) -> None:
        """Write merged papers back; each comes with the external ids already stored."""
        if not changed:
            return
        rows = []
        for paper, _ in changed:
            row = paper_to_row(paper)
            row["b_pk"] = paper.pk
            rows.append(row)
        values: dict[str, Any] = {name: bindparam(name) for name in rows[0] if name != "b_pk"}
        statement = update(papers).where(papers.c.pk == bindparam("b_pk")).values(values)
        self.conn.execute(statement, rows)
        for paper, stored in changed:
            self._add_external_ids([paper], stored)

    def _add_external_ids(self, given: list[Paper], stored: dict[str, str]) -> None:
        rows = [
            {"namespace": ns, "value": value, "paper_pk": p.pk}
            for p in given
            for ns, value in p.external_ids.items()
            if ns not in stored
        ]
        if rows:
            self.conn.execute(insert(external_ids), rows)

    def save_listing(self, *, kind: str, origin: str, listed_on: date, paper_pks: list[int]) -> str:
        """Store which papers a page listed, in order. Returns 'added', 'changed' or 'same'."""
        subject = paper_pks[0]
        key = (listings.c.kind == kind, listings.c.listed_on == listed_on)
        found = self.conn.execute(
            select(listings.c.pk).where(*key, listings.c.subject_pk == subject)
        ).scalar_one_or_none()
        items = [{"position": i, "paper_pk": pk} for i, pk in enumerate(paper_pks)]
        if found is None:
            found = self.conn.execute(
                insert(listings).returning(listings.c.pk),
                {"kind": kind, "origin": origin, "listed_on": listed_on, "subject_pk": subject},
            ).scalar_one()
            outcome = "added"
        else:
            query = (
                select(listing_items.c.paper_pk)
                .where(listing_items.c.listing_pk == found)
                .order_by(listing_items.c.position)
            )
            if list(self.conn.scalars(query)) == paper_pks:
                return "same"
            self.conn.execute(delete(listing_items).where(listing_items.c.listing_pk == found))
            outcome = "changed"
        self.conn.execute(insert(listing_items), [{"listing_pk": found, **i} for i in items])
        return outcome

    def record_run(
        self, report: ImportReport, *, started: datetime, formats: list[str], paths: list[str]
    ) -> None:
        """Log the run in ingest_runs (inside the same transaction as its data)."""
        row: dict[str, Any] = {
            "started": started,
            "finished": utcnow(),
            "formats": formats,
            "paths": paths,
            "added": report.added,
            "changed": report.changed,
            "unchanged": report.unchanged,
            "errors": len(report.errors),
        }
        self.conn.execute(insert(ingest_runs), row)
