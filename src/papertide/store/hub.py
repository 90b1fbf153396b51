"""Store methods for what papers led to: their models, datasets and Spaces on the Hugging Face
Hub (paper_artifacts), when each paper was last asked about (hub_checks), and the GitHub
stars of their code.

A paper's repositories are replaced whole in one transaction whose first statement upserts
the paper's hub_checks row: on PostgreSQL that row's lock makes a second worker replacing
the same paper wait for the first to commit, then delete what the first wrote (each
statement sees what committed before it), so two workers never leave duplicate or mixed
rows; on SQLite the write lock does the same. A reader sees the old list or the new one.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    String,
    Table,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    union,
    update,
)

from papertide.clock import exact_utcnow
from papertide.models import HUB_KINDS, HubCounts, HubLinks, HubRepo
from papertide.store.dialects import insert_of
from papertide.store.schema import list_items, metadata, papers
from papertide.store.writer import touch_pages, writing

if TYPE_CHECKING:
    from papertide.store.writer import WriteSession

# The models, datasets and Spaces whose cards cite a paper (kind 'model', 'dataset' or
# 'space'), as last synced (migration hub_links). Declared here, beside the only code that
# reads and writes them, on the schema's metadata.
paper_artifacts = Table(
    "paper_artifacts",
    metadata,
    Column("paper_pk", Integer, ForeignKey("papers.pk", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(10), primary_key=True),
    Column("repo", String(200), primary_key=True),
    Column("likes", Integer, nullable=False),
    Column("downloads", Integer),
    Column("updated", DateTime),  # the repository's last change on the Hub
)

# When each paper's Hub repositories and GitHub stars were last asked for (bounding the
# refreshes), and its counts as cards show them: one primary-key read for a page of cards.
hub_checks = Table(
    "hub_checks",
    metadata,
    Column("paper_pk", Integer, ForeignKey("papers.pk", ondelete="CASCADE"), primary_key=True),
    Column("checked", DateTime, index=True),
    Column("models", Integer, nullable=False, server_default="0"),
    Column("datasets", Integer, nullable=False, server_default="0"),
    Column("spaces", Integer, nullable=False, server_default="0"),
    # The kinds the Hub listed more of than were kept, space-separated ("model space").
    Column("more", String(40), nullable=False, server_default=""),
    Column("stars_checked", DateTime),
)

_VOTES = papers.c.site_votes + func.coalesce(papers.c.upvotes_external, 0)
_NEVER = datetime(1970, 1, 1)
# Built once: every card of every page asks it (see store/feeds.py's _BY_PKS).
_CITED = select(hub_checks).where(
    hub_checks.c.paper_pk.in_(bindparam("pks", expanding=True)),
    (hub_checks.c.models + hub_checks.c.datasets + hub_checks.c.spaces) > 0,
)


class HubDue(NamedTuple):
    """A paper whose Hub repositories or stars are due: what the look-ups need."""

    pk: int
    arxiv_id: str | None
    url_code: str | None


def _upsert_check(conn: Connection, paper_pk: int, values: dict[str, Any]) -> None:
    """Insert or update the paper's hub_checks row (taking its row lock on PostgreSQL)."""
    query = insert_of(conn)(hub_checks).values(paper_pk=paper_pk, **values)
    conn.execute(query.on_conflict_do_update(index_elements=["paper_pk"], set_=values))


def _counts(row: Any) -> HubCounts:
    return HubCounts(
        models=int(row.models),
        datasets=int(row.datasets),
        spaces=int(row.spaces),
        more=frozenset(row.more.split()),
    )


