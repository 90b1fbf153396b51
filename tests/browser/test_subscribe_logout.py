"""In Chromium against `serve --workers 2`: subscribing through the form and confirming
through the link in the mail the site sent, logging out, and the two workers themselves."""

from __future__ import annotations

import re
import time
import uuid
from email.message import EmailMessage
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine, select

from papertide.store.schema import subscribers
from tests.browser.conftest import WORKERS, Site, register

pytestmark = pytest.mark.browser


def _mail_to(site: Site, address: str, timeout: float = 30.0) -> EmailMessage:
    deadline = time.monotonic() + timeout
    while True:
        found = [m for m in site.mailbox.received if m["To"] == address]
        if found:
            [mail] = found
            return mail
        assert time.monotonic() < deadline, f"no mail to {address}"
        time.sleep(0.1)


def _status(site: Site, address: str) -> str | None:
    engine = create_engine(f"sqlite:///{site.data_dir / 'papertide.db'}")
    try:
        with engine.connect() as conn:
            query = select(subscribers.c.status).where(subscribers.c.email == address)
            return conn.scalar(query)
    finally:
        engine.dispose()


def test_subscribe_through_the_form_and_confirm_through_the_mailed_link(
    page: Page, site: Site
) -> None:
    address = f"reader-{uuid.uuid4().hex[:8]}@example.org"
    page.goto(site.at("/"))
    page.fill("form.subscribe input[name=email]", address)
    with page.expect_navigation():
        page.press("form.subscribe input[name=email]", "Enter")
    expect(page.locator("main")).to_contain_text("Check your inbox")
    mail = _mail_to(site, address)
    assert "Confirm" in str(mail["Subject"])
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    link = re.search(rf"{re.escape(site.url)}/subscribe/confirm/\S+", text)
    assert link, text
    assert _status(site, address) == "pending"
    page.goto(link.group(0))  # opening the link alone changes nothing (link scanners)
    assert _status(site, address) == "pending"
    with page.expect_navigation():
        page.get_by_role("button", name="Confirm").click()
    expect(page.locator("main")).to_contain_text("Subscribed")
    assert _status(site, address) == "active"


def test_log_out_ends_the_session_on_every_worker(page: Page, site: Site) -> None:
    register(page, site)
    session = next(c for c in page.context.cookies() if c["name"] == "pt_session")
    with page.expect_navigation():
        page.locator("form.logout button").click()
    expect(page.get_by_role("link", name="Log in")).to_be_visible()
    assert page.locator("form.logout").count() == 0
    for _ in range(2 * WORKERS):  # whichever worker answers, the old cookie opens nothing
        page.context.add_cookies([session])  # type: ignore[list-item]
        page.goto(site.at("/"))
        assert page.locator("form.logout").count() == 0
    page.goto(site.at("/submit"))
    assert "/login" in page.url


def test_the_site_runs_on_two_worker_processes(site: Site) -> None:
    children = Path(f"/proc/{site.pid}/task/{site.pid}/children").read_text().split()
    workers = [c for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]
    assert len(workers) == WORKERS
