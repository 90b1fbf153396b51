"""Concurrent writers on the real store, SQLite and PostgreSQL: votes from many threads at
once (issue 13, finding 2: "database is locked" when a deferred transaction read, then wrote).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy import func, select

from papertide.clock import utcnow
from papertide.models import Paper
from papertide.store import Store
from papertide.store.schema import papers, votes

VOTERS = 30


def _papers(store: Store, n: int) -> list[Paper]:
    now = utcnow()
    made = [
        Paper(id=f"v{i}", title=f"Paper {i}", first_seen=now, listed_on=now.date())
        for i in range(n)
    ]
    with store.write() as ws:
        ws.insert_papers(made)
    return store.list_papers(limit=n)


def _users(store: Store, n: int) -> list[int]:
    now = utcnow()
    return [
        store.create_user(username=f"voter{i}", email=None, password_hash="x", now=now).pk
        for i in range(n)
    ]


def _all_at_once(jobs: list[Callable[[], object]]) -> list[BaseException]:
    """Run every job in its own thread, released together; the exceptions they raised."""
    gate = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def run(job: Callable[[], object]) -> None:
        gate.wait()
        try:
            job()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def _counters_match_rows(store: Store) -> dict[int, int]:
    with store.engine.connect() as conn:
        by_paper = select(votes.c.paper_pk, func.count()).group_by(votes.c.paper_pk)
        rows = {int(pk): int(n) for pk, n in conn.execute(by_paper)}
        counters = {
            int(pk): int(n) for pk, n in conn.execute(select(papers.c.pk, papers.c.site_votes))
        }
    assert {pk: n for pk, n in counters.items() if n} == rows
    return rows


def test_thirty_voters_on_one_paper_and_on_many(any_store: Store) -> None:
    store = any_store
    targets = _papers(store, VOTERS)
    users = _users(store, VOTERS)
    now = utcnow()
    one = targets[0].pk or 0
    for _round in range(3):
        # Everyone votes for the same paper, and for a paper of their own, at the same time.
        jobs: list[Callable[[], object]] = []
        for i, user in enumerate(users):
            own = targets[i].pk or 0
            jobs.append(lambda u=user: store.set_vote(user_pk=u, paper_pk=one, up=True, now=now))
            jobs.append(
                lambda u=user, p=own: store.set_vote(user_pk=u, paper_pk=p, up=True, now=now)
            )
        assert _all_at_once(jobs) == []
        rows = _counters_match_rows(store)
        assert rows[one] == VOTERS
        # And withdraw them all at once, each twice (the second changes nothing).
        jobs = [
            lambda u=user: store.set_vote(user_pk=u, paper_pk=one, up=False, now=now)
            for user in users
            for _twice in range(2)
        ]
        assert _all_at_once(jobs) == []
        assert one not in _counters_match_rows(store)


def test_the_same_vote_cast_twice_at_once_counts_once(any_store: Store) -> None:
    store = any_store
    [paper] = _papers(store, 1)
    users = _users(store, 10)
    now = utcnow()
    pk = paper.pk or 0
    jobs: list[Callable[[], object]] = [
        lambda u=user: store.set_vote(user_pk=u, paper_pk=pk, up=True, now=now)
        for user in users
        for _twice in range(3)
    ]
    assert _all_at_once(jobs) == []
    assert _counters_match_rows(store) == {pk: 10}
