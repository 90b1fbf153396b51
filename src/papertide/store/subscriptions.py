"""Subscribers and the sent-papers ledger: the store side of mail/ (the outbox of digests
is store/outbox.py)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update

from papertide.mail.records import (
    Preferences,
    Subscriber,
)
from papertide.models import Paper
from papertide.store import Store
from papertide.store.rows import row_to_paper
from papertide.store.schema import digest_papers, digests, papers, subscribers


def _subscriber(row: Any) -> Subscriber:
    return Subscriber(
        pk=row["pk"],
        email=row["email"],
        status=row["status"],
        prefs=Preferences.from_json(row["prefs"]),
        user_pk=row["user_pk"],
        bounces=row["bounces"],
        created=row["created"],
        confirmed=row["confirmed"],
    )


def get_subscriber(
    store: Store, *, pk: int | None = None, email: str | None = None
) -> Subscriber | None:
    """The subscriber with this pk or (normalised) address, or None."""
    query = select(subscribers)
    query = query.where(subscribers.c.pk == pk) if pk is not None else query
    query = query.where(subscribers.c.email == email) if email is not None else query
    with store.engine.connect() as conn:
        row = conn.execute(query.limit(1)).mappings().first()
    return _subscriber(row) if row is not None else None


def subscribe(
    store: Store,
    *,
    email: str,
    prefs: Preferences,
    now: datetime,
    limit: int,
    window: timedelta,
) -> tuple[Subscriber, bool]:
    """Record a subscription request; True when a confirmation mail may go out (rate limit).

    A new address is stored ``pending``; an existing one keeps its status and preferences
    (the caller answers the same either way, so nobody learns whether it existed).
    """
    with store.write() as ws:
        conn = ws.conn
        row = (
            conn.execute(select(subscribers).where(subscribers.c.email == email)).mappings().first()
        )
        if row is None:
            conn.execute(
                insert(subscribers).values(
                    email=email,
                    status="pending",
                    prefs=prefs.to_json(),
                    bounces=0,
                    confirm_window=now,
                    confirm_count=1,
                    created=now,
                    updated=now,
                )
            )
            allowed = True
        else:
            fresh = row["confirm_window"] is None or now - row["confirm_window"] >= window
            allowed = fresh or row["confirm_count"] < limit
            if allowed:
                values = (
                    {"confirm_window": now, "confirm_count": 1}
                    if fresh
                    else {"confirm_count": row["confirm_count"] + 1}
                )
                conn.execute(
                    update(subscribers).where(subscribers.c.pk == row["pk"]).values(**values)
                )
        found = (
            conn.execute(select(subscribers).where(subscribers.c.email == email)).mappings().one()
        )
        return _subscriber(found), allowed


def add_active_subscribers(
    store: Store, *, people: list[tuple[str, Preferences]], now: datetime
) -> None:
    """Add confirmed subscribers in bulk (imports from another service, benchmarks)."""
    rows = [
        {
            "email": email,
            "status": "active",
            "prefs": prefs.to_json(),
            "bounces": 0,
            "confirm_count": 0,
            "created": now,
            "confirmed": now,
            "updated": now,
        }
        for email, prefs in people
    ]
    with store.write() as ws:
        ws.conn.execute(insert(subscribers), rows)


def confirm_subscriber(store: Store, *, pk: int, now: datetime) -> bool:
    """Activate a subscriber whose confirmation link was followed; False if it is gone."""
    with store.write() as ws:
        done = ws.conn.execute(
            update(subscribers)
            .where(subscribers.c.pk == pk)
            .values(status="active", confirmed=now, bounces=0, updated=now)
        )
        return done.rowcount == 1


def save_preferences(store: Store, *, pk: int, prefs: Preferences, now: datetime) -> None:
    """Replace a subscriber's preferences."""
    with store.write() as ws:
        ws.conn.execute(
            update(subscribers)
            .where(subscribers.c.pk == pk)
            .values(prefs=prefs.to_json(), updated=now)
        )


