"""Fuzzing the social surfaces and what surrounds a paper, each with strategies of its own:
comments (create, reply, edit, delete with any ids and bodies), lists (names, descriptions,
their page, Atom and BibTeX exports), author pages and claims (any Unicode name), pictures
and covers (any ids and versions), /metrics, and Hub links stored with any repository ids.
Properties: never a 500, never a traceback (in the answer or the log), and each answer
well formed for its type (JSON, HTML without control characters, Atom and SVG that parse
as XML, BibTeX that parses with exactly its entries, Prometheus' text format)."""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import quote

import bibtexparser
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from papertide.config import Settings
from papertide.ingest import IngestOptions, ingest_paths
from papertide.models import HubLinks, HubRepo, is_hub_repo
from papertide.serve_settings import ServeSettings
from papertide.store import Store
from papertide.web import create_app
from tests.conftest import SEEDS, serving
from tests.support.fuzzing import FUZZ

# Any text a person or a source may send: all of Unicode but lone surrogates (which no
# request can carry), with the characters that meant trouble before drawn more often.
TROUBLE = ["\x1b", "\x07", "\x00", "\u202e", "\u2066", "}", "{", "\\input{/etc/passwd}", "@misc{"]
TEXT = st.one_of(
    st.text(st.characters(exclude_categories=("Cs",)), max_size=60),
    st.lists(st.sampled_from([*TROUBLE, "a", " ", "é", "<b>", "$x$", "**"]), max_size=12).map(
        "".join
    ),
)
NAMES = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=40)
IDS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(["1", "2", "0", "-1", "2147483648", "18446744073709551616", "1e3", ""]),
    st.text("0123456789abc.-_%", max_size=24),
)


def _seg(text: str) -> str:
    """``text`` as one segment of a path (percent-encoded, as a browser sends it)."""
    return quote(text, safe="")


def _header(text: str) -> str:
    """``text`` as a header value can carry it (visible ASCII and spaces)."""
    return "".join(c for c in text if " " <= c <= "~").strip()


METRICS_TOKEN = "fuzzing-metrics-token"
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class _Tracebacks(logging.Handler):
    """Every logged record that carries an exception."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.seen.append(f"{record.name}: {record.getMessage()}")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Store, Any]]:
    """The site over the seed captures, one signed-in user; /metrics behind METRICS_TOKEN."""
    local = Settings(
        data_dir=tmp_path_factory.mktemp("fuzz") / "data",
        rate_limit_per_hour=10**6,
        serve=ServeSettings(metrics_token=METRICS_TOKEN),
    )
    store = Store.open(local.resolved_database_url)
    ingest_paths(store, SEEDS, settings=local, options=IngestOptions(page_year=2025))
    watcher = _Tracebacks()
    logging.getLogger().addHandler(watcher)
    try:
        with serving(create_app(local)) as client:
            client.get("/login")
            data = {"username": "fuzzer", "password": "a long fuzzing phrase"}
            answer = client.post("/register", data={**data, "csrf_token": _token(client)})
            assert answer.status_code < 400
            yield client, store, watcher
    finally:
        logging.getLogger().removeHandler(watcher)
        store.close()


def _token(client: TestClient) -> str:
    token = client.cookies.get("pt_csrf")
    assert token
    return token


def _paper(store: Store) -> str:
    return store.list_papers()[0].id or ""


def _clean(site: tuple[TestClient, Store, Any], answer: Any, what: object) -> None:
    """Below 500, no traceback anywhere, and well formed for its content type."""
    _, _, watcher = site
    assert answer.status_code < 500, (what, answer.status_code, answer.text[:300])
    assert watcher.seen == [], (what, watcher.seen)
    assert "Traceback" not in answer.text, what
    kind = answer.headers.get("content-type", "")
    if answer.status_code in (204, 304) or answer.is_redirect:
        return
    if kind.startswith("application/json"):
        body = answer.json()
        if answer.status_code >= 400:
            assert body["error"] and body["status"] == answer.status_code
    elif kind.startswith("text/html"):
        text = answer.text
        assert text.lstrip().lower().startswith("<!doctype html"), what
        assert text.rstrip().endswith("</html>"), what
        assert not CONTROL.search(text), (what, CONTROL.search(text))
    elif "xml" in kind:  # Atom feeds, SVG covers
        ET.fromstring(answer.content)
    elif kind.startswith("application/x-bibtex") or "bibtex" in kind:
        library = bibtexparser.parse_string(answer.text)
        assert not library.failed_blocks, what
    assert answer.status_code < 400 or answer.content, what


COMMENT_ROUTES = [
    ("POST", "/papers/{paper}/comments", "form"),
    ("POST", "/api/papers/{paper}/comments", "json"),
    ("POST", "/comments/{pk}/edit", "form"),
    ("POST", "/comments/{pk}/delete", "form"),
    ("POST", "/comments/{pk}/hide", "form"),
    ("PATCH", "/api/comments/{pk}", "json"),
    ("DELETE", "/api/comments/{pk}", "json"),
    ("POST", "/api/comments/{pk}/hide", "json"),
]


@settings(FUZZ, max_examples=80)
@given(route=st.sampled_from(COMMENT_ROUTES), pk=IDS, body=TEXT, parent=IDS | st.none())
def test_comment_routes_answer_any_id_and_body(
    site: tuple[TestClient, Store, Any],
    route: tuple[str, str, str],
    pk: str,
    body: str,
    parent: str | None,
) -> None:
    """Create, reply to, edit, hide and delete comments with any ids and bodies; then the
    paper's discussion renders, as a page and as JSON."""
    client, store, _ = site
    method, template, kind = route
    paper = _paper(store)
    path = template.format(paper=paper, pk=_seg(pk) or "x")
    fields: dict[str, Any] = {"body": body, "hidden": "true"}
    if parent is not None:
        fields["parent"] = parent
    headers = {"X-CSRF-Token": _token(client)}
    if kind == "form":
        answer = client.request(
            method, path, data={**fields, "csrf_token": _token(client)}, follow_redirects=False
        )
    else:
        answer = client.request(method, path, json=fields, headers=headers)
    _clean(site, answer, (method, path, body, parent))
    _clean(site, client.get(f"/papers/{paper}"), "paper page")
    _clean(site, client.get(f"/api/papers/{paper}/comments"), "comments JSON")


