"""The social features in real Chromium against the real server: the Save menu (mouse and
keyboard), a comment with Markdown and math, For you's "Not interested"."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import MATH_ARXIV_ID, Site, register


def test_save_menu_by_keyboard_saves_into_a_list(page: Page, site: Site) -> None:
    name = register(page, site)
    page.goto(site.at("/lists"))
    page.fill("input[name=name]", "Keyboard picks")
    with page.expect_navigation():
        page.press("input[name=name]", "Enter")
    page.goto(site.at(f"/papers/{MATH_ARXIV_ID}"))
    save = page.locator("form.save button").first
    save.focus()
    page.keyboard.press("Enter")
    menu = page.locator(".save-menu")
    expect(menu).to_be_visible()
    box = menu.get_by_label("Keyboard picks")
    expect(box).to_be_focused()
    with page.expect_response(lambda r: "/papers/" in r.url and r.request.method == "PUT"):
        page.keyboard.press("Space")
    expect(box).to_be_checked()
    page.keyboard.press("Escape")
    expect(menu).to_have_count(0)
    expect(save).to_be_focused()
    page.goto(site.at(f"/users/{name}/lists/keyboard-picks"))
    expect(page.locator("article.paper")).to_have_count(1)


def test_save_without_a_session_goes_to_login(page: Page, site: Site) -> None:
    page.goto(site.at(f"/papers/{MATH_ARXIV_ID}"))
    with page.expect_navigation():
        page.locator("form.save button").first.click()
    assert "/login?next=" in page.url


def test_a_comment_with_markdown_and_math_renders_and_replies(page: Page, site: Site) -> None:
    register(page, site)
    page.goto(site.at(f"/papers/{MATH_ARXIV_ID}"))
    # The new-comment form by its label (other tests' comments bring reply forms along).
    typed = "Is the bound *tight*? $O(n \\log n)$ <b>x</b>"
    page.get_by_label("Your comment", exact=True).fill(typed)
    with page.expect_navigation():
        page.get_by_role("button", name="Post comment").click()
    comment = page.locator("#discussion article.comment", has_text="Is the bound")
    expect(comment.locator("em")).to_have_text("tight")
    expect(comment.locator(".katex")).to_have_count(1)
    expect(comment.locator("b")).to_have_count(0)  # typed HTML stays text
    thread = page.locator("#discussion div.thread", has_text="Is the bound")
    thread.locator("details.reply summary").click()
    thread.locator("details.reply textarea").fill("Yes, up to constants.")
    with page.expect_navigation():
        thread.locator("details.reply button").click()
    replied = page.locator("#discussion div.thread", has_text="Is the bound")
    expect(replied.locator(".replies article.comment")).to_have_count(1)
    expect(replied.locator(".replies article.comment")).to_contain_text("Yes, up to constants.")


def _tab_to(page: Page, is_target: str, limit: int = 400) -> None:
    """Press Tab until ``is_target`` (a JS predicate of document.activeElement) holds."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"(el => {is_target})(document.activeElement)"):
            return
    raise AssertionError(f"Tab never reached {is_target}")


def test_a_comment_and_a_reply_by_keyboard_alone(page: Page, site: Site) -> None:
    """Every action works by keyboard alone, commenting included."""
    register(page, site)
    page.goto(site.at(f"/papers/{MATH_ARXIV_ID}"))
    _tab_to(page, "el.labels && [...el.labels].some(l => l.textContent.trim() === 'Your comment')")
    page.keyboard.type("Typed without a mouse, thread one.")
    _tab_to(page, "el.tagName === 'BUTTON' && el.textContent.trim() === 'Post comment'", 5)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    thread = page.locator("#discussion div.thread", has_text="Typed without a mouse, thread one.")
    expect(thread).to_have_count(1)
    _tab_to(
        page,
        "el.tagName === 'SUMMARY' && el.closest('details.reply') !== null"
        " && el.closest('div.thread').textContent.includes('thread one')",
    )
    page.keyboard.press("Enter")  # opens the reply form
    _tab_to(page, "el.tagName === 'TEXTAREA'", 5)
    page.keyboard.type("A reply, by keyboard too.")
    _tab_to(page, "el.tagName === 'BUTTON'", 5)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    replied = page.locator("#discussion div.thread", has_text="thread one")
    expect(replied.locator(".replies article.comment")).to_contain_text("A reply, by keyboard")
