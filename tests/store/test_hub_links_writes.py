"""A paper's Hub repositories and GitHub stars in the real store, on SQLite and PostgreSQL:
replaced whole, by writers racing, while readers look."""

from __future__ import annotations

import threading
from datetime import date, datetime

from papertide.models import HubLinks, HubRepo
from papertide.store import Store
from tests.support.crowd import all_at_once
from tests.support.hub_service import add_paper

NOW = datetime(2026, 11, 21, 12, 0)


def _links(tag: str, n: int) -> HubLinks:
    """n models and a Space, named after ``tag`` so each writer's list is told apart."""
    repos = [HubRepo("model", f"w{tag}/model-{i}", likes=n - i) for i in range(n)]
    return HubLinks([*repos, HubRepo("space", f"w{tag}/demo", likes=1)], more={"model"})


def test_writers_replacing_one_papers_list_leave_one_whole_list(any_store: Store) -> None:
    paper = add_paper(any_store, "2411.00001", day=date(2026, 11, 21))
    pk = paper.pk or 0
    lists = {str(w): _links(str(w), 3 + w) for w in range(6)}
    wanted = {frozenset(r.repo for r in links.repos) for links in lists.values()}
    seen: list[frozenset[str]] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            seen.append(frozenset(r.repo for r in any_store.hub_links(pk).repos))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for _ in range(5):
            jobs = [
                lambda links=links: any_store.replace_hub_links(paper_pk=pk, links=links, now=NOW)
                for links in lists.values()
            ]
            assert all_at_once(jobs) == []
            stored = any_store.hub_links(pk)
            assert frozenset(r.repo for r in stored.repos) in wanted
            counts = any_store.hub_counts([pk])[pk]
            assert counts.models == len(stored.of("model")) and counts.spaces == 1
            assert counts.more == {"model"}
    finally:
        done.set()
        reader.join()
    assert seen and all(s in wanted or not s for s in seen)  # never half of one, never two


def test_stars_are_written_once_and_a_gone_repository_keeps_the_count(any_store: Store) -> None:
    paper = add_paper(any_store, "2411.00001", day=date(2026, 11, 21))
    pk = paper.pk or 0
    token = any_store.change_token()
    assert any_store.record_stars(paper_pk=pk, stars=12, now=NOW) is True
    assert any_store.change_token() != token  # pages showing the count are refreshed
    assert any_store.record_stars(paper_pk=pk, stars=12, now=NOW) is False  # nothing new
    assert any_store.record_stars(paper_pk=pk, stars=None, now=NOW) is False
    assert any_store.get_paper(paper.id or "").github_stars == 12  # type: ignore[union-attr]
    jobs = [
        lambda n=n: any_store.record_stars(paper_pk=pk, stars=100 + n, now=NOW) for n in range(6)
    ]
    assert all_at_once(jobs) == []
    assert any_store.get_paper(paper.id or "").github_stars in range(100, 106)  # type: ignore[union-attr]


def test_replacing_links_tells_page_caches(any_store: Store) -> None:
    paper = add_paper(any_store, "2411.00001", day=date(2026, 11, 21))
    token = any_store.change_token()
    any_store.replace_hub_links(paper_pk=paper.pk or 0, links=_links("a", 2), now=NOW)
    assert any_store.change_token() != token


def test_deleting_a_paper_takes_its_links(any_store: Store) -> None:
    from sqlalchemy import delete, func, select

    from papertide.store.hub import hub_checks, paper_artifacts
    from papertide.store.schema import papers

    paper = add_paper(any_store, "2411.00001", day=date(2026, 11, 21))
    any_store.replace_hub_links(paper_pk=paper.pk or 0, links=_links("a", 2), now=NOW)
    with any_store.write() as session:
        session.conn.execute(delete(papers).where(papers.c.pk == paper.pk))
    with any_store.engine.connect() as conn:
        for table in (paper_artifacts, hub_checks):
            assert conn.scalar(select(func.count()).select_from(table)) == 0