class HubMixin:
    """Hub repositories and GitHub stars; mixed into Store, which provides ``engine`` and
    ``write`` (the paper writers' transaction)."""

    engine: Engine
    if TYPE_CHECKING:

        def write(self) -> AbstractContextManager[WriteSession]:
            """Store.write."""
            ...

    def replace_hub_links(self, *, paper_pk: int, links: HubLinks, now: datetime) -> None:
        """Make ``links`` the paper's repositories and mark it checked at ``now``, in one
        transaction."""
        rows = {(r.kind, r.repo): r for r in links.repos}  # each repository once
        counts = {kind: sum(1 for k, _ in rows if k == kind) for kind in HUB_KINDS}
        values = {
            "checked": now,
            "models": counts["model"],
            "datasets": counts["dataset"],
            "spaces": counts["space"],
            "more": " ".join(k for k in HUB_KINDS if k in links.more),
        }
        with writing(self.engine) as conn:
            _upsert_check(conn, paper_pk, values)
            conn.execute(delete(paper_artifacts).where(paper_artifacts.c.paper_pk == paper_pk))
            if rows:
                conn.execute(
                    insert(paper_artifacts),
                    [
                        {
                            "paper_pk": paper_pk,
                            "kind": r.kind,
                            "repo": r.repo,
                            "likes": r.likes,
                            "downloads": r.downloads,
                            "updated": r.updated,
                        }
                        for r in rows.values()
                    ],
                )
            touch_pages(conn)

    def record_stars(self, *, paper_pk: int, stars: int | None, now: datetime) -> bool:
        """Mark the paper's stars checked at ``now`` and store ``stars`` (None: the repository
        is gone, keep what was known); True when the count changed. In the paper writers'
        transaction, so an import merging the same paper neither loses nor undoes it."""
        with self.write() as session:
            conn = session.conn
            _upsert_check(conn, paper_pk, {"stars_checked": now})
            if stars is None:
                return False
            changed = conn.execute(
                update(papers)
                .where(
                    papers.c.pk == paper_pk,
                    or_(papers.c.github_stars.is_(None), papers.c.github_stars != stars),
                )
                .values(github_stars=stars, modified=exact_utcnow())
            ).rowcount
            return bool(changed)

    def hub_counts(self, paper_pks: list[int]) -> dict[int, HubCounts]:
        """Models, datasets and Spaces citing each paper, for those with any (one read)."""
        if not paper_pks:
            return {}
        with self.engine.connect() as conn:
            found = conn.execute(_CITED, {"pks": list(paper_pks)})
            return {row.paper_pk: _counts(row) for row in found}

    def hub_links(self, paper_pk: int) -> HubLinks:
        """The paper's repositories, most liked first (empty if never checked)."""
        with self.engine.connect() as conn:
            check = conn.execute(select(hub_checks).where(hub_checks.c.paper_pk == paper_pk))
            row = check.first()
            found = conn.execute(
                select(paper_artifacts)
                .where(paper_artifacts.c.paper_pk == paper_pk)
                .order_by(paper_artifacts.c.likes.desc(), paper_artifacts.c.repo)
            )
            repos = [HubRepo(r.kind, r.repo, r.likes, r.downloads, r.updated) for r in found]
        if row is None:
            return HubLinks(repos)
        return HubLinks(repos, more=set(row.more.split()), checked=row.checked)

    def hub_due(
        self,
        *,
        recent_since: date | None,
        voted_since: date | None,
        voted_top: int,
        stale_before: datetime,
        limit: int,
        stars: bool = False,
    ) -> list[HubDue]:
        """Papers to ask about next: those filed on or after ``recent_since``, the
        ``voted_top`` most voted filed on or after ``voted_since`` (trending's candidates) and
        any saved in a list, not checked since ``stale_before``; never checked first, then
        the longest unchecked, then the newest. ``stars``: the GitHub check of papers whose
        code is on github.com, instead of the Hub check of papers with an arXiv id."""
        members: list[Any] = [select(list_items.c.paper_pk.label("pk"))]
        if recent_since is not None:
            members.append(select(papers.c.pk).where(papers.c.day >= recent_since))
        if voted_since is not None and voted_top > 0:
            voted = (
                select(papers.c.pk)
                .where(papers.c.day >= voted_since, _VOTES > 0)
                .order_by(_VOTES.desc(), papers.c.pk.desc())
                .limit(voted_top)
                .subquery()
            )
            members.append(select(voted.c.pk))
        chosen = union(*members).subquery()
        seen = hub_checks.c.stars_checked if stars else hub_checks.c.checked
        wanted = (
            papers.c.url_code.like("%github.com/%") if stars else papers.c.arxiv_id.is_not(None)
        )
        query = (
            select(papers.c.pk, papers.c.arxiv_id, papers.c.url_code)
            .join(chosen, chosen.c.pk == papers.c.pk)
            .outerjoin(hub_checks, hub_checks.c.paper_pk == papers.c.pk)
            .where(wanted, or_(seen.is_(None), seen < stale_before))
            .order_by(func.coalesce(seen, _NEVER), papers.c.day.desc(), papers.c.pk.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [HubDue(*row) for row in conn.execute(query)]
