"""One date per paper everywhere: what a card shows is what search's after:/before: filter,
what sort=date orders by and what the feeds file it under; the card says which date it is.
And captures file every listed paper under their day, not as "new"."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from papertide.clock import utcnow
from papertide.config import Settings
from papertide.ingest import IngestOptions, ingest_paths
from papertide.store import Store
from papertide.web import create_app
from tests.conftest import serving
from tests.support.search_corpus import add_papers, paper

# Published in 2024, listed on a daily page on 2026-03-12 (as Hugging Face lists old papers).
LISTED = replace(
    paper(1, "Listed lemur attention", "Lemurs attend.", "Ada", "cs.LG", "2024-06-01"),
    listed_on=date(2026, 3, 12),
)
# Never listed: its date is its publication.
PUBLISHED = paper(2, "Published lemur attention", "Lemurs again.", "Alan", "cs.LG", "2026-03-20")
OLDER = paper(3, "Older lemur attention", "Lemurs of old.", "Grace", "cs.LG", "2025-01-01")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """The app over the two papers above."""
    store = Store.open(settings.resolved_database_url)
    add_papers(store, settings, [LISTED, PUBLISHED, OLDER])
    with serving(create_app(settings)) as opened:
        yield opened
    store.close()


def _ids(client: TestClient, query: str, **params: str) -> list[str]:
    found = client.get("/api/search", params={"q": query, **params}).json()
    return [p["arxiv_id"] for p in found["papers"]]


def test_search_filters_on_the_date_the_card_shows(client: TestClient) -> None:
    # Before: filters read the publication date, so the paper listed in March 2026 passed
    # before:2025 and failed after:2026-03-01, while the month page listed it in March.
    assert _ids(client, "lemur before:2025") == []
    assert sorted(_ids(client, "lemur after:2026-03-01 before:2026-04")) == [
        "2401.00001",
        "2401.00002",
    ]
    assert sorted(_ids(client, "lemur before:2026-03-15")) == ["2401.00001", "2401.00003"]
    assert _ids(client, "after:2026-03-15") == ["2401.00002"]  # filters alone
    month = client.get("/papers/month/2026-03").text
    assert month.count('<article class="paper"') == 2  # the listed and the published one


def test_sort_by_date_uses_the_same_date(client: TestClient) -> None:
    # Published 2026-03-20, listed 2026-03-12 (published 2024), published 2025-01-01.
    expected = ["2401.00002", "2401.00001", "2401.00003"]
    assert _ids(client, "lemur attention", sort="date", mode="bm25") == expected
    assert _ids(client, "cat:cs.LG") == expected  # filters alone: newest first


def test_cards_and_api_say_which_date_it_is(client: TestClient) -> None:
    page = client.get("/search", params={"q": "lemur"}).text
    assert re.search(r'listed on <time datetime="2026-03-12">2026-03-12</time>', page)
    assert re.search(r'published <time datetime="2026-03-20">2026-03-20</time>', page)
    listed = client.get("/api/papers/2401.00001").json()
    assert (listed["day"], listed["day_kind"]) == ("2026-03-12", "listed")
    published = client.get("/api/papers/2401.00002").json()
    assert (published["day"], published["day_kind"]) == ("2026-03-20", "published")
    # The paper page says both: when it was published and when it was listed.
    detail = client.get("/papers/2401.00001").text
    assert "published 2024-06-01" in detail
    assert 'listed on <a href="/papers/date/2026-03-12">2026-03-12</a>' in detail


def test_captures_file_every_listed_paper_under_their_day_and_not_as_new(
    settings: Settings, seeds: list[Path]
) -> None:
    store = Store.open(settings.resolved_database_url)
    ingest_paths(store, seeds, settings=settings, options=IngestOptions(page_year=2025))
    fresh = paper(9, "Today's fresh paper", "New today.", "Ada", "cs.LG", "2026-01-01")
    add_papers(store, settings, [replace(fresh, published=utcnow())])
    assert store.stats()["by_day"] == {
        utcnow().date().isoformat(): 1,
        "2025-04-09": 69,
        "2025-03-14": 62,
        "2025-03-12": 85,
    }
    with serving(create_app(settings)) as client:
        old = client.get("/papers/date/2025-03-12").text
        assert "85 papers" in old
        assert '<span class="new">new</span>' not in old  # imported today, but of 2025
        assert '<span class="new">new</span>' in client.get("/").text  # today's paper
    store.close()


def test_a_paper_first_seen_today_is_new_only_if_its_date_is_recent() -> None:
    from papertide.web.display import is_new

    now = datetime(2026, 12, 2, 12)
    seen = replace(PUBLISHED, first_seen=datetime(2026, 12, 2, 8), listed_on=None)
    assert not is_new(seen, now)  # dated 2026-03-20
    assert is_new(replace(seen, listed_on=date(2026, 12, 1)), now)
    assert not is_new(replace(seen, listed_on=date(2026, 12, 1)), datetime(2026, 12, 3, 9))
