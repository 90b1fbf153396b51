"""The search page and API say why a paper matched: the passage of its abstract with the
query's words marked (escaped, math whole), reasons in words, and "did you mean" for a
misspelt query. Over the three real captures (216 papers) plus one paper with markup."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from papertide.config import Settings
from papertide.ingest import IngestOptions, ingest_paths
from papertide.store import Store
from papertide.web import create_app
from tests.conftest import serving
from tests.support.search_corpus import add_papers, paper

HOSTILE = paper(
    77,
    "Zeppelin routing under wind",
    'Zeppelin routing <script>alert("x")</script> with $\\alpha < \\beta$ wind & "gusts".',
    "Eve Mallory",
    "cs.RO",
    "2025-01-02",
)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The app over the seed captures and one paper whose abstract holds markup."""
    from tests.conftest import SEEDS

    settings = Settings(data_dir=tmp_path_factory.mktemp("explains") / "data")
    store = Store.open(settings.resolved_database_url)
    ingest_paths(store, list(SEEDS), settings=settings, options=IngestOptions(page_year=2025))
    add_papers(store, settings, [HOSTILE])
    store.close()
    with serving(create_app(settings)) as opened:
        yield opened


def test_the_top_snippets_mark_the_query_words(client: TestClient) -> None:
    # Before: the first lines of each abstract, where the words were often cut off.
    papers = client.get("/api/search", params={"q": "speculative decoding"}).json()["papers"]
    assert len(papers) >= 5
    for found in papers[:5]:
        snippet = found["snippet"]
        assert len(snippet["text"]) <= 304 and snippet["marks"]
        marked = {snippet["text"][a:b].lower() for a, b in snippet["marks"]}
        assert marked <= {"speculative", "speculation", "decoding", "decode", "decodes"}
        assert found["why"][0].startswith(("title and abstract match", "abstract matches"))
        assert not any(re.search(r"\d\.\d\d", why) for why in found["why"])  # no raw scores
    page = client.get("/search", params={"q": "speculative decoding"}).text
    assert page.count('class="abstract snippet math"') == len(papers)
    assert "<mark>decoding</mark>" in page.lower() or "<mark>Decoding</mark>" in page


def test_a_snippet_from_hostile_text_is_escaped_and_keeps_its_math(client: TestClient) -> None:
    page = client.get("/search", params={"q": "zeppelin routing"}).text
    assert '<script>alert("x")</script>' not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert "\\(\\alpha &lt; \\beta\\)" in page  # math delimited whole for KaTeX
    assert "<mark>Zeppelin</mark> <mark>routing</mark>" in page
    found = client.get("/api/search", params={"q": "zeppelin routing"}).json()["papers"][0]
    assert found["snippet"]["text"].startswith("Zeppelin routing <script>")  # plain text


def test_a_misspelt_query_offers_the_right_spelling(client: TestClient) -> None:
    # Before: 2 papers by meaning only, and no suggestion.
    found = client.get("/api/search", params={"q": "speculaitve decodng"}).json()
    assert found["suggestion"] == "speculative decoding"
    page = client.get("/search", params={"q": "speculaitve decodng", "mode": "bm25"}).text
    assert (
        'Did you mean <a href="/search?q=speculative%20decoding&amp;mode=bm25">'
        "speculative decoding</a>?" in page
    )
    assert (
        client.get("/api/search", params={"q": "speculative decoding"}).json()["suggestion"] is None
    )
