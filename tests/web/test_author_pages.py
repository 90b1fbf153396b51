"""Author pages: every author name on a card leads to the page of that name, which lists the
papers with it newest first, its co-authors and categories, searches within them and has an
Atom feed; spellings that differ only in accents, case or spacing reach the same page, and
the page says one name may be several people."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from urllib.parse import quote

import feedparser
import pytest
from fastapi.testclient import TestClient

from papertide.config import Settings
from papertide.models import Paper
from papertide.store import Store
from papertide.web import create_app
from tests.conftest import serving
from tests.support.search_corpus import add_papers, paper


def _by(n: int, title: str, authors: list[str], cats: str, day: str) -> Paper:
    return replace(
        paper(n, title, f"{title}. An abstract.", authors[0], cats, day), authors=authors
    )


PAPERS = [
    _by(1, "Wavelet scattering networks", ["Stéphane Mallat", "Joan Bruna"], "cs.CV", "2024-01-05"),
    _by(2, "A wavelet tour", ["Stephane  Mallat"], "eess.SP", "2024-03-01"),
    _by(3, "Group invariant scattering", ["STÉPHANE MALLAT", "Joan Bruna"], "cs.LG", "2024-02-10"),
    _by(4, "Sparse attention for long context", ["Ada Lovelace"], "cs.CL", "2024-02-11"),
]


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """The app over three papers of one name spelled three ways, and one of another."""
    store = Store.open(settings.resolved_database_url)
    add_papers(store, settings, PAPERS)
    with serving(create_app(settings)) as opened:
        yield opened
    store.close()


def _titles(html: str) -> list[str]:
    return re.findall(r'<h2 class="title"><a [^>]*>([^<]+)</a>', html)


def test_every_spelling_reaches_one_page_of_papers_newest_first(client: TestClient) -> None:
    for spelling in ("Stéphane Mallat", "stephane mallat", "STEPHANE  MALLAT"):
        page = client.get(f"/authors/{quote(spelling)}")
        assert page.status_code == 200, spelling
        assert "<h1>Stéphane Mallat</h1>" in page.text  # the spelling with its accents
        found = client.get(f"/api/authors/{quote(spelling)}").json()
        assert [p["arxiv_id"] for p in found["papers"]] == [
            "2401.00002",
            "2401.00003",
            "2401.00001",
        ]
        assert found["total"] == 3
    text = client.get("/authors/Stephane%20Mallat").text
    assert "One name may belong to several people." in text


def test_the_page_shows_co_authors_and_categories_with_their_counts(client: TestClient) -> None:
    found = client.get("/api/authors/Stéphane Mallat").json()
    assert found["coauthors"] == [["Joan Bruna", 2]]
    assert sorted(found["categories"]) == [["cs.CV", 1], ["cs.LG", 1], ["eess.SP", 1]]
    assert sorted(found["spellings"] + [found["name"]]) == sorted(
        ["Stéphane Mallat", "Stephane Mallat", "STÉPHANE MALLAT"]  # spacing collapsed at import
    )
    page = client.get("/authors/Stéphane Mallat").text
    assert '<a href="/authors/Joan%20Bruna">Joan Bruna</a>' in page


def test_search_within_an_authors_papers(client: TestClient) -> None:
    found = client.get("/api/authors/Stéphane Mallat", params={"q": "group invariant"}).json()
    assert [p["arxiv_id"] for p in found["papers"]] == ["2401.00003"]
    page = client.get("/authors/Stéphane Mallat", params={"q": "sparse attention"}).text
    assert "Sparse attention for long context" not in page  # Ada's paper, not this author's
    assert 'value="sparse attention"' in page  # the box keeps what was asked


def test_card_author_names_lead_to_their_pages(client: TestClient) -> None:
    card = client.get("/papers/2401.00001").text
    assert '<a href="/authors/St%C3%A9phane%20Mallat">Stéphane Mallat</a>' in card
    assert client.get("/authors/St%C3%A9phane%20Mallat").status_code == 200


def test_the_authors_papers_as_an_atom_feed(client: TestClient) -> None:
    feed = feedparser.parse(client.get("/authors/Joan%20Bruna.atom").content)
    assert not feed.bozo and feed.feed.title == "papertide: papers by Joan Bruna"
    assert [e.title for e in feed.entries] == [
        "Group invariant scattering",
        "Wavelet scattering networks",
    ]


def test_a_name_without_papers_is_a_404_that_says_so(client: TestClient) -> None:
    missing = client.get("/authors/Nobody%20Here")
    assert missing.status_code == 404 and "No papers by Nobody Here here." in missing.text
    assert client.get("/api/authors/%20%20").status_code == 404
