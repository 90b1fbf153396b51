"""Links, counts and paging over a small two-day collection: arXiv and PDF links built from
the id, "1 paper" in the singular, pages past the end; and, on the same collection, author
search folding accents, the log-in link's next= kept on the site, the OpenAPI error schema,
and BibTeX's year taken from the paper, never the import day."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import date

import pytest
from fastapi.testclient import TestClient

from papertide.config import Settings
from papertide.models import Paper
from papertide.store import Store
from papertide.web import create_app
from papertide.web.access import safe_next
from papertide.web.bibtex import bibtex
from tests.conftest import serving
from tests.support.search_corpus import add_papers, paper

MALLAT = replace(
    paper(
        7,
        "A wavelet tour of signal processing",
        "Wavelets.",
        "Stéphane Mallat",
        "eess.SP",
        "2024-02-02",
    ),
    listed_on=date(2026, 3, 12),
)
OTHERS = [
    replace(
        paper(8 + n, f"Second day paper {n}", "Text.", "Ada", "cs.LG", "2024-02-03"),
        listed_on=date(2026, 3, 13),
    )
    for n in range(31)
]


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """The app over one paper on 2026-03-12 and 31 on 2026-03-13 (two pages of 30)."""
    store = Store.open(settings.resolved_database_url)
    add_papers(store, settings, [MALLAT, *OTHERS])
    with serving(create_app(settings)) as opened:
        yield opened
    store.close()


def test_arxiv_and_pdf_links_come_from_the_id_when_no_url_is_stored(client: TestClient) -> None:
    page = client.get("/papers/date/2026-03-12").text
    assert 'href="https://arxiv.org/abs/2401.00007"' in page
    assert 'href="https://arxiv.org/pdf/2401.00007"' in page
    detail = client.get("/papers/2401.00007").text
    assert 'href="https://arxiv.org/abs/2401.00007" rel="noopener nofollow">arXiv' in detail
    links = client.get("/api/papers/2401.00007").json()["links"]
    assert links["abstract"] == "https://arxiv.org/abs/2401.00007"
    assert links["pdf"] == "https://arxiv.org/pdf/2401.00007"


def test_one_is_singular(client: TestClient) -> None:
    assert "1 paper, most voted first" in client.get("/papers/date/2026-03-12").text
    found = client.get("/search", params={"q": "wavelet", "mode": "bm25"}).text
    assert "1 paper matches <b>wavelet</b>" in found
    assert '<span class="vote-count">0</span> votes' in client.get("/papers/2401.00007").text


def test_pages_past_the_end_say_so(client: TestClient) -> None:
    past = client.get("/?page=9").text  # the latest day, 2026-03-13, has 2 pages
    assert "Page 9 is past the end" in past and "31 papers on 2 pages" in past
    assert "No papers for" not in past
    trending = client.get("/trending?page=50").text
    assert "Page 50 is past the end of the trending papers" in trending
    assert "Nothing trending yet" not in trending
    found = client.get("/search", params={"q": "second day paper", "page": "9"}).text
    assert "Page 9 is past the end" in found and "Nothing matches" not in found


def test_author_search_folds_accents(client: TestClient) -> None:
    for query in ("author:stephane", "author:Stéphane", 'author:"stephane mallat"', "stephane"):
        found = client.get("/api/search", params={"q": query}).json()
        assert [p["arxiv_id"] for p in found["papers"]][:1] == ["2401.00007"], query


def test_the_log_in_link_keeps_the_page_and_next_stays_on_the_site(client: TestClient) -> None:
    page = client.get("/search", params={"q": "wavelet", "mode": "bm25"}).text
    assert 'href="/login?next=/search%3Fq%3Dwavelet%26mode%3Dbm25"' in page
    assert safe_next("/search?q=wavelet&mode=bm25") == "/search?q=wavelet&mode=bm25"
    for bad in (
        "//evil.example",
        "/\\evil.example",
        "/\t/evil.example",
        "https://evil.example",
        "evil",
        "/login?next=/x",
        "",
    ):
        assert safe_next(bad) == "/", bad


def test_openapi_documents_the_real_error_body(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    assert schema["components"]["schemas"]["Error"]["required"] == ["error", "status"]
    search = schema["paths"]["/api/search"]["get"]["responses"]
    ref = {"$ref": "#/components/schemas/Error"}
    assert search["422"]["content"]["application/json"]["schema"] == ref
    vote = schema["paths"]["/api/papers/{ref}/vote"]["post"]["responses"]
    assert {"401", "403", "404", "422"} <= vote.keys()
    wrong = client.get("/api/search", params={"q": "x", "page": "0"})
    assert wrong.status_code == 422 and set(wrong.json()) == {"error", "status"}


def test_bibtex_year_is_the_publication_year_never_the_import_day() -> None:
    imported = Paper(title="Old", arxiv_id="2403.01234", listed_on=date(2026, 12, 1))
    assert "year = {2024}" in bibtex(imported)  # from the arXiv id, not the listing
    old_style = Paper(title="Older", arxiv_id="hep-th/9901001")
    assert "year = {1999}" in bibtex(old_style)
    unknown = Paper(title="Unknown", listed_on=date(2026, 12, 1))
    assert "year =" not in bibtex(unknown)
    assert re.search(r"year = \{2024\}", bibtex(replace(MALLAT, arxiv_id=None)))
