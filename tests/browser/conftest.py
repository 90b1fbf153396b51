"""Real-browser fixtures: the real server (`papertide serve`) and Debian's Chromium via Playwright.

The server runs in a subprocess on 127.0.0.1 over a temporary data folder filled by
`papertide ingest --samples` plus a tiny JSON-lines file with TeX in it (every paper but that
one with a picture drawn from a paper-like PDF), with two worker
processes (`serve --workers 2`, as a public site runs) and its mail going to an SMTP server
on loopback (aiosmtpd) whose mailbox the tests read. Playwright drives /usr/bin/chromium
(installed by scripts/services.sh); it never downloads a browser.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest
from aiosmtpd.controller import Controller
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests.support.smtp_server import SmtpSink

CHROMIUM = Path(os.environ.get("PAPERTIDE_CHROMIUM", "/usr/bin/chromium"))
# The network is closed: without these Chromium keeps trying to reach Google's services.
CHROMIUM_ARGS = [
    "--no-sandbox",  # needed as root (CI runs as root)
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MATH_ARXIV_ID = "2001.00042"
MATH_TITLE = r"$\mathbb{USCD}$: Sparse Attention in $O(n \log n)$"
PASSWORD = "correct horse battery staple"
SERVER_START_SECONDS = 180  # the index builds at start: slow on a loaded 2-core machine
WORKERS = 2


@dataclass(frozen=True)
class Site:
    """The running server: its base URL (no trailing slash) and its data folder."""

    url: str
    data_dir: Path
    pid: int
    mailbox: SmtpSink

    def at(self, path: str) -> str:
        """The absolute URL of ``path`` on this site."""
        return self.url + path


def _papertide(*args: str, env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "papertide", *args],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _math_papers(path: Path) -> Path:
    rows = [
        {
            "title": MATH_TITLE,
            "abstract": "We bound the cost by $O(n \\log n)$ and show $$\\sum_{i=1}^{n} a_i^2 "
            "\\le \\lambda$$ for every head, so attention stays sparse & fast.",
            "authors": ["Ada Lovelace", "Alan Turing"],
            "arxiv_id": MATH_ARXIV_ID,
            "categories": ["cs.LG"],
            "published": "2020-01-02T10:00:00Z",
        }
    ]
    path.write_bytes(b"\n".join(orjson.dumps(row) for row in rows) + b"\n")
    return path


def _add_pictures(data_dir: Path) -> None:
    """Pictures for every paper but the one with math (which keeps its drawn cover)."""
    from sqlalchemy import select

    from papertide.bench.pdfs import add_drawn_pictures
    from papertide.config import Settings
    from papertide.store import Store
    from papertide.store.schema import papers

    store = Store.open(Settings(data_dir=data_dir).resolved_database_url)
    try:
        with store.engine.connect() as conn:
            found = conn.scalars(select(papers.c.pk).where(papers.c.id != MATH_ARXIV_ID)).all()
        add_drawn_pictures(store, list(found))
    finally:
        store.close()


def _every_worker_ready(url: str) -> bool:
    """Whether a run of answers (from whichever workers took them) all say the search index
    caught up: each worker follows the store on its own."""
    for _ in range(4 * WORKERS):
        index = httpx.get(url + "/healthz", timeout=2).json().get("index", {})
        if not (index.get("ready") and index.get("lag") == 0):
            return False
    return True


def _wait_until_up(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"papertide serve exited {server.returncode}:\n{log.read_text()}")
        try:
            if _every_worker_ready(url):
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(
        f"papertide serve did not answer in {SERVER_START_SECONDS} s:\n{log.read_text()}"
    )


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The real server over sample papers plus one paper with TeX, on an ephemeral port."""
    root = tmp_path_factory.mktemp("site")
    env = {
        **os.environ,
        "PAPERTIDE_DATA_DIR": str(root / "data"),
        "PAPERTIDE_RATE_LIMIT_PER_HOUR": "1000",
        # Old sample days still trend, so /trending has papers to show.
        "PAPERTIDE_TRENDING_WINDOW_DAYS": "100000",
        # No network here: a refused loopback port makes "could not fetch" quick and certain.
        "PAPERTIDE_SYNC__ARXIV_API_URL": "http://127.0.0.1:9/api/query",
        "PAPERTIDE_SYNC__RETRIES": "0",
    }
    env.pop("PAPERTIDE_DATABASE_URL", None)
    mailbox = SmtpSink(port=_free_port())
    smtp = Controller(mailbox, hostname="127.0.0.1", port=mailbox.port)
    smtp.start()
    env |= {
        "PAPERTIDE_MAIL__SMTP_HOST": "127.0.0.1",
        "PAPERTIDE_MAIL__SMTP_PORT": str(mailbox.port),
    }
    _papertide("ingest", "--samples", "--quiet", env=env)
    _papertide("ingest", "--quiet", str(_math_papers(root / "math.jsonl")), env=env)
    _add_pictures(root / "data")
    log = root / "server.log"
    for _attempt in range(3):  # the free port can be taken between choosing and binding it
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        env["PAPERTIDE_MAIL__BASE_URL"] = url  # links in mails lead back here
        command = [sys.executable, "-m", "papertide", "serve", "--host", "127.0.0.1"]
        with log.open("wb") as out:
            server = subprocess.Popen(
                [*command, "--port", str(port), "--workers", str(WORKERS)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            _wait_until_up(url, server, log)
        except RuntimeError:
            server.terminate()
            server.wait(timeout=10)
            if "address already in use" in log.read_text().lower():
                continue
            raise
        break
    else:
        raise RuntimeError(f"no free port for papertide serve:\n{log.read_text()}")
    try:
        yield Site(url=url, data_dir=root / "data", pid=server.pid, mailbox=mailbox)
    finally:
        smtp.stop()
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Playwright]:
    """Playwright's sync API (its driver ships in the wheel; no browser download)."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: run scripts/services.sh (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    """Headless Debian Chromium, started once per test process."""
    launched = playwright_driver.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )
    yield launched
    launched.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile (no cookies) with a phone-or-laptop neutral viewport."""
    made = browser.new_context(viewport={"width": 1000, "height": 800})
    made.set_default_timeout(10_000)
    yield made
    made.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    """A page that fails the test on any uncaught script error (CSP violations included)."""
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    opened.on(
        "console",
        lambda msg: (
            errors.append(msg.text)
            if msg.type == "error" and "Content Security Policy" in msg.text
            else None
        ),
    )
    yield opened
    assert errors == [], f"script errors on {opened.url}: {errors}"


def register(page: Page, site: Site) -> str:
    """Create an account through the /register form (which signs in) and return its name."""
    username = "reader" + uuid.uuid4().hex[:8]
    page.goto(site.at("/register"))
    page.fill("input[name=username]", username)
    page.fill("input[name=email]", f"{username}@example.org")
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.press("input[name=password]", "Enter")
    assert page.locator("form.logout").count() == 1, f"not signed in after /register: {page.url}"
    return username
