"""The morning scan in Chromium: the day page as a grid of papers with pictures, rows on a
phone, a phone menu that keeps every link in reach, and the paper page in a researcher's
order (title, authors, buttons, picture, abstract)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import MATH_ARXIV_ID, Site, register

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
MIN_PICTURE = 48  # px, each side


def _whole_cards_on_screen(page: Page, height: int) -> list[dict[str, float]]:
    """The picture boxes of the grid's cards that lie wholly on the first screen."""
    return list(
        page.evaluate(
            """(height) => [...document.querySelectorAll('.papers.grid article.paper')]
            .filter(card => { const b = card.getBoundingClientRect();
                              return b.top >= 0 && b.bottom <= height && b.width > 0; })
            .map(card => { const p = card.querySelector('.picture').getBoundingClientRect();
                           return {width: p.width, height: p.height}; })""",
            height,
        )
    )


@pytest.mark.parametrize(("viewport", "at_least"), [(DESKTOP, 6), (PHONE, 4)], ids=["1366", "390"])
def test_the_first_screen_shows_papers_each_with_a_picture_from_this_site(
    browser: Browser, site: Site, viewport: dict[str, int], at_least: int
) -> None:
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    origins = set()
    page.on("request", lambda r: origins.add(urlsplit(r.url).netloc))
    page.goto(site.at("/"), wait_until="networkidle")
    shown = _whole_cards_on_screen(page, viewport["height"])
    assert len(shown) >= at_least, shown
    for box in shown:
        assert box["width"] >= MIN_PICTURE and box["height"] >= MIN_PICTURE, box
    assert origins == {urlsplit(site.url).netloc}, origins  # nothing hot-linked
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    # The grid shows no abstracts; the compact list (the other view) one line a paper.
    expect(page.locator(".papers.grid article.paper .abstract").first).to_be_hidden()
    if page.locator("button.menu-toggle").is_visible():  # a phone: the toggles are in the menu
        page.locator("button.menu-toggle").click()
    page.locator('button[data-toggle="density"]').click()
    expect(page.locator(".papers.grid article.paper .picture").first).to_be_hidden()
    context.close()


# Layout shifts as Chromium scores them (buffered: those since the page began), summed.
_WATCH_SHIFTS = """window.__shift = 0; new PerformanceObserver(list => { for (const e of
    list.getEntries()) if (!e.hadRecentInput) window.__shift += e.value; })
    .observe({type: 'layout-shift', buffered: true});"""


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1366", "390"])
def test_pictures_past_the_first_screen_load_when_scrolled_near_and_move_nothing(
    browser: Browser, site: Site, viewport: dict[str, int]
) -> None:
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    fetched: list[str] = []
    page.on("requestfinished", lambda r: fetched.append(r.url) if "/pictures/" in r.url else None)
    page.goto(site.at("/"), wait_until="networkidle")
    page.evaluate(_WATCH_SHIFTS)
    tiles = page.locator(".papers.grid a.picture").count()
    first_screen = len(fetched)
    # Only what is on (or within a little of) the first screen is fetched, as card variants.
    assert 4 <= first_screen <= 16 < tiles, (first_screen, tiles)
    assert all(url.endswith(".card.webp") for url in fetched), fetched
    for _ in range(40):  # scroll down as a reader does, a screen at a time
        page.mouse.wheel(0, viewport["height"])
        page.wait_for_timeout(60)
        if page.evaluate("innerHeight + scrollY >= document.body.scrollHeight"):
            break
    page.wait_for_load_state("networkidle")
    waiting = page.locator(".papers.grid a.picture[data-picture]").count()
    shown = page.locator(".papers.grid a.picture img").count()
    assert waiting == 0 and shown == tiles, (waiting, shown, tiles)
    assert len(fetched) == tiles  # each picture once
    shift = page.evaluate("window.__shift")
    assert shift < 0.1, shift  # cumulative layout shift: a picture never moves the page
    context.close()


def test_the_phone_menu_keeps_the_current_page_and_log_out_in_reach(
    browser: Browser, site: Site
) -> None:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    register(page, site)
    page.goto(site.at("/trending"))
    menu = page.locator("button.menu-toggle")
    expect(menu).to_be_visible()
    expect(page.locator("form.logout button")).to_be_hidden()  # folded: papers come first
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    for link in page.locator("header nav a").all():
        box = link.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
    expect(page.locator('header nav a[aria-current="page"]')).to_have_text("Trending")
    expect(page.locator("form.logout button")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.locator("header nav a").first.focus()
    page.keyboard.press("Escape")
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(menu).to_be_focused()
    context.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1366", "390"])
def test_the_paper_page_reads_title_authors_buttons_picture_abstract(
    browser: Browser, site: Site, viewport: dict[str, int]
) -> None:
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.goto(site.at(f"/papers/{MATH_ARXIV_ID}"))
    top = {
        part: page.locator(f"article.paper.full {selector}").first.bounding_box()
        for part, selector in [
            ("title", "h1"),
            ("authors", ".authors"),
            ("buttons", ".actions"),
            ("picture", ".paper-body .picture"),
            ("abstract", ".abstract"),
        ]
    }
    assert all(top.values()), top
    y = {part: box["y"] for part, box in top.items() if box}
    assert y["title"] < y["authors"] < y["buttons"] < y["picture"] <= y["abstract"] + 1, y
    actions = page.locator("article.paper.full .actions")
    expect(actions.get_by_role("link", name="arXiv")).to_be_visible()
    expect(actions.get_by_role("link", name="PDF")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    context.close()