@settings(FUZZ, max_examples=40)
@given(name=TEXT, description=TEXT, public=st.booleans(), new_name=TEXT)
def test_lists_with_any_name_and_description_render_and_export(
    site: tuple[TestClient, Store, Any], name: str, description: str, public: bool, new_name: str
) -> None:
    """A list made and renamed with any text: its page, JSON, Atom feed and BibTeX file are
    well formed (the BibTeX has exactly one entry per saved paper)."""
    client, store, _ = site
    headers = {"X-CSRF-Token": _token(client)}
    made = client.post(
        "/api/lists",
        json={"name": name, "description": description, "public": public},
        headers=headers,
    )
    _clean(site, made, ("new list", name))
    if made.status_code != 201:
        return
    slug = made.json()["slug"]
    base = f"/api/users/fuzzer/lists/{slug}"
    _clean(site, client.put(f"{base}/papers/{_paper(store)}", headers=headers), "save")
    renamed = client.put(
        base,
        json={"name": new_name, "description": description, "public": not public},
        headers=headers,
    )
    _clean(site, renamed, ("rename", new_name))
    for path in (f"/users/fuzzer/lists/{slug}", base, f"/users/fuzzer/lists/{slug}.atom"):
        _clean(site, client.get(path), path)
    exported = client.get(f"/users/fuzzer/lists/{slug}.bib")
    _clean(site, exported, "bib")
    assert len(bibtexparser.parse_string(exported.text).entries) == 1
    _clean(site, client.delete(base, headers=headers), "delete")


@settings(FUZZ, max_examples=60)
@given(owner=NAMES, slug=NAMES, suffix=st.sampled_from(["", ".atom", ".bib"]))
def test_list_addresses_with_any_owner_and_slug_answer_cleanly(
    site: tuple[TestClient, Store, Any], owner: str, slug: str, suffix: str
) -> None:
    client, _, _ = site
    owner, slug = _seg(owner), _seg(slug)
    _clean(site, client.get(f"/users/{owner}/lists/{slug}{suffix}"), (owner, slug, suffix))
    _clean(site, client.get(f"/api/users/{owner}/lists/{slug}"), (owner, slug))


