"""The digest outbox: the store side of mail/send.py's delivery guarantee.

The outbox state machine: a digest row is created once per (subscriber, period) (a unique
key), ``pending``, its papers entered in the sent-papers ledger in the same transaction;
``claim_due`` moves due rows to ``claimed`` under a lease in ONE UPDATE, so two senders never
hold the same row; ``mark_sent`` / ``mark_retry`` / ``mark_failed`` only act while the
caller's claim still holds. A claimed row whose lease ran out (its sender died) is claimed
again.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update

from papertide.mail.records import DigestItem, NewDigest, OutboxDigest
from papertide.store import Store, WriteSession
from papertide.store.dialects import insert_of
from papertide.store.schema import digest_papers, digests, subscribers


def add_digest(ws: WriteSession, *, digest: NewDigest, status: str = "pending") -> bool:
    """Put a composed digest in the outbox and its papers in the ledger; False if it exists.

    The unique (subscriber, period) key makes this idempotent: composing twice (two cron
    runs, a crash and a re-run) creates one digest.
    """
    ins = insert_of(ws.conn)
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
