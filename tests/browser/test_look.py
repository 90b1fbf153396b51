"""Look and feel in Chromium: the search form at phone width, keyboard use of the votes,
layout shift, the dark theme and compact list toggles, the phone header."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect

from tests.browser.conftest import MATH_ARXIV_ID, Site, register

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 812}
LAPTOP = {"width": 1366, "height": 900}

# Cumulative layout shift as Chromium reports it (web.dev/articles/cls: the sum of
# layout-shift entries without recent input), collected from before the first paint.
CLS_OBSERVER = """
window.__cls = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) if (!entry.hadRecentInput) window.__cls += entry.value;
}).observe({ type: "layout-shift", buffered: true });
"""


@pytest.fixture
def phone(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh profile at an iPhone-sized viewport."""
    made = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    made.set_default_timeout(10_000)
    yield made
    made.close()


def _box(page: Page, selector: str) -> dict[str, float]:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} is not laid out"
    return box


@pytest.mark.parametrize("viewport", [PHONE, LAPTOP], ids=["375x812", "1366x900"])
def test_search_form_keeps_its_shape_with_filters_open(
    browser: Browser, site: Site, viewport: dict[str, int]
) -> None:
    """With Filters open the box keeps its width and the button its height, beside it (at
    375 px the box once shrank to ~20 px and the button stretched tall)."""
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.goto(site.at("/search?q=attention&sort=date"))
    expect(page.locator("form.search details")).to_have_attribute("open", "")
    form, box = _box(page, "form.search"), _box(page, "form.search input[name=q]")
    button = _box(page, "form.search > button[type=submit]")
    assert box["width"] >= 0.6 * form["width"], (box, form)
    assert box["width"] >= 200, box
    assert button["height"] <= box["height"] + 4, (button, box)
    assert abs(button["y"] - box["y"]) < 4, "the button is not beside the box"
    filters = _box(page, "form.search details")
    assert filters["y"] >= box["y"] + box["height"], "the filters are not below the box"
    context.close()


def test_keyboard_skip_link_then_vote_keeps_focus(page: Page, site: Site) -> None:
    """The skip link reaches the first upvote in three Tabs, voting keeps the focus on the
    button, and the button is named after the paper (once: 14 Tabs to the first upvote,
    focus on <body> after voting, and a button announced as "▲")."""
    register(page, site)
    page.goto(site.at("/"))
    page.keyboard.press("Tab")
    expect(page.locator(".skip-link")).to_be_focused()
    expect(page.locator(".skip-link")).to_have_text("Skip to papers")
    page.keyboard.press("Enter")
    tabs = 1
    while tabs < 3 and not page.evaluate("document.activeElement.matches('button.upvote')"):
        page.keyboard.press("Tab")
        tabs += 1
    button = page.locator("article.paper button.upvote").first
    expect(button).to_be_focused()
    assert tabs <= 3
    title = page.locator("article.paper .title a").first.inner_text()
    name = button.get_attribute("aria-label") or ""
    assert name.startswith("Upvote ") and len(name) > len("Upvote ")
    assert title.split()[0] in name  # typeset TeX aside, the name is the paper's title
    card = page.locator("article.paper").first
    count = card.locator(".vote-count")
    before = int(count.inner_text())
    expect(button).to_have_attribute("aria-pressed", "false")
    page.keyboard.press("Enter")
    expect(count).to_have_text(str(before + 1))
    expect(button).to_have_attribute("aria-pressed", "true")
    expect(button).to_be_focused()
    page.keyboard.press("Space")  # and back, still from the keyboard
    expect(count).to_have_text(str(before))
    expect(button).to_be_focused()


def test_a_vote_posted_without_fetch_comes_back_focused(page: Page, site: Site) -> None:
    """The form-post path (app.js falls back on it when fetch fails) keeps the focus too."""
    register(page, site)

    def refuse_fetch(route: Route) -> None:
        if "application/json" in route.request.headers.get("accept", ""):
            route.abort()
        else:
            route.continue_()

    page.route(re.compile(r"/vote$"), refuse_fetch)
    page.goto(site.at("/trending"))
    card = page.locator("article.paper").nth(2)
    paper_id = card.get_attribute("data-paper-id")
    before = int(card.locator(".vote-count").inner_text())
    card.locator("button.upvote").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_load_state()
    focused = page.locator("button.upvote:focus")
    expect(focused).to_have_count(1)
    voted = page.locator(f'article.paper[data-paper-id="{paper_id}"]')
    assert voted.locator("button.upvote").evaluate("b => b === document.activeElement")
    expect(voted.locator(".vote-count")).to_have_text(str(before + 1))
    assert urlsplit(page.url).path == "/trending" and "#" not in page.url


def _cls(context: BrowserContext, url: str) -> float:
    page = context.new_page()
    page.add_init_script(CLS_OBSERVER)
    page.goto(url, wait_until="networkidle")
    page.evaluate("document.fonts.ready.then(() => new Promise(requestAnimationFrame))")
    page.wait_for_load_state("networkidle")
    value = float(page.evaluate("window.__cls"))
    page.close()
    return value


