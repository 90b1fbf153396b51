"""The store's change feed: every paper write is recorded in its own transaction, and a
follower that reads between commits never skips one, even when transactions commit out of
the order in which they wrote (PostgreSQL), on both backends."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

from sqlalchemy import select, text

from papertide.clock import utcnow
from papertide.config import Settings
from papertide.ingest import import_items
from papertide.models import Paper, Record
from papertide.search import SearchService
from papertide.store import FeedPosition, Store
from papertide.store.schema import paper_changes
from papertide.store.writer import WriteSession
from tests.support.search_corpus import CORPUS, add_papers, paper


def _write(session: WriteSession, settings: Settings, *papers: Paper) -> None:
    import_items(session, [Record(p, "test", i) for i, p in enumerate(papers)], settings=settings)


def _new(n: int, title: str) -> Paper:
    return paper(n, title, f"{title} in a few words.", "Ada Lovelace", "q-bio", "2024-05-01")


def _changes(store: Store) -> list[tuple[int, int | None, int]]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(paper_changes.c.seq, paper_changes.c.txid, paper_changes.c.paper_pk)
        )
        return [(int(s), t, int(p)) for s, t, p in rows]


def test_every_kind_of_write_is_in_the_feed(any_settings: Settings, any_store: Store) -> None:
    start = any_store.feed_head()
    add_papers(any_store, any_settings, CORPUS[:2])
    pks, after = any_store.read_changes(start)
    assert len(pks) == 2
    # Read again: nothing new, and the position never moves back. On PostgreSQL it may move
    # on, since transaction ids are shared by the server's other databases: take one here.
    if any_store.engine.dialect.name == "postgresql":
        with any_store.engine.begin() as conn:
            conn.execute(text("SELECT txid_current()"))
    again, still = any_store.read_changes(after)
    assert again == [] and still.horizon >= after.horizon and any_store.feed_lag(still) == 0
    # An update is a change; a vote (which search does not index) is not.
    newer = replace(CORPUS[0], abstract="A new abstract.", arxiv_version=2)
    add_papers(any_store, any_settings, [newer])
    pks2, after2 = any_store.read_changes(after)
    assert len(pks2) == 1 and pks2[0] in pks
    user = any_store.create_user(
        username="voter", email="v@example.org", password_hash="x", now=utcnow()
    )
    any_store.set_vote(user_pk=user.pk, paper_pk=pks[1], up=True, now=utcnow())
    assert any_store.read_changes(after2)[0] == []
    assert any_store.feed_lag(after2) == 0 and any_store.feed_lag(start) == 3


def test_postgres_out_of_order_commits_are_never_skipped(
    any_settings: Settings, any_store: Store
) -> None:
    """Two write transactions; the one that wrote its change second commits first. A
    follower reading in between applies the first to commit, then the other when it does."""
    store = any_store
    position = store.feed_head()
    if store.engine.dialect.name != "postgresql":
        return _sqlite_writers_queue(any_settings, store, position)
    early = store.engine.connect()
    late = store.engine.connect()
    early.begin()
    late.begin()
    _write(WriteSession(early), any_settings, _new(201, "Early writer"))
    _write(WriteSession(late), any_settings, _new(202, "Late writer"))
    late.commit()
    seen, position = store.read_changes(position)
    assert len(seen) == 1
    early.commit()
    more, position = store.read_changes(position)
    assert len(more) == 1 and more != seen
    # The committed-first change has the higher sequence number: "seq > last seen" would
    # have skipped the other one for good.
    by_pk = {pk: seq for seq, _, pk in _changes(store)}
    assert by_pk[seen[0]] > by_pk[more[0]]
    assert store.read_changes(position)[0] == []
    early.close()
    late.close()


def _sqlite_writers_queue(settings: Settings, store: Store, position: FeedPosition) -> None:
    """SQLite: a second writer waits for the first (the lock is taken up front), so the
    feed's order is commit order and the follower sees both."""
    order: list[str] = []
    first_in = threading.Event()

    def writer(name: str, n: int, hold: float) -> None:
        with store.write() as session:
            if name == "first":
                first_in.set()
            _write(session, settings, _new(n, f"{name} writer"))
            time.sleep(hold)
            order.append(name)

    one = threading.Thread(target=writer, args=("first", 201, 0.5))
    one.start()
    first_in.wait(5)
    two = threading.Thread(target=writer, args=("second", 202, 0))
    two.start()
    one.join()
    two.join()
    assert order == ["first", "second"]
    seen, position = store.read_changes(position)
    assert len(seen) == 2
    assert store.read_changes(position)[0] == []


def test_a_follower_between_out_of_order_commits_finds_both(
    any_settings: Settings, any_store: Store
) -> None:
    """The search index itself, refreshed while an older transaction is still open."""
    add_papers(any_store, any_settings, CORPUS)
    svc = SearchService.open(any_settings, any_store)
    if any_store.engine.dialect.name == "postgresql":
        early, late = any_store.engine.connect(), any_store.engine.connect()
        early.begin()
        late.begin()
        _write(WriteSession(early), any_settings, _new(301, "Zebrafish fins"))
        _write(WriteSession(late), any_settings, _new(302, "Axolotl limbs"))
        late.commit()
        assert svc.refresh() == 1
        early.commit()
        early.close()
        late.close()
    else:
        add_papers(any_store, any_settings, [_new(302, "Axolotl limbs")])
        assert svc.refresh() == 1
        add_papers(any_store, any_settings, [_new(301, "Zebrafish fins")])
    assert svc.refresh() == 1
    for words in ("zebrafish fins", "axolotl limbs"):
        assert [h.paper.title.lower() for h in svc.search(words, mode="bm25").hits if h.paper] == [
            words
        ]
    assert svc.status()["lag"] == 0
    svc.close()


def test_position_round_trips() -> None:
    position = FeedPosition(42, (43, 45))
    assert FeedPosition.from_json(position.to_json()) == position
    assert FeedPosition.from_json(None) is None


def test_health_figures_count_every_paper_and_each_followers_lag(
    any_settings: Settings, any_store: Store
) -> None:
    """/healthz's one read: the papers stored (kept between probes while the feed stands
    still, read again once it moves) and each follower's lag, as feed_lag counts it."""
    start = any_store.feed_head()
    assert any_store.health_figures([start, None]) == (0, [0, 0])
    add_papers(any_store, any_settings, CORPUS[:2])
    middle = any_store.feed_head()
    assert any_store.health_figures([start, middle, None]) == (2, [2, 0, 2])
    assert any_store.health_figures([]) == (2, [])  # asked again: the same, from the kept
    add_papers(any_store, any_settings, CORPUS[2:5])  # by another process: the same store
    other = Store.open(any_store.engine.url.render_as_string(hide_password=False))
    try:
        add_papers(other, any_settings, CORPUS[5:6])
    finally:
        other.close()
    papers, lags = any_store.health_figures([start, middle, any_store.feed_head()])
    assert papers == 6 == any_store.count_papers()
    assert lags == [any_store.feed_lag(start), any_store.feed_lag(middle), 0] == [6, 4, 0]
