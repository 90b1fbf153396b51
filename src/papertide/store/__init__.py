"""The only code that speaks SQL: one Store over SQLite or PostgreSQL (SQLAlchemy 2).

``Store.open(url)`` migrates the database to the newest schema (Alembic) and returns a
store; ``store.write()`` opens the single transaction an import runs in.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import (
    Connection,
    Engine,
    and_,
    bindparam,
    create_engine,
    event,
    func,
    or_,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from papertide.models import Paper
from papertide.normalize import parse_arxiv_id
from papertide.store.accounts import AccountsMixin, NameTaken
from papertide.store.changes import ChangeFeedMixin, FeedPosition
from papertide.store.claims import AuthorClaim, ClaimError, ClaimsMixin
from papertide.store.comments import CommentError, CommentMixin
from papertide.store.embeddings import EmbeddingMixin, StoredEmbedding
from papertide.store.export import ExportMixin
from papertide.store.feeds import FeedMixin, select_papers, to_papers
from papertide.store.files import private_dir, private_file
from papertide.store.hub import HubMixin
from papertide.store.lists import ListError, ListMixin
from papertide.store.pictures import PicturesMixin, StoredPicture
from papertide.store.rate_limits import RateLimitsMixin
from papertide.store.revisions import RevisionsMixin, SchemaTooNew
from papertide.store.schema import ingest_runs, listing_items, listings, papers
from papertide.store.similar import SimilarMixin
from papertide.store.votes import VotesMixin
from papertide.store.writer import SQLITE_BUSY_MS, WriteSession

__all__ = [
    "AuthorClaim",
    "ClaimError",
    "CommentError",
    "FeedPosition",
    "ListError",
    "NameTaken",
    "SchemaTooNew",
    "Store",
    "StoredEmbedding",
    "StoredPicture",
    "WriteSession",
]

# pg_advisory_xact_lock key of imports and other paper writes (migrations: migrating.py).
_WRITE_LOCK = 0x70617065_72000002
# A paper by public id, DOI or arXiv id (NULL, matching none, when the reference is not
# one), built once: the SELECT with its subquery of external ids took a third of the read to
# build (feeds._BY_PKS).
_BY_REF = (
    select_papers()
    .where(
        or_(
            papers.c.id == bindparam("ref"),
            papers.c.doi == bindparam("ref"),
            papers.c.arxiv_id == bindparam("arxiv"),
        )
    )
    .limit(1)
)


log = logging.getLogger(__name__)


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode("utf-8")


class Store(
    RevisionsMixin,
    ExportMixin,
    ChangeFeedMixin,
    ListMixin,
    ClaimsMixin,
    CommentMixin,
    AccountsMixin,
    VotesMixin,
    RateLimitsMixin,
    EmbeddingMixin,
    FeedMixin,
    SimilarMixin,
    PicturesMixin,
    HubMixin,
):
    """Papers and everything about them, in one database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str, *, migrate: bool = True, connect_timeout: int = 0) -> Store:
        """Connect to ``url`` (creating a SQLite file's folder) and migrate it to head. A new
        PostgreSQL connection fails after ``connect_timeout`` seconds (0: the driver's own
        limit) unless the URL sets its own ``connect_timeout``."""
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            private_dir(Path(parsed.database).parent)
        connect_args: dict[str, Any] = {}
        if (
            parsed.get_backend_name() == "postgresql"
            and connect_timeout > 0
            and "connect_timeout" not in parsed.query
        ):
            # libpq's parameter, which psycopg also enforces over the whole handshake: a
            # black-holed host or a server that never answers is an error, not a hang.
            connect_args["connect_timeout"] = connect_timeout
        engine = create_engine(
            url,
            connect_args=connect_args,
            json_serializer=_json_dumps,
            json_deserializer=orjson.loads,
            # A pooled connection the server dropped (a restart) is replaced. A SQLite file
            # has no server to drop it: its ping was 7% of a search page's time.
            pool_pre_ping=parsed.get_backend_name() != "sqlite",
        )
        if engine.dialect.name == "sqlite":
            _configure_sqlite(engine)
        store = cls(engine)
        if migrate:
            store.migrate()
        return store

    def close(self) -> None:
        """Release every pooled connection."""
        self.engine.dispose()

    @contextmanager
    def write(self) -> Iterator[WriteSession]:
        """One transaction: everything written inside commits together or not at all.

        Paper writers take turns, as on SQLite: on PostgreSQL an advisory lock makes a second
        import of the same file wait for the first and then find its papers, instead of both
        inserting them and one dying on a unique violation. Either way a writer waits for
        the one before it however long that takes."""
        with self._queued(_WRITE_LOCK) as conn:
            yield WriteSession(conn)

    @contextmanager
    def _queued(self, lock: int, conn: Connection | None = None) -> Iterator[Connection]:
        """A write transaction that waits its turn: SQLite's write lock (however long it
        takes), and on PostgreSQL the advisory lock ``lock`` as well (on ``conn``, or on a
        connection of its own)."""
        with ExitStack() as stack:
            if conn is None:
                conn = stack.enter_context(self.engine.connect())
            conn = conn.execution_options(papertide_write=True, papertide_wait=math.inf)
            stack.enter_context(conn.begin())
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock})
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    # Reads ------------------------------------------------------------------------------

    def get_paper(self, ref: str) -> Paper | None:
        """A paper by public id, arXiv id or URL (any version), or DOI."""
        parsed = parse_arxiv_id(ref)
        values = {"ref": ref, "arxiv": parsed[0] if parsed else None}
        with self._read() as conn:
            found = to_papers(conn.execute(_BY_REF, values).mappings())
            return found[0] if found else None

    def list_papers(
        self, *, day: date | None = None, limit: int = 50, offset: int = 0
    ) -> list[Paper]:
        """Papers filed under ``day`` (or all), newest day first, then in arrival order."""
        query = select_papers().order_by(papers.c.day.desc(), papers.c.pk)
        if day is not None:
            query = query.where(papers.c.day == day)
        with self._read() as conn:
            return to_papers(conn.execute(query.limit(limit).offset(offset)).mappings())

    def iter_modified(
        self, since: datetime | None = None, *, batch: int = 5000
    ) -> Iterator[list[tuple[datetime, Paper]]]:
        """Batches of (modified, paper) written after ``since`` (all when None), oldest first.

        Keyset paging on (modified, pk), so a full pass over millions of rows stays cheap.
        """
        last: tuple[datetime, int] | None = None
        while True:
            query = select_papers().order_by(papers.c.modified, papers.c.pk).limit(batch)
            if since is not None:
                query = query.where(papers.c.modified > since)
            if last is not None:
                query = query.where(
                    or_(
                        papers.c.modified > last[0],
                        and_(papers.c.modified == last[0], papers.c.pk > last[1]),
                    )
                )
            with self._read() as conn:
                rows = list(conn.execute(query).mappings())
                found = to_papers(rows)
            if not rows:
                return
            yield [(row["modified"], paper) for row, paper in zip(rows, found, strict=True)]
            last = (rows[-1]["modified"], rows[-1]["pk"])

    def iter_papers(self, *, after_pk: int = 0, batch: int = 5000) -> Iterator[list[Paper]]:
        """Every stored paper with a pk above ``after_pk``, in pk order, in batches (keyset
        paging: a full pass over millions of rows stays cheap, and can resume)."""
        while True:
            query = select_papers().where(papers.c.pk > after_pk).order_by(papers.c.pk).limit(batch)
            with self._read() as conn:
                found = to_papers(conn.execute(query).mappings())
            if not found:
                return
            found.sort(key=lambda p: p.pk or 0)
            yield found
            after_pk = found[-1].pk or 0

    def max_paper_pk(self) -> int:
        """The highest pk stored (0 when empty)."""
        with self._read() as conn:
            return int(conn.scalar(select(func.max(papers.c.pk))) or 0)

    def count_papers(self) -> int:
        """How many papers are stored."""
        with self._read() as conn:
            return int(conn.execute(select(func.count()).select_from(papers)).scalar_one())

    def listed_with(self, paper: Paper) -> list[tuple[date, Paper, list[Paper]]]:
        """Each page listing that holds ``paper``: its date, subject paper and papers in order."""
        with self._read() as conn:
            found = conn.execute(
                select(listings)
                .join(listing_items, listing_items.c.listing_pk == listings.c.pk)
                .where(listing_items.c.paper_pk == paper.pk)
                .order_by(listings.c.listed_on.desc())
                .distinct()
            ).mappings()
            result = []
            for listing in list(found):
                rows = conn.execute(
                    select_papers()
                    .join(listing_items, listing_items.c.paper_pk == papers.c.pk)
                    .where(listing_items.c.listing_pk == listing["pk"])
                    .order_by(listing_items.c.position)
                ).mappings()
                members = to_papers(rows)
                result.append((listing["listed_on"], members[0], members[1:]))
            return result

    def stats(self, *, top: int = 20) -> dict[str, Any]:
        """Counts: papers, listings, by source, by primary category and by day (latest)."""
        with self._read() as conn:
            total = conn.execute(select(func.count()).select_from(papers)).scalar_one()
            by_source: Counter[str] = Counter()
            for sources, count in conn.execute(
                select(papers.c.sources, func.count()).group_by(papers.c.sources)
            ):
                for source in sources:
                    by_source[source] += count
            by_category = conn.execute(
                select(papers.c.primary_category, func.count())
                .group_by(papers.c.primary_category)
                .order_by(func.count().desc())
                .limit(top)
            ).all()
            by_day = conn.execute(
                select(papers.c.day, func.count())
                .group_by(papers.c.day)
                .order_by(papers.c.day.desc())
                .limit(top)
            ).all()
            n_listings = conn.execute(select(func.count()).select_from(listings)).scalar_one()
            runs = conn.execute(select(func.count()).select_from(ingest_runs)).scalar_one()
        return {
            "papers": total,
            "listings": n_listings,
            "ingest_runs": runs,
            "by_source": dict(by_source.most_common()),
            "by_category": {(c or "(none)"): n for c, n in by_category},
            "by_day": {(d.isoformat() if d else "(none)"): n for d, n in by_day},
        }


