"""Static assets and compression through the running app: hashed names, Cache-Control,
gzip, ETags, KaTeX only on pages with math, the inline start-up script's CSP hash, and
pages compressed except for cross-site requests with cookies (BREACH)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from papertide.config import Settings
from papertide.ingest import IngestOptions, ingest_paths
from papertide.store import Store
from papertide.web import create_app
from papertide.web.assets import IMMUTABLE, Assets, has_math
from tests.conftest import serving

STATIC = Path(__file__).parents[2] / "src" / "papertide" / "web" / "static"
MATH_ID = "2001.00042"


@pytest.fixture
def client(settings: Settings, seeds: list[Path], tmp_path: Path) -> Iterator[TestClient]:
    """The app over the seed papers plus one paper with TeX in its title."""
    math = tmp_path / "math.jsonl"
    row = {
        "title": r"Bounds in $O(n \log n)$",
        "abstract": "Fast.",
        "arxiv_id": MATH_ID,
        "published": "2024-01-10",  # filed before the captures: not on the home page
    }
    math.write_bytes(orjson.dumps(row) + b"\n")
    store = Store.open(settings.resolved_database_url)
    ingest_paths(store, [*seeds, math], settings=settings, options=IngestOptions(page_year=2025))
    with serving(create_app(settings)) as made:
        yield made
    store.close()


def _asset_urls(html: str) -> list[str]:
    return re.findall(r'(?:href|src)="(/static/[^"]+)"', html)


def test_pages_link_hashed_assets_served_immutable_and_gzipped(client: TestClient) -> None:
    home = client.get("/")
    urls = _asset_urls(home.text)
    css = next(u for u in urls if u.startswith("/static/site."))
    digest = hashlib.sha256((STATIC / "site.css").read_bytes()).hexdigest()[:10]
    assert css == f"/static/site.{digest}.css"
    for url in urls:
        answer = client.get(url, headers={"Accept-Encoding": "gzip"})
        assert answer.status_code == 200, url
        assert answer.headers["cache-control"] == IMMUTABLE, url
    answer = client.get(css, headers={"Accept-Encoding": "gzip"})
    assert answer.headers["content-encoding"] == "gzip"
    assert answer.headers["vary"] == "Accept-Encoding"
    assert int(answer.headers["content-length"]) < (STATIC / "site.css").stat().st_size / 2
    assert answer.content == (STATIC / "site.css").read_bytes()  # httpx un-gzips it
    plain = client.get(css, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.content == answer.content
    assert plain.headers["content-type"] == "text/css; charset=utf-8"


def test_plain_and_stale_addresses_revalidate_and_nothing_else_is_served(
    client: TestClient,
) -> None:
    plain = client.get("/static/app.js")
    assert plain.status_code == 200 and plain.headers["cache-control"] == "no-cache"
    again = client.get("/static/app.js", headers={"If-None-Match": plain.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    # A hash that is not the current file's (a page from another version of the site): the
    # current file, never pinned for a year.
    stale = client.get("/static/app.0123456789.js")
    assert stale.status_code == 200 and stale.headers["cache-control"] == "no-cache"
    for missing in ("/static/nope.css", "/static/../__init__.py", "/static/%2e%2e/deps.py"):
        assert client.get(missing).status_code == 404, missing


def test_katex_stylesheet_points_at_hashed_fonts() -> None:
    assets = Assets(STATIC)
    css = assets.files["katex/katex.min.css"].body.decode()
    fonts = re.findall(r"url\(([^)]+)\)", css)
    assert fonts and all(re.fullmatch(r"fonts/KaTeX_[\w-]+\.[0-9a-f]{10}\.woff2", f) for f in fonts)
    for font in fonts:
        found = assets.find(f"katex/{font}")
        assert found is not None and found[1], font  # the current hash: immutable


def test_katex_loads_only_on_pages_with_math(client: TestClient) -> None:
    home = client.get("/").text
    assert not has_math(home.split("<main", 1)[1])
    assert "katex" not in home
    paper = client.get(f"/papers/{MATH_ID}").text
    assert re.search(r'src="/static/katex/katex\.min\.[0-9a-f]{10}\.js"', paper)
    assert re.search(r'href="/static/katex/katex\.min\.[0-9a-f]{10}\.css"', paper)


def test_the_inline_start_up_script_is_allowed_by_its_hash_alone(client: TestClient) -> None:
    answer = client.get("/login")
    inline = re.findall(r"<script>(.*?)</script>", answer.text, re.S)
    assert len(inline) == 1
    digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()
    scripts = answer.headers["content-security-policy"].split("script-src", 1)[1].split(";")[0]
    assert scripts.split() == ["'self'", f"'sha256-{digest}'"]


def test_pages_are_gzipped_but_not_for_cross_site_requests_with_cookies(
    client: TestClient,
) -> None:
    gz = {"Accept-Encoding": "gzip"}
    first = client.get("/", headers=gz)  # no cookie yet: nothing to steal
    assert first.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in first.headers["vary"]
    assert client.cookies.get("pt_csrf")
    same = client.get("/", headers={**gz, "Sec-Fetch-Site": "same-origin"})
    assert same.headers["content-encoding"] == "gzip"
    # The shape of a BREACH probe: another site's page makes the browser send its cookies.
    for _ in range(2):  # rendered, then from the page cache (which gzips its own answers)
        probe = client.get("/search?q=x", headers={**gz, "Sec-Fetch-Site": "cross-site"})
        assert probe.status_code == 200 and "content-encoding" not in probe.headers
    assert "cache;desc=hit" in probe.headers["server-timing"]
    api = client.get("/api/daily", headers=gz)
    assert api.headers["content-encoding"] == "gzip"
    assert gzip.decompress(gzip.compress(api.content)) == api.content
