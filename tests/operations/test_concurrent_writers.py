"""Concurrent writers on the real store, SQLite and PostgreSQL: votes, rate-limited logins,
subscription requests, digest claims, imports and submissions, from many threads and from
several processes at once, never "database is locked" (which a deferred transaction that
read, then wrote, once raised)."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from papertide.clock import utcnow
from papertide.config import Settings
from papertide.ingest import import_items
from papertide.mail.records import NewDigest, Preferences
from papertide.models import Paper, Record, User
from papertide.store import Store, outbox
from papertide.store import subscriptions as subs
from papertide.store.schema import papers, rate_events, subscribers, votes
from tests.conftest import FIXED_NOW
from tests.support.crowd import all_at_once

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
        assert all_at_once(jobs) == []
        rows = _counters_match_rows(store)
        assert rows[one] == VOTERS
        # And withdraw them all at once, each twice (the second changes nothing).
        jobs = [
            lambda u=user: store.set_vote(user_pk=u, paper_pk=one, up=False, now=now)
            for user in users
            for _twice in range(2)
        ]
        assert all_at_once(jobs) == []
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
    assert all_at_once(jobs) == []
    assert _counters_match_rows(store) == {pk: 10}


# --- Every shared write path, by N threads and by N processes at once ---------------------
# Exact end states: one row per (user, paper) vote, a rate limit that admits exactly its
# limit, one subscriber per address with exactly confirm_limit confirmations allowed, each
# digest claimed by one claimer only, no paper lost or doubled by simultaneous imports, one
# credited submitter per paper.

CROWD = 12
PROCESSES = 3 if os.environ.get("CI") else 4
LIMIT = 7
HOUR = timedelta(hours=1)


def _together(jobs: list[Callable[[], object]]) -> list[object]:
    """Run every job in its own thread, released together; their results, in job order."""
    results: list[object] = [None] * len(jobs)

    def run(i: int, job: Callable[[], object]) -> None:
        results[i] = job()

    errors = all_at_once([lambda i=i, job=job: run(i, job) for i, job in enumerate(jobs)])
    assert errors == []
    return results


def _rate_rows(store: Store, key: str) -> int:
    with store.engine.connect() as conn:
        query = select(func.count()).select_from(rate_events).where(rate_events.c.key == key)
        return int(conn.scalar(query) or 0)


def _digests_for(store: Store, n: int, now: datetime) -> set[int]:
    """n active subscribers, one pending digest each; the digests' pks."""
    prefs = Preferences(send_hour=0)
    pks: set[int] = set()
    for i in range(n):
        sub, _ = subs.subscribe(
            store, email=f"s{i}@example.org", prefs=prefs, now=now, limit=3, window=HOUR
        )
        subs.confirm_subscriber(store, pk=sub.pk, now=now)
        digest = NewDigest(sub.pk, "d2026-11-23", f"<m{i}@test>", "Daily", [], now)
        with store.write() as ws:
            assert outbox.add_digest(ws, digest=digest)
        pks |= {d.pk for d in outbox.list_digests(store, subscriber_pk=sub.pk)}
    return pks


def _claim_all(store: Store, now: datetime) -> list[int]:
    """Claim in small batches until nothing is due; the pks this claimer got."""
    got: list[int] = []
    while batch := outbox.claim_due(store, now=now, lease=HOUR, limit=2):
        got += [d.pk for d in batch]
    return got


def _records(ids: list[str]) -> list[Record]:
    return [
        Record(Paper(id=None, title=f"Shared paper {i}", arxiv_id=i, arxiv_version=1), "t", n)
        for n, i in enumerate(ids)
    ]


def _import(store: Store, settings: Settings, ids: list[str]) -> None:
    with store.write() as ws:
        import_items(ws, _records(ids), settings=settings)


def _arxiv_ids(store: Store) -> list[str]:
    with store.engine.connect() as conn:
        return sorted(conn.scalars(select(papers.c.arxiv_id).where(papers.c.arxiv_id.isnot(None))))


def test_a_rate_limit_admits_exactly_its_limit(any_store: Store) -> None:
    now = FIXED_NOW
    jobs = [
        lambda: any_store.allow("login:10.0.0.1", limit=LIMIT, window=HOUR, now=now)
        for _ in range(CROWD * 2)
    ]
    assert sum(bool(r) for r in _together(jobs)) == LIMIT
    assert _rate_rows(any_store, "login:10.0.0.1") == LIMIT


def test_one_address_subscribed_by_a_crowd_is_one_subscriber(any_store: Store) -> None:
    prefs = Preferences()
    jobs = [
        lambda: subs.subscribe(
            any_store, email="ada@example.org", prefs=prefs, now=FIXED_NOW, limit=3, window=HOUR
        )[1]
        for _ in range(CROWD)
    ]
    assert sum(bool(r) for r in _together(jobs)) == 3  # confirmation mails: exactly the limit
    with any_store.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(subscribers)) == 1


