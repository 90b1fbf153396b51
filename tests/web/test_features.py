"""The site is made of features, each one module that declares its routes, cached pages,
larger bodies and navigation links: a new page needs no registration anywhere else, routes
are tried most specific first whatever order the features come in, and features never
import each other."""

from __future__ import annotations

import ast
import random
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import APIRouter

from papertide.config import Settings
from papertide.store import Store
from papertide.web import create_app
from papertide.web.feature import FEATURES, Feature, PathSet, load_features, route_paths
from tests.conftest import serving
from tests.support.search_corpus import add_papers, paper

WEB = Path(__file__).resolve().parents[2] / "src" / "papertide" / "web"

DEVELOPMENT = Path(__file__).resolve().parents[2] / "docs" / "development.md"


def _documented_example() -> tuple[str, str]:
    """The worked example of a new page in docs/development.md: its module and its template."""
    text = DEVELOPMENT.read_text(encoding="utf-8")
    start = text.index("## Adding a page")
    module = re.search(r"```python\n(.*?)```", text[start:], re.S)
    template = re.search(r"```html\n(.*?)```", text[start:], re.S)
    assert module and template, "docs/development.md lost its example of a new page"
    return module[1], template[1]


@pytest.fixture
def extra_package(tmp_path: Path) -> Iterator[str]:
    """A package of features beside the site's, importable for this test only."""
    name = f"extra_features_{random.randrange(1 << 30)}"
    package = tmp_path / name
    package.mkdir()
    (package / "__init__.py").write_text("")
    module, template = _documented_example()
    (package / "archive.py").write_text(module)
    # In the site's tree the template goes in web/templates/; a package may carry its own.
    (package / "templates").mkdir()
    (package / "templates" / "archive.html").write_text(template)
    sys.path.insert(0, str(tmp_path))
    try:
        yield name
    finally:
        sys.path.remove(str(tmp_path))
        for module in [m for m in sys.modules if m.startswith(name)]:
            del sys.modules[module]


def test_the_documented_example_page_is_served_with_its_nav_link_and_cache(
    settings: Settings, extra_package: str
) -> None:
    store = Store.open(settings.resolved_database_url)
    add_papers(
        store,
        settings,
        [
            paper(1, "Sparse attention", "A.", "Ada", "cs.CL", "2026-03-12"),
            paper(2, "Dense retrieval", "B.", "Bo", "cs.IR", "2026-03-14"),
            paper(3, "State space models", "C.", "Cy", "cs.LG", "2026-03-14"),
        ],
    )
    store.close()
    app = create_app(settings, feature_packages=(FEATURES, extra_package))
    with serving(app) as client:
        first = client.get("/archive")
        assert first.status_code == 200
        assert '<a href="/papers/date/2026-03-12">2026-03-12</a> 1 paper' in first.text
        assert '<a href="/archive" aria-current="page">Archive</a>' in first.text
        assert client.get("/api/archive").json() == {"2026-03-14": 2, "2026-03-12": 1}
        home = client.get("/")
        nav = re.findall(r'<a href="(/[a-z-]*)"[^>]*>', home.text.split('aria-label="Site"')[1])
        assert nav[:5] == ["/", "/trending", "/search", "/archive", "/submit"]
        again = client.get("/archive")
        assert "cache;desc=hit" in again.headers["server-timing"]


def test_the_api_docs_show_the_json_api_only(settings: Settings) -> None:
    paths = sorted(create_app(settings).openapi()["paths"])
    assert paths and all(p.startswith("/api/") or p == "/healthz" for p in paths), paths
    assert "/api/search" in paths and "/api/authors/{name}" in paths


def test_a_declared_path_that_is_not_a_route_is_refused() -> None:
    router = APIRouter()

    @router.get("/here")
    def here() -> str:
        return "here"

    with pytest.raises(ValueError, match="cached path '/there' is not a GET route"):
        Feature(name="typo", routers=(router,), cached=("/there",)).check()
    with pytest.raises(ValueError, match="'/here' takes no body"):
        Feature(name="typo", routers=(router,), larger_bodies={"/here": 4}).check()


def test_every_module_of_web_features_declares_a_feature() -> None:
    names = {f.name for f in load_features()}
    expected = {
        *("feeds", "trending", "search", "papers", "submit", "discussion", "lists"),
        *("accounts", "authors", "subscriptions", "for-you", "health", "pictures"),
    }
    assert names == expected


# Addresses two routes could both take, and what the more specific one answers.
AMBIGUOUS = [
    ("GET", "/papers/date/2025-03-12", 200, "Wednesday, March 12, 2025"),
    ("GET", "/papers/cs/0101001", 404, "No paper &#39;cs/0101001&#39; here."),  # old-style id
    ("GET", "/api/papers/cs/0101001/similar", 404, "No paper 'cs/0101001' here."),
    ("GET", "/api/papers/2501.00001/comments", 404, "No paper '2501.00001' here."),
    ("GET", "/authors/Nobody.atom", 404, "No papers by Nobody here."),
    ("GET", "/users/ada/lists/reading.atom", 404, "No list ada/reading here."),
    ("GET", "/users/ada/lists/reading.bib", 404, "No list ada/reading here."),
    ("POST", "/papers/cs/0101001/vote", 403, "CSRF"),
    ("POST", "/papers/2501.00001/comments", 403, "CSRF"),
]


@pytest.mark.parametrize("seed", range(3))
def test_routes_are_tried_most_specific_first_whatever_the_feature_order(
    settings: Settings, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    def shuffled(packages: tuple[str, ...]) -> list[Feature]:
        features = load_features(packages)
        random.Random(seed).shuffle(features)
        return features

    monkeypatch.setattr("papertide.web.app.load_features", shuffled)
    with serving(create_app(settings)) as client:
        for method, path, status, says in AMBIGUOUS:
            answer = client.request(method, path)
            assert (answer.status_code, says in answer.text) == (status, True), (method, path)


def test_cached_and_larger_body_paths_match_only_their_routes() -> None:
    features = load_features()
    cached = PathSet((path for f in features for path in f.cached), among=route_paths(features))
    for public in ("/", "/trending", "/search", "/papers/2501.00001", "/api/daily"):
        assert public in cached
    assert "/users/ada/lists/reading.atom" in cached and "/feeds/search.atom" in cached
    for private in ("/for-you", "/lists", "/submit", "/login", "/api/for-you", "/subscribe"):
        assert private not in cached
    assert "/api/users/ada/lists/reading" not in cached  # the JSON of a list: never kept
    # answered by a route of its own, not by the paper page whose pattern also matches it
    assert "/papers/2501.00001/cover.svg" not in cached


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_web_features_never_import_each_other() -> None:
    root = WEB / "features"
    features = {p.stem if p.is_file() else p.name for p in root.iterdir()}
    features -= {"__init__", "__pycache__"}
    offenders = []
    for path in sorted(root.rglob("*.py")):
        own = path.relative_to(root).parts[0].removesuffix(".py")
        for name in _imports(path):
            parts = name.split(".")
            inside = parts[:3] == ["papertide", "web", "features"] and len(parts) > 3
            if inside and parts[3] != own and parts[3] in features:
                offenders.append(f"{path.relative_to(WEB)} imports {name}")
    assert offenders == []


def test_shared_web_helpers_never_import_a_feature() -> None:
    offenders = [
        f"{path.name} imports {name}"
        for path in sorted(WEB.glob("*.py"))
        for name in _imports(path)
        if name.startswith("papertide.web.features.")
    ]
    assert offenders == []
