"""Render the README's screenshots from the demo, so they never go stale.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots] [--url URL]

Without --url it builds the demo in a temporary folder (`papertide demo`), serves it on a
free loopback port, and shoots pages in Chromium (Debian's /usr/bin/chromium, or
$PAPERTIDE_CHROMIUM) at desktop (1366x900) and phone (390x844) sizes, light and dark. Needs
the dev extra (playwright); `make screenshots` runs it.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

SIZES = {"desktop": (1366, 900), "mobile": (390, 844)}
SCHEMES = ("light", "dark")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _papertide() -> str:
    return str(Path(sys.executable).with_name("papertide"))


@contextmanager
def demo_site() -> Iterator[str]:
    """The demo, built afresh and served on a free loopback port; yields its address."""
    with tempfile.TemporaryDirectory(prefix="papertide-shots-") as folder:
        env = {**os.environ, "PAPERTIDE_DATA_DIR": folder}
        subprocess.run([_papertide(), "demo"], env=env, check=True, stdout=subprocess.DEVNULL)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        server = subprocess.Popen(
            [_papertide(), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(url)
            yield url
        finally:
            server.terminate()
            server.wait(30)


def _wait_ready(url: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            health = httpx.get(f"{url}/healthz", timeout=2).json()
            if health.get("index", {}).get("ready") and not health["index"].get("lag"):
                return
        except (httpx.HTTPError, ValueError, AttributeError):
            pass
        time.sleep(0.3)
    raise SystemExit(f"screenshots: {url} did not become ready in {timeout:.0f} s")


def pages(url: str) -> dict[str, str]:
    """Which pages to shoot: the newest day, trending, a paper with links, search."""
    html = httpx.get(f"{url}/", follow_redirects=True).text
    papers = re.findall(r'href="(/papers/[^"/]+)"', html)
    return {
        "day": "/",
        "trending": "/trending",
        "paper": papers[0] if papers else "/",
        "search": "/search?q=speculative+decoding",
    }


def shoot(url: str, out: Path, only: set[str] | None = None) -> list[Path]:
    """Every page at every size in both schemes; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    chromium = os.environ.get("PAPERTIDE_CHROMIUM", "/usr/bin/chromium")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        for name, path in pages(url).items():
            if only and name not in only:
                continue
            for size, (width, height) in SIZES.items():
                for scheme in SCHEMES:
                    page = browser.new_page(
                        viewport={"width": width, "height": height}, color_scheme=scheme
                    )
                    page.goto(url + path, wait_until="networkidle")
                    target = out / f"{name}-{size}-{scheme}.png"
                    page.screenshot(path=str(target))
                    page.close()
                    written.append(target)
        browser.close()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--url", help="shoot a running site instead of a fresh demo")
    parser.add_argument("--only", nargs="*", help="page names: day trending paper search")
    args = parser.parse_args()
    only = set(args.only) if args.only else None
    if args.url:
        _wait_ready(args.url.rstrip("/"))
        written = shoot(args.url.rstrip("/"), args.out, only)
    else:
        with demo_site() as url:
            written = shoot(url, args.out, only)
    for path in written:
        print(f"{path} ({path.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