def test_digest_claims_never_overlap(any_store: Store) -> None:
    pks = _digests_for(any_store, 20, FIXED_NOW)
    claimed = _together([lambda: _claim_all(any_store, FIXED_NOW) for _ in range(CROWD // 2)])
    every = [pk for got in claimed for pk in got]  # type: ignore[attr-defined]
    assert sorted(every) == sorted(pks)  # each digest claimed once, by one claimer
    assert outbox.outbox_counts(any_store) == {"claimed": 20}


def test_simultaneous_imports_lose_and_double_nothing(any_store: Store, any_settings: Settings):
    shared = [f"2411.{n:05d}" for n in range(10)]
    jobs = [
        lambda own=f"2412.{n:05d}": _import(any_store, any_settings, [*shared, own])
        for n in range(CROWD // 2)
    ]
    _together(jobs)
    expected = sorted(shared + [f"2412.{n:05d}" for n in range(CROWD // 2)])
    assert _arxiv_ids(any_store) == expected
    assert any_store.count_papers() == len(expected)


def test_one_paper_submitted_by_a_crowd_credits_one(
    any_store: Store, any_settings: Settings
) -> None:
    from papertide.submit import resolve_submission
    from tests.support.fixture_server import FixtureServer, settings_for, xml

    users = [
        any_store.create_user(username=f"sub{i}", email=None, password_hash="x", now=FIXED_NOW)
        for i in range(CROWD // 2)
    ]
    with FixtureServer() as server:
        server.script(xml("id_list.xml", "arxiv"))
        local = settings_for(any_settings, server)

        def submit(user: User) -> bool:
            outcome = resolve_submission(any_store, local, "2411.00042")
            assert outcome.paper is not None, outcome.message
            return any_store.record_submission(user=user, paper=outcome.paper, now=FIXED_NOW)

        credited = _together([lambda u=user: submit(u) for user in users])
    assert sum(bool(c) for c in credited) == 1
    winner = users[credited.index(True)]
    assert _arxiv_ids(any_store) == ["2411.00042"]
    paper = any_store.get_paper("2411.00042")
    assert paper is not None and paper.submitted_by == winner.username
    assert [any_store.user_submissions(u.pk) for u in users].count([paper.pk]) == 1


def _process_writes(url: str, data_dir: str, me: int, gate: Any, out: Any) -> None:
    """One of PROCESSES processes: each phase starts at the same moment in every process."""
    settings = Settings(data_dir=Path(data_dir), database_url=url)
    store = Store.open(settings.resolved_database_url)
    voter = store.user_by_name("voter0")
    [paper] = store.list_papers(limit=1)
    assert voter is not None and paper.pk is not None
    me_user = store.user_by_name(f"voter{me + 1}")
    assert me_user is not None
    results: dict[str, object] = {}
    gate.wait()
    for _ in range(3):
        store.set_vote(user_pk=voter.pk, paper_pk=paper.pk, up=True, now=FIXED_NOW)
    store.set_vote(user_pk=me_user.pk, paper_pk=paper.pk, up=True, now=FIXED_NOW)
    gate.wait()
    results["allowed"] = sum(
        store.allow("login:10.0.0.2", limit=LIMIT, window=HOUR, now=FIXED_NOW) for _ in range(5)
    )
    gate.wait()
    results["confirm"] = sum(
        subs.subscribe(
            store, email="bob@example.org", prefs=Preferences(), now=FIXED_NOW, limit=3, window=HOUR
        )[1]
        for _ in range(2)
    )
    gate.wait()
    results["claimed"] = _claim_all(store, FIXED_NOW)
    gate.wait()
    _import(store, settings, [*(f"2411.{n:05d}" for n in range(10)), f"2412.{me:05d}"])
    gate.wait()
    results["credited"] = store.record_submission(user=me_user, paper=paper, now=FIXED_NOW)
    out.put((me, results))
    store.close()


def test_n_processes_doing_the_same_writes(any_store: Store, any_settings: Settings) -> None:
    [paper] = _papers(any_store, 1)
    users = _users(any_store, PROCESSES + 1)
    pks = _digests_for(any_store, 12, FIXED_NOW)
    context = multiprocessing.get_context("spawn")
    gate, out = context.Barrier(PROCESSES), context.Queue()
    url = any_settings.resolved_database_url
    workers = [
        context.Process(
            target=_process_writes, args=(url, str(any_settings.data_dir), i, gate, out)
        )
        for i in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    results = dict(out.get(timeout=300) for _ in workers)
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    assert _counters_match_rows(any_store) == {paper.pk: PROCESSES + 1}  # voter0 once, + each
    assert sum(r["allowed"] for r in results.values()) == LIMIT
    assert _rate_rows(any_store, "login:10.0.0.2") == LIMIT
    assert sum(r["confirm"] for r in results.values()) == 3
    assert subs.get_subscriber(any_store, email="bob@example.org") is not None
    claimed = [pk for r in results.values() for pk in r["claimed"]]
    assert sorted(claimed) == sorted(pks)
    own = [f"2412.{n:05d}" for n in range(PROCESSES)]
    assert _arxiv_ids(any_store) == sorted([f"2411.{n:05d}" for n in range(10)] + own)
    assert [r["credited"] for r in results.values()].count(True) == 1
    credited = any_store.get_paper(paper.id or "")
    assert credited is not None
    assert credited.submitted_by in {f"voter{i + 1}" for i in range(PROCESSES)}
    del users
