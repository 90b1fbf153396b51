"""Store methods for the community: accounts, sessions, votes, submissions, rate limits."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from papertide.clock import utcnow
from papertide.models import Paper, User
from papertide.normalize import username_key
from papertide.store.comments import count_comments
from papertide.store.schema import (
    papers,
    rate_events,
    sessions,
    site_counters,
    submissions,
    users,
    votes,
)
from papertide.store.writer import writing

# pg_advisory_xact_lock(space, hashtext(key)): the rate limit checks of one key take turns.
_RATE_LOCK_SPACE = 0x70740001


class NameTaken(Exception):
    """The username or email address belongs to another account."""


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _user(row: object) -> User:
    return User(
        pk=row.pk,  # type: ignore[attr-defined]
        username=row.username,  # type: ignore[attr-defined]
        email=row.email,  # type: ignore[attr-defined]
        created=row.created,  # type: ignore[attr-defined]
        moderator=bool(row.moderator),  # type: ignore[attr-defined]
    )


def _insert_new(conn: Connection, row: dict[str, object]) -> int:
    """Insert a vote unless it exists; 1 if it was new. ON CONFLICT DO NOTHING, so two
    identical votes racing on PostgreSQL (READ COMMITTED) count once instead of one failing
    on the primary key."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    query = dialect.insert(votes).values(row).on_conflict_do_nothing().returning(votes.c.user_pk)
    return 1 if conn.execute(query).first() is not None else 0


@dataclass(frozen=True, slots=True)
class CardMarks:
    """A reader's marks on a list of papers (Store.card_marks)."""

    voted: set[int]  # the papers the reader upvoted
    comments: dict[int, int]  # live comments here, for papers with any
    submitters: dict[int, str]  # the local account that submitted it, for papers with one


class CommunityMixin:
    """Accounts and what they do; mixed into Store, which provides ``engine``."""

    engine: Engine

    def create_user(
        self, *, username: str, email: str | None, password_hash: str, now: datetime
    ) -> User:
        """A new account, or NameTaken when the username (compared as ``username_key``:
        case and Unicode form ignored) or the email is in use."""
        row = {
            "username": username,
            "username_key": username_key(username),
            "email": email,
            "password_hash": password_hash,
            "created": now,
        }
        try:
            with writing(self.engine) as conn:
                pk = conn.execute(insert(users).returning(users.c.pk), row).scalar_one()
        except IntegrityError as exc:
            raise NameTaken(username) from exc
        return User(pk=pk, username=username, email=email, created=now)

    def user_with_hash(self, username: str) -> tuple[User, str] | None:
        """An account and its password hash, by username (any case or Unicode form)."""
        query = select(users).where(users.c.username_key == username_key(username))
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return (_user(row), row.password_hash) if row else None

    def user_by_name(self, username: str) -> User | None:
        """An account by username (any case or Unicode form: ``ADA_UX`` finds ``ada_ux``)."""
        found = self.user_with_hash(username)
        return found[0] if found else None

    def set_password_hash(self, user_pk: int, password_hash: str) -> None:
        """Store a re-hashed password (argon2 parameters change over time)."""
        with writing(self.engine) as conn:
            conn.execute(
                update(users).where(users.c.pk == user_pk).values(password_hash=password_hash)
            )

    def create_session(self, *, user_pk: int, token: str, now: datetime, ttl: timedelta) -> None:
        """Remember a signed-in browser by the hash of its cookie token."""
        row = {"token_hash": _token_hash(token), "user_pk": user_pk, "created": now}
        with writing(self.engine) as conn:
            conn.execute(delete(sessions).where(sessions.c.expires < now))
            conn.execute(insert(sessions), {**row, "expires": now + ttl})

    def user_for_session(self, token: str, *, now: datetime | None = None) -> User | None:
        """The account a session cookie belongs to, if the session is live."""
        now = now or utcnow()
        query = (
            select(users)
            .join(sessions, sessions.c.user_pk == users.c.pk)
            .where(sessions.c.token_hash == _token_hash(token), sessions.c.expires > now)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return _user(row) if row else None

    def delete_session(self, token: str) -> None:
        """Sign a browser out."""
        with writing(self.engine) as conn:
            conn.execute(delete(sessions).where(sessions.c.token_hash == _token_hash(token)))

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
        them ``user_pk`` upvoted, their live comment counts, their local submitters."""
        if not paper_pks:
            return CardMarks(set(), {}, {})
        submitted = (
            select(submissions.c.paper_pk, users.c.username)
            .join(users, users.c.pk == submissions.c.user_pk)
            .where(submissions.c.paper_pk.in_(paper_pks))
        )
        with self.engine.connect() as conn:
            voted: set[int] = set()
            if user_pk is not None:
                query = select(votes.c.paper_pk).where(
                    votes.c.user_pk == user_pk, votes.c.paper_pk.in_(paper_pks)
                )
                voted = set(conn.scalars(query))
            counts = count_comments(conn, paper_pks)
            local = {int(pk): str(name) for pk, name in conn.execute(submitted)}
        return CardMarks(voted, counts, local)

    def allow(self, key: str, *, limit: int, window: timedelta, now: datetime) -> bool:
        """Sliding-window rate limit shared by every process: record a hit if under ``limit``."""
        since = now - window
        with writing(self.engine) as conn:
            if conn.dialect.name == "postgresql":
                # READ COMMITTED lets two requests count the same rows and both insert (15 of
                # 24 simultaneous logins passed a limit of 7): one key's checks take turns.
                conn.execute(
                    text("SELECT pg_advisory_xact_lock(:space, hashtext(:key))"),
                    {"space": _RATE_LOCK_SPACE, "key": key},
                )
            conn.execute(
                delete(rate_events).where(rate_events.c.key == key, rate_events.c.at < since)
            )
            count = conn.execute(
                select(func.count()).select_from(rate_events).where(rate_events.c.key == key)
            ).scalar_one()
            if count >= limit:
                return False
            conn.execute(insert(rate_events), {"key": key, "at": now})
            return True

    def count_events(self, *, low: str, high: str, since: datetime) -> tuple[int, datetime | None]:
        """Rate events whose key lies in [low, high) at or after ``since``: how many, and
        the oldest (a key range, so one index scan counts every key under a prefix)."""
        key: Any = rate_events.c.key
        if self.engine.dialect.name == "postgresql":
            key = key.collate("C")  # byte order, as on SQLite: the range is a prefix
        where = (key >= low, key < high, rate_events.c.at >= since)
        query = select(func.count(), func.min(rate_events.c.at)).where(*where)
        with self.engine.connect() as conn:
            count, oldest = conn.execute(query).one()
        return int(count), oldest

    def add_events(self, keys: list[str], *, now: datetime, forget_before: datetime) -> None:
        """Record one rate event per key (and forget those keys' events before
        ``forget_before``), in one transaction."""
        with writing(self.engine) as conn:
            for key in keys:
                conn.execute(
                    delete(rate_events).where(
                        rate_events.c.key == key, rate_events.c.at < forget_before
                    )
                )
                conn.execute(insert(rate_events), {"key": key, "at": now})

    def clear_events(self, keys: list[str]) -> None:
        """Forget every rate event of these keys (a success resets its failures)."""
        with writing(self.engine) as conn:
            conn.execute(delete(rate_events).where(rate_events.c.key.in_(keys)))
