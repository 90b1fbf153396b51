"""Store methods for what readers do to papers: votes, submissions, and the marks a card shows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, Engine, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from papertide.models import Paper, User
from papertide.store.comments import count_comments
from papertide.store.dialects import insert_of
from papertide.store.pictures import picture_versions
from papertide.store.schema import (
    papers,
    site_counters,
    submissions,
    users,
    votes,
)
from papertide.store.writer import writing

# Built once: every card of every page asks them (see store/feeds.py's _BY_PKS).
_SUBMITTERS = (
    select(submissions.c.paper_pk, users.c.username)
    .join(users, users.c.pk == submissions.c.user_pk)
    .where(submissions.c.paper_pk.in_(bindparam("pks", expanding=True)))
)
_VOTED = select(votes.c.paper_pk).where(
    votes.c.user_pk == bindparam("user"), votes.c.paper_pk.in_(bindparam("pks", expanding=True))
)


def _insert_new(conn: Connection, row: dict[str, object]) -> int:
    """Insert a vote unless it exists; 1 if it was new. ON CONFLICT DO NOTHING, so two
    identical votes racing on PostgreSQL (READ COMMITTED) count once instead of one failing
    on the primary key."""
    query = insert_of(conn)(votes).values(row).on_conflict_do_nothing().returning(votes.c.user_pk)
    return 1 if conn.execute(query).first() is not None else 0


@dataclass(frozen=True, slots=True)
class CardMarks:
    """A reader's marks on a list of papers (Store.card_marks)."""

    voted: set[int]  # the papers the reader upvoted
    comments: dict[int, int]  # live comments here, for papers with any
    submitters: dict[int, str]  # the local account that submitted it, for papers with one
    # The version keys of the papers' pictures and of their card variants (None till cut).
    pictures: dict[int, tuple[str, str | None]] = field(default_factory=dict)


class VotesMixin:
    """Votes, submissions and card marks; mixed into Store, which provides ``engine``."""

    engine: Engine

    def set_vote(self, *, user_pk: int, paper_pk: int, up: bool, now: datetime) -> int:
        """Cast or withdraw one user's upvote; returns the paper's site vote count.

        The votes row and the count change in one transaction; casting twice or withdrawing
        a vote never cast changes nothing.
        """
        key = (votes.c.user_pk == user_pk, votes.c.paper_pk == paper_pk)
        with writing(self.engine) as conn:
            if up:
                row = {"user_pk": user_pk, "paper_pk": paper_pk, "created": now}
                delta = _insert_new(conn, row)
            else:
                delta = -conn.execute(delete(votes).where(*key)).rowcount
            if delta:
                conn.execute(
                    update(papers)
                    .where(papers.c.pk == paper_pk)
                    .values(site_votes=papers.c.site_votes + delta)
                )
                # Votes do not write the change feed: this counter tells caches (page cache,
                # ETags) that a count changed, in the same transaction.
                conn.execute(
                    update(site_counters)
                    .where(site_counters.c.name == "votes")
                    .values(value=site_counters.c.value + 1)
                )
            count = conn.execute(select(papers.c.site_votes).where(papers.c.pk == paper_pk))
            return int(count.scalar_one())

    def vote_totals(self) -> tuple[int, int]:
        """(vote rows, the papers' vote counters summed): equal when every vote counted once."""
        with self.engine.connect() as conn:
            rows = conn.scalar(select(func.count()).select_from(votes))
            counted = conn.scalar(select(func.coalesce(func.sum(papers.c.site_votes), 0)))
        return int(rows or 0), int(counted or 0)

    def user_votes(self, user_pk: int) -> list[int]:
        """The papers a user upvoted, newest vote first (row keys)."""
        query = (
            select(votes.c.paper_pk)
            .where(votes.c.user_pk == user_pk)
            .order_by(votes.c.created.desc(), votes.c.paper_pk)
        )
        with self.engine.connect() as conn:
            return list(conn.scalars(query))

    def record_submission(self, *, user: User, paper: Paper, now: datetime) -> bool:
        """Credit the first submitter of a paper; False when it was submitted before."""
        assert paper.pk is not None
        try:
            with writing(self.engine) as conn:
                row = {"paper_pk": paper.pk, "user_pk": user.pk, "created": now}
                conn.execute(insert(submissions), row)
                conn.execute(
                    update(papers)
                    .where(papers.c.pk == paper.pk, papers.c.submitted_by.is_(None))
                    .values(submitted_by=user.username)
                )
        except IntegrityError:
            return False
        return True

    def user_submissions(self, user_pk: int) -> list[int]:
        """The papers a user submitted first, newest first (row keys)."""
        query = (
            select(submissions.c.paper_pk)
            .where(submissions.c.user_pk == user_pk)
            .order_by(submissions.c.created.desc())
        )
        with self.engine.connect() as conn:
            return list(conn.scalars(query))

    def card_marks(self, paper_pks: list[int], *, user_pk: int | None) -> CardMarks:
        """What cards show beside the papers' own rows, read on one connection: which of
        them ``user_pk`` upvoted, their live comment counts, their local submitters, the
        version keys of their pictures."""
        if not paper_pks:
            return CardMarks(set(), {}, {})
        with self.engine.connect() as conn:
            voted: set[int] = set()
            if user_pk is not None:
                voted = set(conn.scalars(_VOTED, {"user": user_pk, "pks": list(paper_pks)}))
            counts = count_comments(conn, paper_pks)
            found = conn.execute(_SUBMITTERS, {"pks": list(paper_pks)})
            local = {int(pk): str(name) for pk, name in found}
            pictures = picture_versions(conn, paper_pks)
        return CardMarks(voted, counts, local, pictures)
