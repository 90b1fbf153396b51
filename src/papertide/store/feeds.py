"""Store methods for the feeds: papers of a period ranked by votes, neighbouring periods."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from typing import Any, NamedTuple

from sqlalchemy import JSON, Engine, RowMapping, Select, bindparam, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from papertide.models import Paper
from papertide.store.rows import row_to_paper
from papertide.store.schema import external_ids, papers


class VoteKeys(NamedTuple):
    """The columns a trending score reads."""

    pk: int
    day: date | None
    site_votes: int
    upvotes_external: int | None


# Community interest in a paper: votes here plus votes observed on the source site.
_VOTES = papers.c.site_votes + func.coalesce(papers.c.upvotes_external, 0)


class FeedMixin:
    """Period feeds; mixed into Store, which provides ``engine``."""

    engine: Engine

    def papers_between(
        self, start: date, end: date, *, limit: int = 50, offset: int = 0
    ) -> tuple[list[Paper], int]:
        """Papers filed under days in [start, end), most voted first; and how many there are."""
        where = (papers.c.day >= start, papers.c.day < end)
        # Rank on the covering index ix_papers_feed (keys only), then load the chosen rows.
        ranked = (
            select(papers.c.pk)
            .where(*where)
            .order_by(_VOTES.desc(), papers.c.day.desc(), papers.c.pk)
            .limit(limit)
            .offset(offset)
        )
        with self.engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(papers).where(*where))
            pks = list(conn.scalars(ranked))
            rows = conn.execute(_BY_PKS, {"pks": pks}).mappings()
            by_pk = {p.pk: p for p in to_papers(rows)}
            return [by_pk[pk] for pk in pks], int(total.scalar_one())

    def neighbour_days(self, start: date, end: date) -> tuple[date | None, date | None]:
        """The nearest day with papers before ``start`` and at or after ``end``."""
        with self.engine.connect() as conn:
            before = conn.execute(select(func.max(papers.c.day)).where(papers.c.day < start))
            after = conn.execute(select(func.min(papers.c.day)).where(papers.c.day >= end))
            return before.scalar_one_or_none(), after.scalar_one_or_none()

    def latest_day(self) -> date | None:
        """The newest day any paper is filed under."""
        with self.engine.connect() as conn:
            found: date | None = conn.execute(select(func.max(papers.c.day))).scalar_one_or_none()
            return found

    def recent_paper_pks(self, days: int) -> list[int]:
        """Row keys of the papers filed within ``days`` days of the newest day (that day
        counted), newest first."""
        latest = self.latest_day()
        if latest is None or days <= 0:
            return []
        query = (
            select(papers.c.pk)
            .where(papers.c.day >= latest - timedelta(days=days - 1))
            .order_by(papers.c.day.desc(), papers.c.pk.desc())
        )
        with self.engine.connect() as conn:
            return list(conn.scalars(query))

    def voted_keys_since(self, day: date, *, limit: int = 50_000) -> list[VoteKeys]:
        """(pk, day, site_votes, upvotes_external) of papers filed on or after ``day`` with
        any votes: the ones a trending score lifts. Read from the covering index ix_papers_feed
        alone, so ranking them never loads titles and abstracts."""
        query = (
            select(papers.c.pk, papers.c.day, papers.c.site_votes, papers.c.upvotes_external)
            .where(papers.c.day >= day, _VOTES > 0)
            .order_by(_VOTES.desc(), papers.c.pk.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [VoteKeys(*row) for row in conn.execute(query)]

    def unvoted_since(self, day: date, *, limit: int, offset: int = 0) -> list[Paper]:
        """Papers filed on or after ``day`` without votes, newest first."""
        query = (
            select_papers()
            .where(papers.c.day >= day, _VOTES == 0)
            .order_by(papers.c.day.desc(), papers.c.pk.desc())
            .limit(limit)
            .offset(offset)
        )
        with self.engine.connect() as conn:
            return to_papers(conn.execute(query).mappings())

    def papers_by_pk(self, pks: Sequence[int]) -> list[Paper]:
        """Papers by row key, in the order given (missing ones left out)."""
        if not pks:
            return []
        with self.engine.connect() as conn:
            rows = conn.execute(_BY_PKS, {"pks": list(pks)}).mappings()
            found = {p.pk: p for p in to_papers(rows)}
        return [found[pk] for pk in pks if pk in found]

    def papers_by_id(self, ids: Sequence[str]) -> list[Paper]:
        """Papers by public id, in the order given (missing ones left out)."""
        if not ids:
            return []
        with self.engine.connect() as conn:
            rows = conn.execute(_BY_IDS, {"ids": list(ids)}).mappings()
            found = {p.id: p for p in to_papers(rows)}
        return [found[i] for i in ids if i in found]


class _JsonObjectAgg(FunctionElement[Any]):
    """An object of key/value pairs aggregated from rows: json_object_agg on PostgreSQL,
    json_group_object on SQLite (SQLAlchemy docs, "Custom SQL Constructs")."""

    type = JSON()
    name = "json_object_agg"
    inherit_cache = True


@compiles(_JsonObjectAgg)
def _json_object_agg_pg(element: _JsonObjectAgg, compiler: Any, **kw: Any) -> str:
    return f"json_object_agg({compiler.process(element.clauses, **kw)})"


@compiles(_JsonObjectAgg, "sqlite")
def _json_object_agg_sqlite(element: _JsonObjectAgg, compiler: Any, **kw: Any) -> str:
    return f"json_group_object({compiler.process(element.clauses, **kw)})"


# A paper's external ids as one object, read with its row (a correlated subquery): a second
# query for them cost a page's paper read one more round trip (0.5 ms of 2.4 on PostgreSQL).
_EXTERNAL_IDS = (
    select(_JsonObjectAgg(external_ids.c.namespace, external_ids.c.value))
    .where(external_ids.c.paper_pk == papers.c.pk)
    .scalar_subquery()
    .label("external_ids_json")
)


def select_papers() -> Select[Any]:
    """SELECT of the papers table's rows with each paper's external ids (``to_papers``)."""
    return select(papers, _EXTERNAL_IDS)


# Built once, like the other reads of every page below: building this SELECT (with its
# subquery of external ids) and its cache key took 0.15 ms of a 0.5 ms read of 20 papers.
_BY_PKS = select_papers().where(papers.c.pk.in_(bindparam("pks", expanding=True)))
_BY_IDS = select_papers().where(papers.c.id.in_(bindparam("ids", expanding=True)))


def to_papers(rows: Iterable[RowMapping]) -> list[Paper]:
    """Papers from rows of ``select_papers``, in the same order."""
    return [row_to_paper(row, row["external_ids_json"]) for row in rows]
