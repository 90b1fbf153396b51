"""Subscribers, the digest outbox and the sent-papers ledger: the store side of mail/.

The outbox state machine (see mail/send.py for the delivery guarantee): a digest row is
created once per (subscriber, period) (a unique key), ``pending``; ``claim_due`` moves due
rows to ``claimed`` under a lease in ONE UPDATE, so two senders never hold the same row;
``mark_sent`` / ``mark_retry`` / ``mark_failed`` only act while the caller's claim still
holds. A claimed row whose lease ran out (its sender died) is claimed again.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from papertide.mail.records import (
    DigestItem,
    NewDigest,
    OutboxDigest,
    Preferences,
    Subscriber,
)
from papertide.models import Paper
from papertide.store import Store, WriteSession
from papertide.store.rows import row_to_paper
from papertide.store.schema import digest_papers, digests, papers, subscribers, users


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
            user_pk = conn.execute(select(users.c.pk).where(users.c.email == email)).scalar()
            conn.execute(
                insert(subscribers).values(
                    email=email,
                    user_pk=user_pk,
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


def subscriber_for_user(store: Store, *, user_pk: int, email: str | None) -> Subscriber | None:
    """The subscription of a signed-in user: linked by user, else by their address."""
    cond = subscribers.c.user_pk == user_pk
    if email:
        cond = or_(cond, subscribers.c.email == email)
    with store.engine.connect() as conn:
        row = conn.execute(select(subscribers).where(cond).limit(1)).mappings().first()
    return _subscriber(row) if row is not None else None


def active_subscribers(store: Store) -> list[Subscriber]:
    """Every confirmed subscriber still receiving mail, linked to the account with their
    address if they have one (accounts made after subscribing are found too)."""
    query = (
        select(subscribers, users.c.pk.label("account_pk"))
        .outerjoin(users, users.c.email == subscribers.c.email)
        .where(subscribers.c.status == "active")
        .order_by(subscribers.c.pk)
    )
    with store.engine.connect() as conn:
        found = []
        for row in conn.execute(query).mappings():
            sub = _subscriber(row)
            sub.user_pk = sub.user_pk if sub.user_pk is not None else row["account_pk"]
            found.append(sub)
        return found


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


def add_digest(ws: WriteSession, *, digest: NewDigest, status: str = "pending") -> bool:
    """Put a composed digest in the outbox and its papers in the ledger; False if it exists.

    The unique (subscriber, period) key makes this idempotent: composing twice (two cron
    runs, a crash and a re-run) creates one digest.
    """
    ins = postgresql.insert if ws.conn.dialect.name == "postgresql" else sqlite.insert
    values = {
        "subscriber_pk": digest.subscriber_pk,
        "period": digest.period,
        "status": status,
        "message_id": digest.message_id,
        "subject": digest.subject,
        "items": [item.to_json() for item in digest.items],
        "created": digest.created,
        "attempts": 0,
        "next_attempt": digest.created,
    }
    stmt = ins(digests).values(**values).on_conflict_do_nothing().returning(digests.c.pk)
    pk = ws.conn.execute(stmt).scalar()
    if pk is None:
        return False
    ledger = [
        {"subscriber_pk": digest.subscriber_pk, "paper_pk": item.paper_pk, "digest_pk": pk}
        for item in digest.items
    ]
    if ledger:
        ws.conn.execute(ins(digest_papers).on_conflict_do_nothing(), ledger)
    return True


def _due(now: datetime) -> Any:
    return or_(
        and_(digests.c.status == "pending", digests.c.next_attempt <= now),
        and_(digests.c.status == "claimed", digests.c.lease_until < now),
    )


def claim_due(store: Store, *, now: datetime, lease: timedelta, limit: int) -> list[OutboxDigest]:
    """Claim up to ``limit`` due digests of active subscribers for ``lease``; return them.

    One UPDATE re-checks "due" on every row it takes, so a concurrent claimer (another cron
    run, another worker) gets other rows or none: on PostgreSQL the second UPDATE waits for
    the row lock and re-evaluates its WHERE on the committed row; SQLite serialises writers.
    """
    claim = uuid.uuid4().hex
    active = select(subscribers.c.pk).where(subscribers.c.status == "active")
    picked = (
        select(digests.c.pk)
        .where(_due(now), digests.c.subscriber_pk.in_(active))
        .order_by(digests.c.pk)
        .limit(limit)
    )
    with store.write() as ws:
        ws.conn.execute(
            update(digests)
            .where(digests.c.pk.in_(picked), _due(now))
            .values(
                status="claimed",
                claim=claim,
                lease_until=now + lease,
                attempts=digests.c.attempts + 1,
            )
        )
        rows = ws.conn.execute(
            select(digests, subscribers.c.email)
            .join(subscribers, subscribers.c.pk == digests.c.subscriber_pk)
            .where(digests.c.claim == claim)
            .order_by(digests.c.pk)
        ).mappings()
        return [_outbox(row) for row in rows]


def _outbox(row: Any) -> OutboxDigest:
    return OutboxDigest(
        pk=row["pk"],
        subscriber_pk=row["subscriber_pk"],
        email=row["email"],
        period=row["period"],
        status=row["status"],
        message_id=row["message_id"],
        subject=row["subject"],
        items=[DigestItem.from_json(item) for item in row["items"]],
        created=row["created"],
        attempts=row["attempts"],
        claim=row["claim"],
    )


def renew_lease(store: Store, *, claim: str, until: datetime) -> None:
    """Extend the lease of every digest still held under ``claim``."""
    with store.write() as ws:
        ws.conn.execute(
            update(digests)
            .where(digests.c.claim == claim, digests.c.status == "claimed")
            .values(lease_until=until)
        )


def _release(ws: WriteSession, pk: int, claim: str, **values: Any) -> bool:
    held = and_(digests.c.pk == pk, digests.c.claim == claim, digests.c.status == "claimed")
    done = ws.conn.execute(
        update(digests).where(held).values(claim=None, lease_until=None, **values)
    )
    return done.rowcount == 1


def mark_sent(store: Store, *, digest: OutboxDigest, now: datetime) -> bool:
    """Record that the SMTP server accepted ``digest``; False if the claim was lost."""
    assert digest.claim is not None
    with store.write() as ws:
        if not _release(ws, digest.pk, digest.claim, status="sent", sent=now, error=None):
            return False
        ws.conn.execute(
            update(subscribers)
            .where(subscribers.c.pk == digest.subscriber_pk, subscribers.c.bounces > 0)
            .values(bounces=0)
        )
        return True


def mark_retry(store: Store, *, digest: OutboxDigest, at: datetime, error: str) -> bool:
    """Put a digest back to pending after a temporary failure, to be tried again at ``at``."""
    assert digest.claim is not None
    with store.write() as ws:
        return _release(ws, digest.pk, digest.claim, status="pending", next_attempt=at, error=error)


def mark_failed(
    store: Store,
    *,
    digest: OutboxDigest,
    error: str,
    bounce: bool,
    bounce_limit: int,
    now: datetime,
) -> bool:
    """Give up on a digest; a permanent (5xx) failure counts toward stopping the address."""
    assert digest.claim is not None
    with store.write() as ws:
        if not _release(ws, digest.pk, digest.claim, status="failed", error=error):
            return False
        if bounce:
            ws.conn.execute(
                update(subscribers)
                .where(subscribers.c.pk == digest.subscriber_pk)
                .values(bounces=subscribers.c.bounces + 1, updated=now)
            )
            ws.conn.execute(
                update(subscribers)
                .where(
                    subscribers.c.pk == digest.subscriber_pk,
                    subscribers.c.bounces >= bounce_limit,
                    subscribers.c.status == "active",
                )
                .values(status="bouncing")
            )
        return True


def outbox_counts(store: Store) -> dict[str, int]:
    """How many digests the outbox holds in each status."""
    query = select(digests.c.status, func.count()).group_by(digests.c.status)
    with store.engine.connect() as conn:
        return {status: int(count) for status, count in conn.execute(query)}


def list_digests(store: Store, *, subscriber_pk: int) -> list[OutboxDigest]:
    """A subscriber's digests, newest first."""
    query = (
        select(digests, subscribers.c.email)
        .join(subscribers, subscribers.c.pk == digests.c.subscriber_pk)
        .where(digests.c.subscriber_pk == subscriber_pk)
        .order_by(digests.c.pk.desc())
    )
    with store.engine.connect() as conn:
        return [_outbox(row) for row in conn.execute(query).mappings()]