def unsubscribe(store: Store, *, pk: int, now: datetime) -> None:
    """Stop all mail to a subscriber at once: pending digests are cancelled too."""
    with store.write() as ws:
        ws.conn.execute(
            update(subscribers)
            .where(subscribers.c.pk == pk)
            .values(status="unsubscribed", updated=now)
        )
        ws.conn.execute(
            update(digests)
            .where(digests.c.subscriber_pk == pk, digests.c.status == "pending")
            .values(status="cancelled")
        )


def delete_subscriber(store: Store, *, pk: int) -> None:
    """Delete a subscriber and everything stored about them (digests, sent-paper ledger)."""
    with store.write() as ws:
        ws.conn.execute(delete(digest_papers).where(digest_papers.c.subscriber_pk == pk))
        ws.conn.execute(delete(digests).where(digests.c.subscriber_pk == pk))
        ws.conn.execute(delete(subscribers).where(subscribers.c.pk == pk))


def subscriber_for_user(store: Store, *, user_pk: int) -> Subscriber | None:
    """The subscription tied to an account (by a followed account link, never by address)."""
    query = select(subscribers).where(subscribers.c.user_pk == user_pk).limit(1)
    with store.engine.connect() as conn:
        row = conn.execute(query).mappings().first()
    return _subscriber(row) if row is not None else None


def link_account(store: Store, *, pk: int, user_pk: int, now: datetime) -> bool:
    """Tie subscriber ``pk`` to account ``user_pk`` (only after the address was proven).

    An account has at most one subscription: any other tie of the account is undone.
    """
    with store.write() as ws:
        ws.conn.execute(
            update(subscribers)
            .where(subscribers.c.user_pk == user_pk, subscribers.c.pk != pk)
            .values(user_pk=None, updated=now)
        )
        done = ws.conn.execute(
            update(subscribers).where(subscribers.c.pk == pk).values(user_pk=user_pk, updated=now)
        )
        return done.rowcount == 1


def active_subscribers(store: Store) -> list[Subscriber]:
    """Every confirmed subscriber still receiving mail, with the account tied to it if any."""
    query = select(subscribers).where(subscribers.c.status == "active").order_by(subscribers.c.pk)
    with store.engine.connect() as conn:
        return [_subscriber(row) for row in conn.execute(query).mappings()]


def sent_papers(store: Store, subscriber_pks: Iterable[int]) -> dict[int, set[int]]:
    """For each subscriber, the pks of every paper already put in one of their digests."""
    wanted = list(subscriber_pks)
    found: dict[int, set[int]] = defaultdict(set)
    with store.engine.connect() as conn:
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            query = select(digest_papers.c.subscriber_pk, digest_papers.c.paper_pk).where(
                digest_papers.c.subscriber_pk.in_(chunk)
            )
            for sub_pk, paper_pk in conn.execute(query):
                found[sub_pk].add(paper_pk)
    return found


def composed_periods(store: Store, periods: Iterable[str]) -> set[tuple[int, str]]:
    """The (subscriber, period) pairs among ``periods`` that already have a digest."""
    query = select(digests.c.subscriber_pk, digests.c.period).where(
        digests.c.period.in_(sorted(set(periods)))
    )
    with store.engine.connect() as conn:
        return {(row[0], row[1]) for row in conn.execute(query)}


def papers_between(store: Store, *, start: datetime, end: datetime) -> list[Paper]:
    """Papers filed under a day in [start, end) (external ids not loaded)."""
    query = (
        select(papers)
        .where(papers.c.day >= start.date(), papers.c.day < end.date())
        .order_by(papers.c.pk)
    )
    with store.engine.connect() as conn:
        return [row_to_paper(row) for row in conn.execute(query).mappings()]


def papers_by_pk(store: Store, pks: Iterable[int]) -> dict[int, Paper]:
    """Papers by pk (external ids not loaded); missing pks are left out."""
    wanted = sorted(set(pks))
    found: dict[int, Paper] = {}
    with store.engine.connect() as conn:
        for start in range(0, len(wanted), 500):
            query = select(papers).where(papers.c.pk.in_(wanted[start : start + 500]))
            for row in conn.execute(query).mappings():
                found[row["pk"]] = row_to_paper(row)
    return found


def list_subscribers(store: Store) -> list[Subscriber]:
    """Every subscriber whatever their status, oldest first (for operators)."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(subscribers).order_by(subscribers.c.pk)).mappings()
        return [_subscriber(row) for row in rows]