@settings(FUZZ, max_examples=60)
@given(name=NAMES | TEXT.filter(bool), pk=IDS, withdraw=st.booleans(), confirm=TEXT)
def test_author_pages_and_claims_answer_any_unicode_name(
    site: tuple[TestClient, Store, Any], name: str, pk: str, withdraw: bool, confirm: str
) -> None:
    """/authors/NAME as a page, a feed and JSON, and its claim routes, for any name."""
    client, _, _ = site
    name, pk = _seg(name), _seg(pk)
    for path in (f"/authors/{name}", f"/authors/{name}.atom", f"/api/authors/{name}"):
        _clean(site, client.get(path), path)
    form = {"csrf_token": _token(client), "withdraw": str(withdraw).lower()}
    claimed = client.post(f"/authors/{name}/claim", data=form, follow_redirects=False)
    _clean(site, claimed, ("claim", name))
    decided = client.post(
        f"/authors/{name}/claims/{pk or 'x'}",
        data={"csrf_token": _token(client), "confirm": confirm},
        follow_redirects=False,
    )
    _clean(site, decided, ("decide", name, pk))


@settings(FUZZ, max_examples=60)
@given(ref=NAMES | IDS, version=IDS | TEXT, known=st.booleans())
def test_pictures_and_covers_answer_any_id_and_version(
    site: tuple[TestClient, Store, Any], ref: str, version: str, known: bool
) -> None:
    """/pictures/ID.VERSION.webp and /papers/ID/cover.svg for any id and version (and an
    If-None-Match of any text): a picture, a cover that parses as SVG, 304 or 404."""
    client, store, _ = site
    paper = _paper(store) if known else _seg(ref)
    headers = {"If-None-Match": _header(version)}
    ref, version = _seg(ref), _seg(version)
    for path in (
        f"/pictures/{paper}.{version}.webp",
        f"/pictures/{ref}",
        f"/papers/{paper}/cover.svg",
    ):
        answer = client.get(path, headers=headers)
        _clean(site, answer, path)
        if path.endswith("cover.svg") and answer.status_code == 200:
            assert ET.fromstring(answer.content).tag.endswith("svg")


@settings(FUZZ, max_examples=30)
@given(query=TEXT, token=st.just(METRICS_TOKEN) | TEXT, accept=TEXT)
def test_metrics_answers_any_query_token_and_accept(
    site: tuple[TestClient, Store, Any], query: str, token: str, accept: str
) -> None:
    """/metrics: Prometheus' text format, which parses, or a plain 404; never a 500."""
    client, _, _ = site
    latin = {"Authorization": _header(f"Bearer {token}"), "Accept": _header(accept)}
    answer = client.get("/metrics", params={"q": query}, headers=latin)
    _clean(site, answer, "/metrics")
    if _header(f"Bearer {token}") == f"Bearer {METRICS_TOKEN}":
        assert answer.status_code == 200
        names = {family.name for family in text_string_to_metric_families(answer.text)}
        assert any(name.startswith("papertide_") for name in names), names
    else:
        assert answer.status_code == 404


HUB_REPOS = st.builds(
    HubRepo,
    kind=st.sampled_from(["model", "dataset", "space"]),
    repo=st.one_of(TEXT, st.sampled_from(["a/b", "x/../y", "javascript:alert(1)", "o/n-1.2"])),
    likes=st.integers(min_value=0, max_value=2**62),
    downloads=st.none() | st.integers(min_value=0, max_value=2**62),
)


@settings(FUZZ, max_examples=40)
@given(repos=st.lists(HUB_REPOS, max_size=8))
def test_hub_links_with_any_repository_render_cleanly(
    site: tuple[TestClient, Store, Any], repos: list[HubRepo]
) -> None:
    """Hub links stored with any repository ids and counts: the paper page, its JSON and
    the day's cards render; an id that fails the pattern is never a link."""
    client, store, _ = site
    paper = store.list_papers()[1]
    store.replace_hub_links(
        paper_pk=paper.pk or 0, links=HubLinks(repos), now=datetime(2026, 12, 1)
    )
    page = client.get(f"/papers/{paper.id}")
    _clean(site, page, "paper page")
    _clean(site, client.get(f"/api/papers/{paper.id}"), "paper JSON")
    _clean(site, client.get("/"), "day page")
    linked = re.findall(r'href="https://huggingface\.co/(?:datasets/|spaces/)?([^"]+)"', page.text)
    assert all(is_hub_repo(r.replace("&amp;", "&")) for r in linked if "/papers/" not in r)
