"""What a paper led to, as the site shows it: counts of the models, datasets and Spaces
citing it on cards, the paper page's "On Hugging Face" section, and the JSON API."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import date, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from papertide.clock import utcnow
from papertide.config import Settings
from papertide.models import HubLinks, HubRepo
from papertide.store import Store
from papertide.web import create_app
from papertide.web.display import views
from tests.conftest import serving
from tests.support.hub_service import add_paper

DAY = date(2026, 11, 21)
NOW = datetime(2026, 11, 21, 12, 0)
LINKS = HubLinks(
    [
        HubRepo("model", "example/sparse-attn-7b", likes=214, downloads=18342),
        HubRepo("model", "example/sparse-attn-1b", likes=57, downloads=4210),
        HubRepo("model", "TheBloke/sparse-attn-7b-GGUF", likes=9, downloads=977),
        HubRepo("dataset", "example/long-docs-eval", likes=31, downloads=1204),
        HubRepo("space", "example/sparse-attn-demo", likes=88),
        HubRepo("space", "someone/attention-visualiser", likes=1),
    ]
)


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    opened = Store.open(settings.resolved_database_url)
    cited = add_paper(opened, "2411.00001", day=DAY, title="Sparse Attention for Long Documents")
    add_paper(opened, "2411.00002", day=DAY, title="A Paper Nothing Cites Yet")
    opened.replace_hub_links(paper_pk=cited.pk or 0, links=LINKS, now=NOW)
    yield opened
    opened.close()


@pytest.fixture
def client(settings: Settings, store: Store) -> Iterator[TestClient]:
    with serving(create_app(settings)) as opened:
        yield opened


def _card(html: str, paper_id: str) -> str:
    pattern = rf'<article class="paper" data-paper-id="{re.escape(paper_id)}">.*?</article>'
    found = re.search(pattern, html, re.S)
    assert found, f"no card of {paper_id}"
    return found.group(0)


def test_cards_count_what_cites_the_paper_and_link_to_the_list(client: TestClient) -> None:
    html = client.get(f"/papers/date/{DAY}").text
    card = _card(html, "2411.00001")
    counts = re.search(r'<span class="hub-counts"[^>]*>(.*?)</span>', card, re.S)
    assert counts is not None
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", counts.group(1))).strip()
    assert text == "3 models · 1 dataset · 2 Spaces"
    hrefs = re.findall(r'href="([^"]+)"', counts.group(1))
    assert hrefs == [f"/papers/2411.00001#hub-{k}" for k in ("models", "datasets", "spaces")]
    assert "hub-counts" not in _card(html, "2411.00002")  # nothing cites it: nothing shown


def test_the_paper_page_lists_them_with_links_to_the_hub(client: TestClient) -> None:
    html = client.get("/papers/2411.00001").text
    section = re.search(r'<section id="hub".*?</section>', html, re.S)
    assert section is not None and "On Hugging Face" in section.group(0)
    for anchor in ("hub-models", "hub-datasets", "hub-spaces"):
        assert f'id="{anchor}"' in section.group(0)
    links = re.findall(r'<a href="([^"]+)" rel="([^"]+)">([^<]+)</a>', section.group(0))
    assert links[0] == (
        "https://huggingface.co/example/sparse-attn-7b",
        "noopener nofollow",
        "example/sparse-attn-7b",
    )
    urls = {url for url, _, _ in links}
    assert "https://huggingface.co/datasets/example/long-docs-eval" in urls
    assert "https://huggingface.co/spaces/example/sparse-attn-demo" in urls
    assert len(links) == 6 and all(rel == "noopener nofollow" for _, rel, _ in links)
    assert "214 likes · 18,342 downloads" in section.group(0)
    # Between the article and the discussion.
    assert html.index("</article>") < html.index('id="hub"') < html.index('id="discussion"')
    assert 'id="hub"' not in client.get("/papers/2411.00002").text


def test_a_repository_id_that_fails_the_pattern_is_never_a_link(
    client: TestClient, store: Store
) -> None:
    paper = store.get_paper("2411.00002")
    assert paper is not None
    hostile = HubLinks(
        [
            HubRepo("model", 'javascript:alert(1)//"><script>x</script>', likes=5),
            HubRepo("model", "example/fine", likes=1),
        ],
        more={"model"},
    )
    store.replace_hub_links(paper_pk=paper.pk or 0, links=hostile, now=NOW)
    html = client.get("/papers/2411.00002").text
    assert "javascript:" not in html and "<script>x" not in html
    assert "https://huggingface.co/example/fine" in html
    assert "2+ models" in _card(client.get(f"/papers/date/{DAY}").text, "2411.00002")
    assert 'href="https://huggingface.co/papers/2411.00002" rel="noopener nofollow"' in html
    assert "https://huggingface.co/papers/" not in client.get("/papers/2411.00001").text
    api = client.get("/api/papers/2411.00002").json()
    assert [m["id"] for m in api["models"]] == ["example/fine"]


def test_the_api_gives_the_lists_and_the_counts(client: TestClient) -> None:
    body = client.get("/api/papers/2411.00001").json()
    assert [m["id"] for m in body["models"]][:2] == [
        "example/sparse-attn-7b",
        "example/sparse-attn-1b",
    ]
    assert body["models"][0] == {
        "id": "example/sparse-attn-7b",
        "url": "https://huggingface.co/example/sparse-attn-7b",
        "likes": 214,
        "downloads": 18342,
        "updated": None,
    }
    assert [d["url"] for d in body["datasets"]] == [
        "https://huggingface.co/datasets/example/long-docs-eval"
    ]
    assert [s["id"] for s in body["spaces"]] == [
        "example/sparse-attn-demo",
        "someone/attention-visualiser",
    ]
    assert body["hub"] == {"models": 3, "datasets": 1, "spaces": 2, "more": []}
    daily = client.get("/api/daily", params={"date": str(DAY)}).json()
    by_id = {p["id"]: p["hub"] for p in daily["papers"]}
    assert by_id["2411.00001"]["spaces"] == 2 and by_id["2411.00002"]["models"] == 0


def test_a_synced_list_reaches_a_cached_page_at_once(client: TestClient, store: Store) -> None:
    before = client.get(f"/papers/date/{DAY}").text
    assert "hub-counts" not in _card(before, "2411.00002")
    paper = store.get_paper("2411.00002")
    links = HubLinks([HubRepo("space", "example/demo", likes=3)])
    store.replace_hub_links(paper_pk=paper.pk or 0, links=links, now=NOW)  # type: ignore[union-attr]
    # Written by another process (the worker): seen within the cache's quarter second of
    # trust in the change token, long before the page's own 5 s run out.
    deadline = time.monotonic() + 2.0
    while "1 Space<" not in _card(client.get(f"/papers/date/{DAY}").text, "2411.00002"):
        assert time.monotonic() < deadline, "the cached page kept the old counts"
        time.sleep(0.05)


def test_cards_read_the_counts_of_all_their_papers_at_once(settings: Settings) -> None:
    opened = Store.open(settings.resolved_database_url)
    try:
        made = [add_paper(opened, f"2411.001{n:02d}", day=DAY) for n in range(20)]
        for paper in made:
            opened.replace_hub_links(paper_pk=paper.pk or 0, links=LINKS, now=NOW)
        statements: list[str] = []
        event.listen(opened.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        one = views(opened, made[:1], None, utcnow())
        with_one = len(statements)
        many = views(opened, made, None, utcnow())
        assert len(statements) - with_one == with_one  # 20 papers: as many reads as for one
        assert one[0].hub.models == 3 and all(v.hub.spaces == 2 for v in many)
    finally:
        opened.close()