@pytest.mark.parametrize("viewport", [PHONE, LAPTOP], ids=["375x812", "1366x900"])
def test_layout_shift_stays_under_a_tenth(
    browser: Browser, site: Site, viewport: dict[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    """Layout shift stays under 0.1 (once 0.26 on the home page: abstracts clamped by
    deferred JS)."""
    paths = {"home": "/", "search": "/search?q=attention", "paper": f"/papers/{MATH_ARXIV_ID}"}
    figures = {}
    for name, path in paths.items():
        context = browser.new_context(viewport=viewport)  # a first visit: nothing cached
        figures[name] = _cls(context, site.at(path))
        context.close()
    with capsys.disabled():
        print(f"\nCLS at {viewport['width']}x{viewport['height']}: {figures}")
    assert all(value < 0.1 for value in figures.values()), figures


# A list with abstracts (search, lists, similar papers); the day's grid shows none.
LIST_PAGE = "/search?q=attention"


def test_abstracts_are_clamped_before_any_script_runs(browser: Browser, site: Site) -> None:
    context = browser.new_context(java_script_enabled=False, viewport=LAPTOP)
    page = context.new_page()
    page.goto(site.at(LIST_PAGE))
    abstract = page.locator("article.paper .abstract").first
    line = float(abstract.evaluate("a => parseFloat(getComputedStyle(a).lineHeight)"))
    box = abstract.bounding_box()
    assert box is not None and box["height"] <= 3 * line + 2
    expect(page.locator("article.paper button.expand").first).to_be_hidden()  # needs app.js
    context.close()


def _background(page: Page) -> str:
    return str(page.evaluate("getComputedStyle(document.body).backgroundColor"))


def test_dark_theme_follows_the_system_and_the_toggle_is_remembered(page: Page, site: Site) -> None:
    page.goto(site.at("/"))
    light = _background(page)
    page.emulate_media(color_scheme="dark")
    dark = _background(page)
    assert dark != light
    toggle = page.locator('button[data-toggle="theme"]')
    expect(toggle).to_have_attribute("aria-pressed", "true")
    page.emulate_media(color_scheme="light")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    assert _background(page) == dark
    # Remembered, and applied by the inline start-up script, not by app.js: with app.js
    # refused, the next page still opens dark (no flash of the light theme first).
    page.route(re.compile(r"/static/app\.[0-9a-f]+\.js$"), lambda route: route.abort())
    page.goto(site.at("/trending"))
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    assert _background(page) == dark
    page.unroute(re.compile(r"/static/app\.[0-9a-f]+\.js$"))
    page.goto(site.at("/"))
    page.locator('button[data-toggle="theme"]').click()  # back to light: the system's choice
    assert page.evaluate("localStorage.getItem('pt-theme')") is None
    assert _background(page) == light


def test_compact_list_hides_abstracts_and_is_remembered(page: Page, site: Site) -> None:
    page.goto(site.at(LIST_PAGE))
    card = page.locator("article.paper").first
    tall = card.bounding_box()
    expect(card.locator(".abstract")).to_be_visible()
    page.locator('button[data-toggle="density"]').click()
    expect(card.locator(".abstract")).to_be_hidden()
    short = card.bounding_box()
    assert tall is not None and short is not None and short["height"] < tall["height"] / 2
    page.reload()
    expect(page.locator("article.paper .abstract").first).to_be_hidden()
    expect(page.locator('button[data-toggle="density"]')).to_have_attribute("aria-pressed", "true")


def test_phone_header_leaves_the_first_screen_to_papers(phone: BrowserContext, site: Site) -> None:
    page = phone.new_page()
    page.goto(site.at("/"))
    expect(page.locator("header form.site-search input[name=q]")).to_be_visible()
    expect(page.locator("header nav")).to_be_hidden()  # behind the Menu button
    first = _box(page, "article.paper")
    assert first["y"] < PHONE["height"] * 0.4, first
    # The digest's form is at the foot of the page, not above the papers.
    assert _box(page, "form.subscribe")["y"] > _box(page, "#papers")["y"]
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], "the page scrolls sideways"


def test_trending_on_a_phone_starts_with_papers_and_folds_its_formula(
    phone: BrowserContext, site: Site
) -> None:
    page = phone.new_page()
    page.goto(site.at("/trending"))
    formula = page.locator("details.formula")
    expect(formula.locator("code").first).to_be_hidden()
    first = _box(page, "article.paper")
    assert first["y"] < PHONE["height"] * 0.5, first
    formula.locator("summary").click()
    expect(formula.locator("code").first).to_be_visible()


def test_bibtex_wraps_inside_its_box_on_a_phone(phone: BrowserContext, site: Site) -> None:
    page = phone.new_page()
    page.goto(site.at(f"/papers/{MATH_ARXIV_ID}"))
    scroll, client = page.evaluate(
        "(() => { const b = document.querySelector('pre.bibtex');"
        " return [b.scrollWidth, b.clientWidth]; })()"
    )
    assert scroll <= client, "the BibTeX box scrolls sideways"
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_every_page_has_a_header_search_and_marks_where_you_are(page: Page, site: Site) -> None:
    page.goto(site.at("/papers/week/2026-W11"))
    expect(page.locator('nav.periods a[aria-current="page"]')).to_have_text("Week")
    expect(page.locator('header nav a[aria-current="page"]')).to_have_text("Daily")
    page.goto(site.at("/trending"))
    expect(page.locator('header nav a[aria-current="page"]')).to_have_text("Trending")
    box = page.get_by_role("search").get_by_role("searchbox", name="Search papers")
    box.fill("attention")
    with page.expect_navigation():
        box.press("Enter")
    assert re.search(r"/search\?q=attention$", page.url)
    expect(page.locator("article.paper").first).to_be_visible()
    expect(page.locator('header nav a[aria-current="page"]')).to_have_text("Search")
    feed = page.get_by_role("link", name="Atom feed of this search")
    assert page.request.get(site.at(feed.get_attribute("href") or "")).status == 200
    page.get_by_role("link", name="Mail me new matches").click()
    expect(page.locator("textarea[name=queries]")).to_have_value("attention")