def _configure_sqlite(engine: Engine) -> None:
    """WAL for readers beside a writer, and explicit BEGIN so transactions really hold.

    pysqlite's own transaction handling defers BEGIN and skips it for DDL; SQLAlchemy's
    documented recipe takes it over (docs: "Serializable isolation / Savepoints / Transactional
    DDL" in the SQLite dialect page). Write transactions take the lock up front (IMMEDIATE), so
    two importers queue instead of failing half way.
    """

    database = engine.url.database

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        if database and database != ":memory:":
            private_file(Path(database))  # before WAL mode creates -wal and -shm beside it
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        for pragma in (
            "journal_mode=WAL",
            "synchronous=NORMAL",
            "foreign_keys=ON",
            f"busy_timeout={SQLITE_BUSY_MS}",
            # A big import grows the WAL to its own size (it commits once); cut the file back
            # to 64 MB after the checkpoints that follow, rather than keep gigabytes.
            "journal_size_limit=67108864",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        if not options.get("papertide_write", False):
            # Straight to the driver: exec_driver_sql builds a whole execution context for
            # it, 7% of a search request's time under load (py-spy, 100k papers).
            conn.connection.dbapi_connection.execute("BEGIN")  # type: ignore[union-attr]
            return
        # busy_timeout gives up after 30 s; an import queued behind a big one (minutes)
        # keeps waiting instead, as it does behind PostgreSQL's advisory lock.
        deadline = time.monotonic() + float(options.get("papertide_wait", 0))
        while True:
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                return
            except OperationalError as exc:
                if "locked" not in str(exc.orig) or time.monotonic() >= deadline:
                    raise
                log.info("store: waiting for another writer to commit")
