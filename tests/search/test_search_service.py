"""Exact retrieval on a tiny corpus through SearchService: stems, stopwords, phrases,
exclusions, filters, sorting, paging, explanations, incremental updates, similar papers."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from papertide.clock import utcnow
from papertide.config import Settings
from papertide.search import SearchService
from papertide.store import Store
from tests.support.search_corpus import CORPUS, add_papers, paper, pk_of


def arxiv(svc: SearchService, query: str, **kw: object) -> list[str]:
    hits = svc.search(query, **kw).hits  # type: ignore[arg-type]
    return [h.paper.arxiv_id or "" if h.paper else "" for h in hits]


def ids(*numbers: int) -> list[str]:
    return [f"2401.{n:05d}" for n in numbers]


@pytest.fixture
def settings(any_settings: Settings) -> Settings:
    """Search, catch-up and similar lists on SQLite and on PostgreSQL (a fresh database each)."""
    return any_settings


def test_stemming_matches_word_forms(svc: SearchService) -> None:
    assert arxiv(svc, "runs", mode="bm25") == ids(2)
    assert arxiv(svc, "molecule", mode="bm25") == ids(3)


def test_stopwords_alone_match_nothing(svc: SearchService) -> None:
    result = svc.search("the of with", mode="bm25")
    assert result.hits == [] and result.terms == []


def test_title_outweighs_abstract(svc: SearchService) -> None:
    # "attention" is in the titles of 1, 5 and 6; 5 says it twice more in its abstract.
    assert arxiv(svc, "attention", mode="bm25")[:3] == ids(5, 6, 1)


def test_phrase_must_appear_in_order(svc: SearchService) -> None:
    assert arxiv(svc, '"long context"') == ids(1)
    assert arxiv(svc, '"context long"') == []


def test_excluded_words_and_phrases(svc: SearchService) -> None:
    assert set(arxiv(svc, "attention -survey", mode="bm25")) == set(ids(1, 6))
    assert set(arxiv(svc, 'attention -"long context"', mode="bm25")) == set(ids(5, 6))


def test_author_and_category_filters(svc: SearchService) -> None:
    assert arxiv(svc, "attention author:lecun") == ids(5)
    assert arxiv(svc, 'author:"ada lovelace"') == ids(1)
    assert arxiv(svc, "cat:astro-ph") == ids(4)
    assert set(arxiv(svc, "networks cat:cs.LG", mode="bm25")) == {ids(3)[0]}


def test_date_filters(svc: SearchService) -> None:
    assert set(arxiv(svc, "attention after:2024-01-01", mode="bm25")) == set(ids(1, 5))
    assert arxiv(svc, "attention before:2020", mode="bm25") == ids(6)
    assert arxiv(svc, "attention after:2024-04 before:2024-06", mode="bm25") == ids(5)
    # Dense candidates go through the same filters. Hybrid: the 2024 papers about attention;
    # 3 (2024, about molecules) is close to nothing in the query and stays under the floor.
    assert set(arxiv(svc, "attention after:2024-01-01")) == set(ids(1, 5))
    assert arxiv(svc, "attention before:2020", mode="dense") == ids(6)
    # Paper 4 (2022) is the dense answer; a date filter that excludes it leaves nothing.
    assert arxiv(svc, "galaxy simulations of dark matter before:2023", mode="dense") == ids(4)
    assert arxiv(svc, "galaxy simulations of dark matter after:2023", mode="dense") == []


def test_malformed_query_degrades_with_notice(svc: SearchService) -> None:
    result = svc.search('sparse "attention', mode="bm25")
    assert result.notice and "unbalanced quote" in result.notice
    assert [h.paper_id for h in result.hits][:1] == [svc.search("sparse").hits[0].paper_id]
    bad_date = svc.search("attention after:2024-13-45")
    assert bad_date.notice and bad_date.hits


def test_sort_by_date_trending_and_paging(svc: SearchService) -> None:
    assert arxiv(svc, "attention", sort="date") == ids(5, 1, 6)
    # votes / (age + 2) ** 1.8: 100 votes at ~2 years beat 1000 at ~9, which beat 5 at ~2
    assert arxiv(svc, "cat:cs.CL", sort="trending") == ids(5, 6, 1)
    assert arxiv(svc, "attention", sort="date", k=1, offset=1) == ids(1)
    assert svc.search("attention", k=1, mode="bm25").total == 3


def test_hits_say_why(svc: SearchService) -> None:
    result = svc.search("Sparse attention", k=1)
    hit = result.hits[0]
    assert hit.paper is not None and hit.paper.arxiv_id == ids(1)[0]
    assert hit.why == ["title and abstract match: sparse attention", "close in meaning"]
    assert hit.snippet is not None and hit.snippet.text == hit.paper.abstract
    marked = [hit.snippet.text[a:b] for a, b in hit.snippet.marks]
    assert marked == ["attention", "sparse"]
    assert result.terms == ["sparse", "attention"]


def test_dense_finds_meaning_without_shared_words(svc: SearchService) -> None:
    assert arxiv(svc, "galaxy simulations of dark matter", mode="dense")[0] == ids(4)[0]


def test_incremental_add_update_delete(
    svc: SearchService, settings: Settings, store: Store
) -> None:
    assert arxiv(svc, "photonic", mode="bm25") == []
    new = paper(
        7,
        "Photonic chips",
        "Light computes matrix products.",
        "Lise Meitner",
        "physics.optics",
        "2024-09-01",
    )
    add_papers(store, settings, [new])
    assert svc.refresh() == 1
    assert arxiv(svc, "photonic", mode="bm25") == ids(7)
    changed = paper(
        7,
        "Photonic chips",
        "Optical neurons instead.",
        "Lise Meitner",
        "physics.optics",
        "2024-09-01",
    )
    changed.arxiv_version = 2
    add_papers(store, settings, [changed])
    svc.refresh()
    assert arxiv(svc, "matrix", mode="bm25") == [] and arxiv(svc, "neurons", mode="bm25") == ids(7)
    svc.remove([pk_of(store, ids(7)[0])])
    assert arxiv(svc, "photonic", mode="bm25") == []
    assert ids(7)[0] not in arxiv(svc, "photonic chips")


def test_reopen_catches_up_and_keeps_index(settings: Settings, store: Store) -> None:
    add_papers(store, settings, CORPUS[:3])
    first = SearchService.open(settings, store)
    first.close()
    add_papers(store, settings, CORPUS[3:])
    again = SearchService.open(settings, store)
    assert again.lexical.num_docs() == len(CORPUS)
    assert len(again._vector_index()) == len(CORPUS)
    assert again.refresh() == 0  # the feed position was kept: nothing is read again


def test_similar_excludes_itself_and_duplicates(
    svc: SearchService, settings: Settings, store: Store
) -> None:
    duplicate = paper(
        8,
        "Sparse attention for long-context transformers!",
        "We make attention sparse so transformers read long documents cheaply.",
        "Someone Else",
        "cs.CL",
        "2024-03-02",
    )
    add_papers(store, settings, [duplicate])
    svc.refresh()
    hits = svc.similar(ids(1)[0], k=3, cut=False)
    found = [h.paper.arxiv_id for h in hits if h.paper]
    assert ids(1)[0] not in found and ids(8)[0] not in found
    assert len(found) == 3 and found[0] in ids(5, 6)
    assert hits[0].why[0] == f"score {hits[0].score:.1f}"
    assert svc.similar("no-such-paper") == []


def test_similar_query_leaves_out_terms_most_papers_hold(svc: SearchService) -> None:
    # "attention" and "transformers" are in 3 of the 7 papers (more than a fifth), "sparse",
    # "long" and "context" in paper 1 alone: only those three query the lexical index for
    # paper 1's candidates (Lucene MoreLikeThis's maxDocFreqPct), heaviest first.
    mine = {"attent": 0.5, "transform": 0.4, "spars": 0.3, "long": 0.2, "context": 0.1}
    assert svc._telling_terms(mine) == [("spars", 0.3), ("long", 0.2), ("context", 0.1)]
    # Every term common: the heaviest three are kept, so the query is never empty.
    common = {"attent": 0.5, "transform": 0.4}
    assert svc._telling_terms(common) == [("attent", 0.5), ("transform", 0.4)]
    # 1.0 keeps every term.
    svc.config = svc.config.model_copy(update={"similar_max_doc_freq": 1.0})
    assert [t for t, _ in svc._telling_terms(mine)] == list(mine)


def test_similar_lists_are_stored_and_served_until_stale(svc: SearchService, store: Store) -> None:
    first = svc.similar(ids(1)[0], k=3, cut=False)
    pk = pk_of(store, ids(1)[0])
    stored = store.similar_list(pk)
    assert stored is not None and stored.model == svc.config.embedder
    assert [i[0] for i in stored.items][:3] == [h.paper.pk for h in first if h.paper]
    # A later view (another process, or after the in-memory cache) reads the stored list:
    # shown in the order stored, with its reasons.
    reordered = [(p, s, ["stored"]) for p, s, _ in reversed(stored.items)]
    store.save_similar(pk, model=stored.model, items=reordered, now=utcnow())
    svc._similar.clear()
    served = svc.similar(ids(1)[0], k=3, cut=False)
    assert [h.paper.pk for h in served if h.paper] == [p for p, _, _ in reordered[:3]]
    assert all(h.why == ["stored"] for h in served)
    # Older than similar_max_age_hours, or from another embedder: computed again.
    for model, age in ((stored.model, timedelta(hours=25)), ("another-model", timedelta(0))):
        store.save_similar(pk, model=model, items=reordered, now=utcnow() - age)
        svc._similar.clear()
        again_hits = svc.similar(ids(1)[0], k=3, cut=False)
        assert [h.paper_id for h in again_hits] == [h.paper_id for h in first]
        again = store.similar_list(pk)
        assert again is not None and again.model == svc.config.embedder
        assert again.computed > utcnow() - timedelta(minutes=1)


def test_precompute_similar_fills_missing_lists_once(svc: SearchService, store: Store) -> None:
    pks = [pk_of(store, i) for i in ids(1, 2, 3)]
    assert all(store.similar_list(pk) is None for pk in pks)
    advanced: list[int] = []
    assert svc.precompute_similar(pks, advanced.append) == 3
    assert sum(advanced) == 3
    assert all(store.similar_list(pk) is not None for pk in pks)
    assert svc.precompute_similar(pks) == 0  # fresh lists are kept
    before = [store.similar_list(pk) for pk in pks]
    svc.rebuild()  # a rebuild on this node leaves what every node serves alone
    assert [store.similar_list(pk) for pk in pks] == before


def test_a_web_process_stores_the_similar_lists_of_recent_papers_it_indexes(
    settings: Settings, store: Store
) -> None:
    """The follower beside a web process computes the similar lists of the papers it
    indexed that are dated within similar_precompute_days of the newest (the feeds' papers),
    so their pages read a stored list on their first view; older papers' lists wait for a
    view. A paper stored later gets its list from the next round."""
    import time

    from papertide.search.background import IndexFollower

    config = settings.search.model_copy(
        update={"similar_precompute_days": 100, "follow_interval": 0.05}
    )
    settings = settings.model_copy(update={"search": config})
    add_papers(store, settings, CORPUS)  # newest 2024-08-01 (3); within 100 days: 3 and 5
    svc = SearchService.open(settings, store, catch_up=False)
    follower = IndexFollower(svc, interval=0.05)

    def listed(*numbers: int) -> bool:
        return all(store.similar_list(pk_of(store, i)) is not None for i in ids(*numbers))

    def wait_for(*numbers: int) -> None:
        deadline = time.monotonic() + 60
        while not listed(*numbers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert listed(*numbers)

    follower.start()
    try:
        wait_for(3, 5)
        assert not any(listed(n) for n in (1, 2, 4, 6))
        stored = store.similar_list(pk_of(store, ids(3)[0]))
        assert stored is not None and stored.model == svc.config.embedder
        # The page's view serves the stored list: nothing is computed again.
        shown = svc.similar(ids(3)[0], k=3, cut=False)
        assert [h.paper.pk for h in shown if h.paper] == [pk for pk, _, _ in stored.items[:3]]
        assert store.similar_list(pk_of(store, ids(3)[0])) == stored
        add_papers(
            store,
            settings,
            [
                paper(
                    7,
                    "Sparse attention kernels",
                    "Faster sparse attention.",
                    "A B",
                    "cs.LG",
                    "2024-08-02",
                )
            ],
        )
        wait_for(7)
    finally:
        follower.stop()
        svc.close()


def test_background_similar_lists_let_requests_in_progress_go_first(
    settings: Settings, store: Store
) -> None:
    """While the process answers requests, a background list waits (up to a second each),
    so no request queues behind its tens of ms; when the requests end, the lists go on."""
    import threading
    import time

    from papertide.search.background import IndexFollower

    config = settings.search.model_copy(
        update={"similar_precompute_days": 100, "follow_interval": 0.05}
    )
    settings = settings.model_copy(update={"search": config})
    add_papers(store, settings, CORPUS)  # within 100 days of the newest: 3 and 5
    svc = SearchService.open(settings, store, catch_up=False)
    requests = threading.Event()
    requests.set()  # a request in progress from the start
    asked: list[float] = []

    def busy() -> bool:
        asked.append(time.monotonic())
        return requests.is_set()

    follower = IndexFollower(svc, interval=0.05, busy=busy)
    pks = [pk_of(store, i) for i in ids(3, 5)]
    follower.start()
    try:
        started = time.monotonic()
        while not asked and time.monotonic() - started < 60:
            time.sleep(0.01)
        time.sleep(0.3)  # well inside the first list's wait
        assert all(store.similar_list(pk) is None for pk in pks)  # still waiting
        requests.clear()  # the requests end: the lists are computed at once
        deadline = time.monotonic() + 60
        while any(store.similar_list(pk) is None for pk in pks) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert all(store.similar_list(pk) is not None for pk in pks)
        assert len(asked) > 5  # it looked again and again while it waited
    finally:
        follower.stop()
        svc.close()


def test_background_similar_lists_advance_under_steady_requests(
    settings: Settings, store: Store
) -> None:
    """A process that is never idle still gets its recent papers' lists: each waits at most
    a second for the requests, then is computed."""
    import time

    from papertide.search.background import IndexFollower

    config = settings.search.model_copy(
        update={"similar_precompute_days": 100, "follow_interval": 0.05}
    )
    settings = settings.model_copy(update={"search": config})
    add_papers(store, settings, CORPUS)
    svc = SearchService.open(settings, store, catch_up=False)
    follower = IndexFollower(svc, interval=0.05, busy=lambda: True)
    pks = [pk_of(store, i) for i in ids(3, 5)]
    follower.start()
    try:
        deadline = time.monotonic() + 60
        while any(store.similar_list(pk) is None for pk in pks) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert all(store.similar_list(pk) is not None for pk in pks)
    finally:
        follower.stop()
        svc.close()


_PRECOMPUTE = """
import os, sys
from papertide.config import Settings
from papertide.search import SearchService
from papertide.store import Store
settings = Settings()
store = Store.open(settings.resolved_database_url)
svc = SearchService.open(settings, store, catch_up=False)
pks = [int(pk) for pk in sys.argv[1:]]
print(svc.precompute_similar(pks if os.environ.get("PT_ORDER") != "reverse" else pks[::-1]))
"""


def test_processes_storing_similar_lists_at_once_and_one_killed_keep_one_whole_list_each(
    settings: Settings, store: Store, tmp_path: Path
) -> None:
    """Three processes compute the same papers' similar lists at once (as two web
    processes' followers, or a sync beside them, may); one is killed with SIGKILL midway.
    The others finish without an error, and every paper has one whole list of real papers."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from papertide.bench.synth import write_snapshot
    from papertide.ingest import IngestOptions, ingest_paths

    source = write_snapshot(tmp_path / "s.jsonl", 300, seed=4)
    ingest_paths(store, [source], settings=settings, options=IngestOptions(fmt="arxiv-snapshot"))
    SearchService.open(settings, store).close()  # the index the processes share
    pks = [p.pk or 0 for p in store.list_papers(limit=300)]
    env = {**os.environ, "PAPERTIDE_DATA_DIR": str(settings.data_dir)}
    if settings.database_url:
        env["PAPERTIDE_DATABASE_URL"] = settings.database_url
    else:
        env["PAPERTIDE_DATABASE_URL"] = settings.resolved_database_url

    def start(**extra: str) -> subprocess.Popen[str]:
        argv = [sys.executable, "-c", _PRECOMPUTE, *map(str, pks)]
        return subprocess.Popen(
            argv, env={**env, **extra}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    victim = start()
    first, second = start(), start(PT_ORDER="reverse")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(store.similar_list(pk) for pk in pks[:40]):
        time.sleep(0.01)
    victim.send_signal(signal.SIGKILL)
    assert victim.wait(30) == -signal.SIGKILL  # killed midway, not after it was done
    for process in (first, second):
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err[-2000:]  # no failure on the others' rows
    known = set(pks)
    for pk in pks:
        stored = store.similar_list(pk)
        assert stored is not None, pk
        assert len(stored.items) >= 10 and {p for p, _, _ in stored.items} <= known - {pk}
