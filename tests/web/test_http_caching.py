"""Caching for a public site: validators and 304s on anonymous answers, the in-process page
cache keyed on Store.change_token(), and signed-in pages never cached."""

from __future__ import annotations

import gzip
import re
import time
from collections.abc import Iterator
from datetime import date
from email.utils import formatdate
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from papertide.clock import utcnow
from papertide.config import Settings
from papertide.ingest import IngestOptions, ingest_paths
from papertide.models import Paper
from papertide.store import Store
from papertide.web import create_app
from papertide.web.compress import LEVEL
from tests.conftest import caught_up, page_subject, serving
from tests.support.search_corpus import add_papers


@pytest.fixture
def site(settings: Settings, seeds: list[Path]) -> Iterator[tuple[TestClient, Store, Settings]]:
    """The site over the seed papers, with a long cache life (only writes end an entry)."""
    local = settings.model_copy(update={"page_cache_seconds": 300.0})
    store = Store.open(local.resolved_database_url)
    ingest_paths(store, seeds, settings=local, options=IngestOptions(page_year=2025))
    with serving(create_app(local)) as client:
        yield client, store, local
    store.close()


def _anonymous(client: TestClient) -> TestClient:
    """A second client on the same app: its own cookies (a different visitor)."""
    other = TestClient(client.app)
    other.get("/login")  # picks up a CSRF cookie, as a browser's first visit does
    return other


def _sign_in(client: TestClient, name: str = "ada") -> None:
    client.get("/login")
    data = {"username": name, "password": "analytical engine", "csrf_token": _csrf(client)}
    assert client.post("/register", data=data, follow_redirects=False).status_code == 303


def _csrf(client: TestClient) -> str:
    token = client.cookies.get("pt_csrf")
    assert token
    return token


def _vote(client: TestClient, paper_id: str, *, up: bool = True) -> int:
    headers = {"accept": "application/json", "x-csrf-token": _csrf(client)}
    answer = client.post(f"/papers/{paper_id}/vote", data={"up": str(up).lower()}, headers=headers)
    assert answer.status_code == 200, answer.text
    votes: int = answer.json()["votes"]
    return votes


