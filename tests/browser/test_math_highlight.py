"""Math and highlighting together in a real browser: a search for "pi_0 robot" marks the
words around $\\pi_0$ and KaTeX still renders it; "$80 ... $20" in an abstract stays text
and "\\$5" shows as "$5"."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Site

pytestmark = pytest.mark.browser

PI0_ID = "2410.24164"
PI0 = {
    "title": "$\\pi_0$: A Vision-Language-Action Flow Model for General Robot Control",
    "abstract": "We train one robot policy $\\pi_0$ on many robots. The kit costs $80 per "
    "month, down from $20 a week, and a spare part \\$5.",
    "authors": ["Kevin Black"],
    "arxiv_id": PI0_ID,
    "categories": ["cs.RO"],
    "published": "2024-10-31T00:00:00Z",
}


@pytest.fixture(scope="module")
def pi0_site(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Site:
    """The running site with the paper above imported and searchable."""
    path: Path = tmp_path_factory.mktemp("pi0") / "pi0.jsonl"
    path.write_bytes(orjson.dumps(PI0) + b"\n")
    env = {**os.environ, "PAPERTIDE_DATA_DIR": str(site.data_dir)}
    env.pop("PAPERTIDE_DATABASE_URL", None)
    subprocess.run(
        [sys.executable, "-m", "papertide", "ingest", "--quiet", str(path)],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    deadline = time.monotonic() + 60
    while True:  # the server's index follows the store's change feed
        found = httpx.get(site.at("/api/search"), params={"q": "pi_0 robot"}).json()
        if any(p["arxiv_id"] == PI0_ID for p in found["papers"]):
            return site
        assert time.monotonic() < deadline, "the imported paper never became searchable"
        time.sleep(0.2)


def test_highlight_around_math_keeps_katex_rendering(page: Page, pi0_site: Site) -> None:
    page.goto(pi0_site.at("/search?q=pi_0+robot"))
    card = page.locator(f'article.paper[data-paper-id="{PI0_ID}"]')
    title = card.locator(".title")
    expect(title.locator(".katex").first).to_be_visible()  # before: raw "$\<mark>pi_0</mark>$"
    expect(title.locator("mark")).to_have_text(["Robot"])
    assert title.locator(".katex mark").count() == 0
    assert "$" not in title.inner_text() and "\\pi" not in title.inner_text()
    abstract = card.locator(".abstract")
    expect(abstract.locator(".katex")).to_have_count(1)  # only $\pi_0$ is math
    expect(abstract.locator("mark").first).to_have_text("robot")


def test_prices_stay_text_and_an_escaped_dollar_shows_plain(page: Page, pi0_site: Site) -> None:
    page.goto(pi0_site.at(f"/papers/{PI0_ID}"))
    abstract = page.locator("article.paper.full p.abstract")
    expect(abstract.locator(".katex")).to_have_count(1)
    text = abstract.inner_text()
    assert "costs $80 per month, down from $20 a week" in text  # before: typeset as math
    assert "a spare part $5." in text and "\\$" not in text
