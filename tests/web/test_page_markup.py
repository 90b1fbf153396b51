"""Page markup through the running app: long "listed with" lists folded, the search's feed
and "mail me new matches", the subscribe form filled from them, accessible vote buttons, the
current tab and section marked."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from papertide.config import Settings
from papertide.ingest import IngestOptions, ingest_paths
from papertide.store import Store
from papertide.web import create_app
from tests.conftest import serving


@pytest.fixture
def site(settings: Settings, seeds: list[Path]) -> Iterator[tuple[TestClient, Store]]:
    """The app over the seed papers (pages dated 2025), and its store."""
    store = Store.open(settings.resolved_database_url)
    ingest_paths(store, seeds, settings=settings, options=IngestOptions(page_year=2025))
    with serving(create_app(settings)) as client:
        yield client, store
    store.close()


def test_the_trending_pages_that_listed_a_paper_are_folded_under_one_count(
    site: tuple[TestClient, Store],
) -> None:
    """A capture's page lists up to 100 papers, mostly unrelated to this one: the paper page
    says on how many pages it was seen and folds the lists away, all under one disclosure."""
    client, store = site
    subject = store.list_papers(day=date(2025, 3, 12))[0]  # the capture of that day
    section = client.get(f"/papers/{subject.id}").text.split('<section id="listed-with">')[1]
    section = section.split("</section>")[0]
    assert re.search(r"<h2>Seen on \d+ trending pages?</h2>", section)
    assert section.count("<details>") == 1 and "<details open" not in section
    folded = section.split("<details>")[1]
    assert folded.count("<li>") > 10  # the lists are inside the disclosure
    assert section.split("<details>")[0].count("<li>") == 0


def test_search_offers_its_feed_and_mail_me_new_matches(site: tuple[TestClient, Store]) -> None:
    client, _ = site
    page = client.get("/search", params={"q": "sparse attention", "cat": "cs.CL"}).text
    query = quote("sparse attention cat:cs.CL")
    assert f'href="/feeds/search.atom?q={query}"' in page
    assert re.search(rf'<link rel="alternate" type="application/atom\+xml"[^>]*q={query}"', page)
    assert f'href="/subscribe?q={query}"' in page
    form = client.get(f"/subscribe?q={query}").text
    assert re.search(r'<textarea name="queries"[^>]*>sparse attention cat:cs.CL</textarea>', form)
    assert client.get("/subscribe?q=" + "x" * 501).status_code == 422  # bounded, clean error


def test_the_search_page_has_one_search_box(site: tuple[TestClient, Store]) -> None:
    client, _ = site
    page = client.get("/search", params={"q": "attention"}).text
    assert page.count('type="search"') == 1 and page.count('role="search"') == 1
    assert 'value="attention"' in page  # the one box holds the query
    assert client.get("/trending").text.count('type="search"') == 1  # the header's, elsewhere


def test_vote_buttons_are_named_and_tabs_marked(site: tuple[TestClient, Store]) -> None:
    client, store = site
    subject = store.list_papers(day=date(2025, 3, 12))[0]  # the capture of that day
    page = client.get("/papers/date/2025-03-12").text
    assert re.search(
        r'<button class="upvote" type="submit" aria-pressed="false" aria-label="Upvote '
        + re.escape(subject.title[:20]),
        page,
    )
    assert re.search(
        r'<nav class="periods"[^>]*>.*?href="/papers/date/2025-03-12"\s+'
        r'aria-current="page">Day</a>',
        page,
        re.S,
    )
    assert '<a href="/" aria-current="page">Daily</a>' in page
    assert '<a class="skip-link" href="#papers">Skip to papers</a>' in page
    assert 'id="papers"' in page
    week = client.get("/papers/week/2025-W11").text
    assert re.search(r'aria-current="page">Week</a>', week)
    assert '<form class="site-search" role="search" action="/search"' in client.get("/login").text


def test_log_in_link_keeps_the_page_you_were_on(site: tuple[TestClient, Store]) -> None:
    client, _ = site
    page = client.get("/search", params={"q": "sparse attention"}).text
    assert 'href="/login?next=/search%3Fq%3Dsparse%2Battention"' in page
    login = client.get("/login?next=/search%3Fq%3Dsparse%2Battention").text
    assert 'name="next" value="/search?q=sparse+attention"' in login
    assert 'href="/login?next=/"' in login  # not back to the login page itself


def test_a_papers_page_links_the_urls_in_its_abstract(site: tuple[TestClient, Store]) -> None:
    client, store = site
    paper = next(
        p for p in store.list_papers(limit=1000) if "https://github.com/SHI-Labs/" in p.abstract
    )
    page = client.get(f"/papers/{paper.id}").text
    abstract = page.split('<p class="abstract math expanded">')[1].split("</p>")[0]
    repo = "https://github.com/SHI-Labs/Smooth-Diffusion"
    assert f'<a href="{repo}" rel="nofollow noopener">{repo}</a>' in abstract


def test_day_page_cards_carry_a_cover_and_do_not_repeat_the_day(
    site: tuple[TestClient, Store],
) -> None:
    client, _ = site
    day = client.get("/papers/date/2025-03-12").text
    cards = day.count('<article class="paper"')
    assert cards > 10
    assert '<div class="papers grid">' in day
    assert day.count('class="cover"') == cards  # a drawn cover where there is no picture
    assert '<time datetime="2025-03-12">' not in day  # the page's own day, said once above
    week = client.get("/papers/week/2025-W11").text
    assert '<time datetime="2025-03-14">' in week  # a week's cards say their day
    assert '<time datetime="2025-03-14">' not in client.get("/papers/date/2025-03-14").text
