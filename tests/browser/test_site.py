"""The site in a real browser: pages render, math, abstracts, votes, submission, search paging."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import feedparser  # type: ignore[import-untyped]
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import MATH_ARXIV_ID, Site, register

pytestmark = pytest.mark.browser

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _first_paper_id(page: Page, site: Site) -> str:
    page.goto(site.at("/"))
    paper_id = page.locator("article.paper").first.get_attribute("data-paper-id")
    assert paper_id, "the daily page shows no paper cards"
    return paper_id


def test_every_page_renders_and_screenshots(
    page: Page, site: Site, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # PAPERTIDE_SCREENSHOT_DIR keeps them for a look; by default they go to a temporary folder.
    kept = os.environ.get("PAPERTIDE_SCREENSHOT_DIR")
    shots = Path(kept) if kept else tmp_path_factory.mktemp("screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    paper_id = _first_paper_id(page, site)
    pages = {
        "daily": "/",
        "trending": "/trending",
        "search": "/search?q=attention",
        "paper": f"/papers/{paper_id}",
        "login": "/login",
        "register": "/register",
    }
    taken: dict[str, bytes] = {}
    for name, path in pages.items():
        response = page.goto(site.at(path))
        assert response is not None and response.status == 200, path
        nav = page.locator("header nav")
        for label, href in (("Daily", "/"), ("Trending", "/trending"), ("Search", "/search")):
            expect(nav.get_by_role("link", name=label, exact=True)).to_have_attribute("href", href)
        expect(page.locator("form.subscribe input[name=email]")).to_be_visible()
        shot = shots / f"{name}.png"
        page.screenshot(path=shot, full_page=True)
        data = shot.read_bytes()
        assert data.startswith(PNG_SIGNATURE), name
        taken[name] = data
        # Something is drawn: the main column has text, and it is not the background colour.
        main = page.locator("main")
        box = main.bounding_box()
        assert box and box["width"] > 300 and box["height"] > 100, (name, box)
        assert main.inner_text().strip(), f"{name}: the main column is empty"
        colours = page.evaluate(
            "() => { const s = getComputedStyle(document.querySelector('main'));"
            " const b = getComputedStyle(document.body); return [s.color, b.backgroundColor]; }"
        )
        assert colours[0] != colours[1], f"{name}: text in the background colour {colours}"
    # A blank (or identical) rendering would give equal screenshots for different pages.
    assert len({hash(data) for data in taken.values()}) == len(pages)
    for name in ("daily", "trending", "search"):
        page.goto(site.at(pages[name]))
        assert page.locator("article.paper").count() > 0, f"{name} lists no papers"


def test_more_unclamps_the_abstract_and_less_clamps_it(page: Page, site: Site) -> None:
    # Similar papers show their abstracts (search shows its best passage, the grid none).
    page.goto(site.at(f"/papers/{MATH_ARXIV_ID}"))
    card = page.locator("article.paper").filter(has=page.locator("button.expand:visible")).first
    button, abstract = card.locator("button.expand"), card.locator(".abstract")
    clamped = abstract.bounding_box()
    assert clamped is not None
    expect(abstract).not_to_have_class(re.compile(r"\bexpanded\b"))
    button.click()
    expect(abstract).to_have_class(re.compile(r"\bexpanded\b"))
    expect(button).to_have_text("Less")
    opened = abstract.bounding_box()
    assert opened is not None and opened["height"] > clamped["height"] * 1.5
    button.click()
    expect(abstract).not_to_have_class(re.compile(r"\bexpanded\b"))
    expect(button).to_have_text("More")
    again = abstract.bounding_box()
    assert again is not None and abs(again["height"] - clamped["height"]) < 2


def test_tex_in_titles_and_abstracts_renders_with_katex(page: Page, site: Site) -> None:
    page.goto(site.at(f"/papers/{MATH_ARXIV_ID}"))
    title = page.locator("h1.title")
    expect(title.locator(".katex").first).to_be_visible()
    assert "$" not in title.inner_text()
    # \mathbb renders in KaTeX's own font, served by the site (no CDN).
    assert page.evaluate("document.fonts.check('12px KaTeX_AMS')")
    expect(page.locator(".abstract .katex-display, .abstract .katex").first).to_be_attached()


def test_upvote_while_logged_out_goes_to_login(page: Page, site: Site) -> None:
    page.goto(site.at("/trending"))
    page.locator("article.paper button.upvote").first.click()
    page.wait_for_url(re.compile(r"/login\?"))
    assert parse_qs(urlsplit(page.url).query)["next"] == ["/trending"]
    expect(page.locator("input[name=password]")).to_be_visible()


def test_upvote_counts_once_and_a_second_click_takes_it_back(page: Page, site: Site) -> None:
    register(page, site)
    page.goto(site.at("/"))
    paper_id = page.locator("article.paper").nth(1).get_attribute("data-paper-id")
    card = page.locator(f'article.paper[data-paper-id="{paper_id}"]')  # votes reorder the list
    count, button = card.locator(".vote-count"), card.locator("button.upvote")
    before = int(count.inner_text())
    expect(button).to_have_attribute("aria-pressed", "false")
    button.click()
    expect(count).to_have_text(str(before + 1))
    expect(button).to_have_attribute("aria-pressed", "true")
    page.reload()  # the vote was stored, not only drawn (the paper may have moved up)
    expect(count).to_have_text(str(before + 1))
    expect(button).to_have_attribute("aria-pressed", "true")
    button.click()
    expect(count).to_have_text(str(before))
    expect(button).to_have_attribute("aria-pressed", "false")


def test_submit_by_arxiv_id(page: Page, site: Site) -> None:
    register(page, site)
    page.goto(site.at("/submit"))
    page.fill("input[name=ref]", MATH_ARXIV_ID)
    with page.expect_navigation():
        page.press("input[name=ref]", "Enter")
    if urlsplit(page.url).path == f"/papers/{MATH_ARXIV_ID}":  # taken to the paper's page
        expect(page.locator("h1.title")).to_contain_text("Sparse Attention")
    else:  # or shown a link to it
        expect(page.locator(f'main a[href="/papers/{MATH_ARXIV_ID}"]').first).to_be_visible()
    # A paper the site does not have, with no network to fetch it from: a clear message.
    page.goto(site.at("/submit"))
    page.fill("input[name=ref]", "2412.99999")
    with page.expect_navigation():
        page.press("input[name=ref]", "Enter")
    expect(page.locator("p.error")).to_contain_text(re.compile("could not be reached", re.I))


def test_search_form_and_next_page(page: Page, site: Site) -> None:
    page.goto(site.at("/search"))
    page.fill("form.search input[name=q]", "attention")
    with page.expect_navigation() as searched:
        page.press("form.search input[name=q]", "Enter")  # empty filters are sent too
    assert searched.value is not None and searched.value.status == 200, page.url
    assert parse_qs(urlsplit(page.url).query)["q"] == ["attention"]
    first = page.locator("article.paper").evaluate_all("cs => cs.map(c => c.dataset.paperId)")
    assert first, "no results for 'attention' in the sample papers"
    with page.expect_navigation():
        page.locator('a[rel="next"]').first.click()
    second = page.locator("article.paper").evaluate_all("cs => cs.map(c => c.dataset.paperId)")
    assert second and not set(first) & set(second)
    expect(page.locator('a[rel="prev"]').first).to_be_visible()
    assert parse_qs(urlsplit(page.url).query)["q"] == ["attention"]


def test_feeds_linked_from_the_page_head_are_atom(page: Page, site: Site) -> None:
    page.goto(site.at("/"))
    hrefs = page.locator('head link[rel="alternate"][type="application/atom+xml"]').evaluate_all(
        "links => links.map(l => l.href)"
    )
    assert len(hrefs) >= 2
    for href in hrefs:
        response = page.request.get(href)
        assert response.status == 200, href
        assert response.headers["content-type"].startswith("application/atom+xml"), href
        parsed = feedparser.parse(response.body())
        assert parsed.bozo == 0 and parsed.version == "atom10", href
        assert parsed.entries, f"{href} has no entries"


def test_copy_bibtex_copies_the_entry(page: Page, site: Site) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site.url)
    page.goto(site.at(f"/papers/{MATH_ARXIV_ID}"))
    page.locator("button.copy-bibtex").click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == page.locator("pre.bibtex").inner_text()
    assert copied.startswith("@misc{") and MATH_ARXIV_ID in copied
