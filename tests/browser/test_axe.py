"""Accessibility and weight in Chromium: axe-core finds no serious or critical violation (nor
a heading out of order) on any kind of page, at laptop and phone size, light and dark, and
no page scrolls sideways; the home page's transfer on a first and a repeat visit, its
pictures included (printed, and held to 150 KB and 30 KB)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from papertide.clock import utcnow
from papertide.config import Settings
from papertide.mail.digest import links_for
from papertide.mail.records import Preferences
from papertide.store import Store
from papertide.store import subscriptions as subs
from tests.browser.conftest import MATH_ARXIV_ID, Site, register

pytestmark = pytest.mark.browser

# Installed by scripts/services.sh (npm, pinned); read from disk, never from the network.
AXE_JS = Path(
    os.environ.get(
        "PAPERTIDE_AXE_JS", "/tmp/papertide-services/npm/node_modules/axe-core/axe.min.js"
    )
)
VIEWPORTS = {"laptop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
FIRST_VISIT_LIMIT = 150 * 1024  # with the first screen's pictures
REPEAT_VISIT_LIMIT = 30 * 1024


@pytest.fixture(scope="module")
def axe_js() -> Path:
    """axe.min.js from the services folder (skip, or fail on CI, when it is missing)."""
    if not AXE_JS.is_file():
        message = f"{AXE_JS} is missing: run scripts/services.sh (npm install axe-core)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return AXE_JS


def _preferences_path(site: Site) -> str:
    """The signed preferences address of a confirmed subscriber (as a digest links it)."""
    settings = Settings(data_dir=site.data_dir)
    store = Store.open(settings.resolved_database_url)
    try:
        sub, _ = subs.subscribe(
            store,
            email="axe@example.org",
            prefs=Preferences(queries=["sparse attention"]),
            now=utcnow(),
            limit=settings.mail.confirm_limit,
            window=timedelta(hours=settings.mail.confirm_window_hours),
        )
        url = links_for(settings, store).signed(
            "prefs", "/subscription", subscriber_pk=sub.pk, email=sub.email
        )
    finally:
        store.close()
    return "/subscription/" + url.rsplit("/subscription/", 1)[1]


def _author_path(site: Site) -> str:
    """The page of the first author of the paper with math (the site's seeds)."""
    store = Store.open(Settings(data_dir=site.data_dir).resolved_database_url)
    try:
        found = store.get_paper(MATH_ARXIV_ID)
    finally:
        store.close()
    assert found is not None and found.authors
    return "/authors/" + quote(found.authors[0], safe="")


def _pages(site: Site) -> dict[str, str]:
    return {
        "home": "/",
        "week": "/papers/week/2026-W11",
        "month": "/papers/month/2026-03",
        "trending": "/trending",
        "search": "/search?q=attention&sort=date",
        "paper": f"/papers/{MATH_ARXIV_ID}",
        "author": _author_path(site),
        "login": "/login",
        "register": "/register",
        "subscribe": "/subscribe?q=attention",
        "preferences": _preferences_path(site),
        "error": "/papers/no-such-paper-here",
    }


def _social_pages_filled(page: Page, site: Site) -> None:
    """A list with a paper in it, and a comment with math on the paper page (so the
    discussion, the list page and For you are checked with content, not empty)."""
    page.goto(site.at("/lists"))
    page.fill("input[name=name]", "Axe picks")
    with page.expect_navigation():
        page.press("input[name=name]", "Enter")
    page.goto(site.at(f"/papers/{MATH_ARXIV_ID}"))
    # The new-comment form by its label: once comments exist, their reply and edit forms
    # (folded away) hold textareas too.
    page.get_by_label("Your comment", exact=True).fill("Is it *tight*? $O(n \\log n)$")
    with page.expect_navigation():
        page.get_by_role("button", name="Post comment").click()
    page.locator("form.save button").first.click()
    with page.expect_response(lambda r: "/papers/" in r.url and r.request.method == "PUT"):
        page.locator(".save-menu").get_by_label("Axe picks").check()


def _serious(page: Page, axe: Path) -> list[str]:
    page.add_script_tag(path=str(axe))
    result = page.evaluate(
        "axe.run(document, {resultTypes: ['violations']}).then(r => r.violations"
        ".filter(v => ['serious', 'critical'].includes(v.impact) || v.id === 'heading-order')"
        ".map(v => v.id + ' (' + v.impact + '): ' + v.help + ' -> '"
        " + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | ')))"
    )
    return list(result)


@pytest.fixture
def signed_in(browser: Browser, site: Site) -> Iterator[tuple[BrowserContext, str]]:
    """A profile signed in as a fresh account, and the account's name."""
    made = browser.new_context(bypass_csp=True)  # axe is injected as a script tag
    page = made.new_page()
    name = register(page, site)
    page.close()
    yield made, name
    made.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_no_serious_accessibility_violations_on_any_page(
    signed_in: tuple[BrowserContext, str], site: Site, axe_js: Path, size: str, scheme: str
) -> None:
    context, name = signed_in
    page = context.new_page()
    _social_pages_filled(page, site)
    pages = {
        **_pages(site),
        "submit": "/submit",
        "profile": f"/users/{name}",
        "lists": "/lists",
        "list": f"/users/{name}/lists/axe-picks",
        "for you": "/for-you",
    }
    page.set_viewport_size(VIEWPORTS[size])
    page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
    found = {}
    for kind, path in pages.items():
        page.goto(site.at(path), wait_until="networkidle")
        wide = page.evaluate("document.documentElement.scrollWidth")
        if wide > VIEWPORTS[size]["width"]:  # the page would scroll sideways
            found[f"{kind} width"] = [f"{wide} px wide at {VIEWPORTS[size]['width']}"]
        if problems := _serious(page, axe_js):
            found[kind] = problems
    page.close()
    assert found == {}, found


def test_no_serious_violations_signed_out(browser: Browser, site: Site, axe_js: Path) -> None:
    """The header and cards as a visitor sees them (Log in, Register; no profile link)."""
    context = browser.new_context(viewport=VIEWPORTS["phone"], bypass_csp=True)
    page = context.new_page()
    found = {}
    for kind in ("home", "search", "paper", "error"):
        page.goto(site.at(_pages(site)[kind]), wait_until="networkidle")
        if problems := _serious(page, axe_js):
            found[kind] = problems
    context.close()
    assert found == {}, found


def _transferred(page: Page) -> int:
    """Bytes on the wire for the page and everything it loaded (Resource Timing)."""
    return int(
        page.evaluate(
            "[...performance.getEntriesByType('navigation'),"
            " ...performance.getEntriesByType('resource')]"
            ".reduce((sum, e) => sum + e.transferSize, 0)"
        )
    )


def test_home_page_weighs_little_on_first_and_repeat_visits(
    browser: Browser, site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    context = browser.new_context(viewport=VIEWPORTS["laptop"])
    page = context.new_page()
    page.goto(site.at("/"), wait_until="networkidle")
    first = _transferred(page)
    pictures = page.evaluate(
        "performance.getEntriesByType('resource').filter(e => e.name.includes('/pictures/')).length"
    )
    page.goto(site.at("/trending"), wait_until="networkidle")  # another page between
    page.goto(site.at("/"), wait_until="networkidle")
    repeat = _transferred(page)
    cached = page.evaluate(
        "performance.getEntriesByType('resource').filter(e => e.transferSize === 0).length"
    )
    context.close()
    with capsys.disabled():
        print(
            f"\nhome page transfer: first visit {first} B with {pictures} pictures, "
            f"repeat visit {repeat} B"
        )
    assert pictures >= 8, pictures  # the first screen's pictures are part of the weight
    assert cached > 0, "the repeat visit fetched every asset again"
    assert first <= FIRST_VISIT_LIMIT, first
    assert repeat <= REPEAT_VISIT_LIMIT, repeat