def test_api_answers_carry_validators_and_answer_304(site) -> None:
    client, _, _ = site
    bare = TestClient(client.app)  # no cookie at all: API answers set none
    first = bare.get("/api/trending")
    assert first.status_code == 200
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert etag.startswith('W/"') and first.headers["cache-control"] == "public, max-age=300"
    assert first.headers["vary"] == "Cookie, Accept-Encoding"  # gzipped: web/compress.py
    again = bare.get("/api/trending", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    assert bare.get("/api/trending", headers={"If-Modified-Since": modified}).status_code == 304
    older = formatdate(time.time() - 3600, usegmt=True)
    assert bare.get("/api/trending", headers={"If-Modified-Since": older}).status_code == 200
    assert bare.get("/api/trending", headers={"If-None-Match": 'W/"other"'}).status_code == 200
    assert "cache;desc=hit" in bare.get("/api/trending").headers["server-timing"]


def test_pages_are_shared_but_each_visitor_gets_their_own_csrf_token(site) -> None:
    client, _, _ = site
    one, two = _anonymous(client), _anonymous(client)
    page_one, page_two = one.get("/trending"), two.get("/trending")
    assert "cache;desc=hit" in page_two.headers["server-timing"]
    assert f'value="{_csrf(one)}"' in page_one.text and _csrf(two) not in page_one.text
    assert f'value="{_csrf(two)}"' in page_two.text and _csrf(one) not in page_two.text
    assert page_one.headers["etag"] != page_two.headers["etag"]
    assert page_two.headers["cache-control"] == "public, max-age=300"
    etag = page_two.headers["etag"]
    assert two.get("/trending", headers={"If-None-Match": etag}).status_code == 304
    assert one.get("/trending", headers={"If-None-Match": etag}).status_code == 200


def test_shared_pages_come_gzipped_with_each_visitors_own_token(site) -> None:
    """A cached page asked for gzip: the visitor's own token inside, the very page sent
    uncompressed, and no bigger than the whole page deflated in one go but for a few bytes
    (the part before the token is deflated once for every visitor)."""
    client, _, _ = site
    one, two = _anonymous(client), _anonymous(client)
    for path in ("/trending", "/", "/search?q=attention"):
        plain = {}
        for who in (one, two):
            plain[who] = who.get(path, headers={"accept-encoding": "identity"}).content
            with who.stream("GET", path, headers={"accept-encoding": "gzip, br"}) as answer:
                raw = b"".join(answer.iter_raw())
                assert answer.headers["content-encoding"] == "gzip", path
                assert "cache;desc=hit" in answer.headers["server-timing"]
                assert "Accept-Encoding" in answer.headers["vary"]
                assert int(answer.headers["content-length"]) == len(raw)
            page = gzip.decompress(raw)
            assert page == plain[who] and f'value="{_csrf(who)}"'.encode() in page
            assert len(raw) <= len(gzip.compress(page, LEVEL)) + 200, path
        assert plain[one] != plain[two]


def test_shared_pages_hold_the_visitors_token_only_at_their_end(site) -> None:
    """A reader who is not logged in votes through the log-in page (a form without a token,
    back to this page after); a signed-in reader's vote forms carry the token."""
    client, _, _ = site
    reader = _anonymous(client)
    page = reader.get("/trending?page=1").text
    forms = re.findall(r'<form class="vote" method="(\w+)" action="([^"]+)">', page)
    assert forms and set(forms) == {("get", "/login")}
    assert page.count('name="next" value="/trending?page=1"') == len(forms)
    assert page.find(_csrf(reader)) > page.rfind('class="vote"')  # after the last card
    _sign_in(client, "ada")
    signed_in = client.get("/trending").text
    assert signed_in.count(f'name="csrf_token" value="{_csrf(client)}"') > len(forms)
    assert 'method="get" action="/login"' not in signed_in


def test_first_visits_and_cookieless_crawlers_are_served_from_the_cache(site) -> None:
    client, _, _ = site
    tokens = []
    for visit in range(3):  # a miss, then hits: each a first visit with no cookie at all
        bare = TestClient(client.app)
        page = bare.get("/trending")
        assert page.status_code == 200
        timing = page.headers["server-timing"]
        assert ("cache;desc=miss" if visit == 0 else "cache;desc=hit") in timing
        token = _csrf(bare)  # its own CSRF cookie, set by this answer ...
        assert f'value="{token}"' in page.text  # ... and the same token in the page's forms
        assert page.headers["cache-control"] == "private, no-store"  # a cookie: not shared
        assert "etag" not in page.headers and "last-modified" not in page.headers
        assert page.headers["vary"].startswith("Cookie")
        tokens.append(token)
        again = bare.get("/trending")  # now holding the cookie: the shared, public answer
        assert "set-cookie" not in again.headers and "etag" in again.headers
        assert again.headers["cache-control"] == "public, max-age=300"
        assert f'value="{token}"' in again.text
        form = {"q": "x", "csrf_token": token}  # the token works for a write (CSRF check)
        assert bare.post("/logout", data=form, follow_redirects=False).status_code == 303
    assert len(set(tokens)) == 3  # never one visitor's token to another
    forged = "forged.0123456789abcdef0123456789abcdef"
    page = TestClient(client.app).get("/trending", headers={"Cookie": f"pt_csrf={forged}"})
    assert "cache;desc=hit" in page.headers["server-timing"]  # an invalid cookie is replaced
    assert "forged" not in page.text and page.headers["set-cookie"].startswith("pt_csrf=")
    assert page.headers["cache-control"] == "private, no-store"


def test_a_vote_ends_the_cached_copy_at_once(site) -> None:
    client, store, _ = site
    paper = page_subject(store, date(2025, 3, 12))
    reader = _anonymous(client)
    before = reader.get(f"/api/papers/{paper.id}")
    page = reader.get(f"/papers/{paper.id}")
    assert "cache;desc=hit" in reader.get(f"/api/papers/{paper.id}").headers["server-timing"]
    _sign_in(client)
    assert _vote(client, paper.id or "") == before.json()["votes"] + 1
    after = reader.get(f"/api/papers/{paper.id}")
    assert after.json()["votes"] == before.json()["votes"] + 1
    assert (
        reader.get(
            f"/api/papers/{paper.id}", headers={"If-None-Match": before.headers["etag"]}
        ).status_code
        == 200
    )
    new_page = reader.get(f"/papers/{paper.id}", headers={"If-None-Match": page.headers["etag"]})
    assert new_page.status_code == 200
    assert f'<span class="vote-count">{after.json()["votes"]}</span>' in new_page.text


def test_an_import_ends_the_cached_copy_once_the_index_has_it(site) -> None:
    client, store, local = site
    reader = _anonymous(client)
    query = {"q": "zymurgical fermentation", "mode": "bm25"}
    assert reader.get("/api/search", params=query).json()["papers"] == []
    now = utcnow()
    fresh = Paper(
        title="Zymurgical fermentation at scale", abstract="Yeast.", published=now, first_seen=now
    )
    add_papers(store, local, [fresh])  # another writer (the CLI): only the store knows
    caught_up(client)
    found = reader.get("/api/search", params=query).json()["papers"]
    assert [paper["title"] for paper in found] == [fresh.title]


def test_a_signed_in_reader_sees_their_vote_at_once_and_nothing_is_cached(site) -> None:
    client, store, _ = site
    paper = page_subject(store, date(2025, 3, 12))
    _sign_in(client, "grace")
    page = client.get(f"/papers/{paper.id}")
    assert page.headers["cache-control"] == "private, no-store" and "etag" not in page.headers
    assert 'aria-pressed="false"' in page.text
    count = _vote(client, paper.id or "")
    page = client.get(f"/papers/{paper.id}")
    assert 'aria-pressed="true"' in page.text
    assert f'<span class="vote-count">{count}</span>' in page.text
    assert client.get("/").headers["cache-control"] == "private, no-store"
    api = client.get(f"/api/papers/{paper.id}")
    assert api.json()["votes"] == count and api.headers["cache-control"] == "private, no-store"
    _vote(client, paper.id or "", up=False)
    assert 'aria-pressed="false"' in client.get(f"/papers/{paper.id}").text


def test_private_addresses_are_never_cached(site) -> None:
    client, _, _ = site
    reader = _anonymous(client)
    for path in ("/login", "/subscribe", "/healthz"):
        answer = reader.get(path)
        assert "etag" not in answer.headers, path


def test_change_token_moves_with_paper_writes_and_votes(any_store: Store) -> None:
    store = any_store
    start = store.change_token()
    assert store.change_token() == start  # stable while nothing is written
    now = utcnow()
    with store.write() as ws:
        ws.insert_papers([Paper(id="t1", title="Token", first_seen=now, published=now)])
    after_paper = store.change_token()
    assert after_paper != start
    user = store.create_user(username="ada", email=None, password_hash="x", now=now)
    (paper,) = store.list_papers()
    store.set_vote(user_pk=user.pk, paper_pk=paper.pk or 0, up=True, now=now)
    voted = store.change_token()
    assert voted != after_paper
    store.set_vote(user_pk=user.pk, paper_pk=paper.pk or 0, up=True, now=now)  # no change
    assert store.change_token() == voted
    store.set_vote(user_pk=user.pk, paper_pk=paper.pk or 0, up=False, now=now)
    assert store.change_token() not in {voted, after_paper, start}
