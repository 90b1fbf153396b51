"""The site through TestClient on create_app: feeds, trending, paper pages, accounts, votes,
submission, the JSON API, security. Real SQLite store and search index in a temp folder."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from papertide.clock import utcnow
from papertide.config import Settings
from papertide.ingest import ingest_paths
from papertide.store import Store
from papertide.web import create_app
from tests.conftest import page_subject, serving
from tests.support.fixture_server import FixtureServer, settings_for, xml
from tests.support.search_corpus import add_papers
from tests.support.search_corpus import paper as make_paper


@pytest.fixture
def settings(any_settings: Settings, fixed_clock: datetime) -> Settings:
    """Every test here runs on SQLite and on PostgreSQL (a fresh database each), its clock
    fixed: undated seed papers are filed under FIXED_NOW's day."""
    return any_settings


@pytest.fixture
def site(settings: Settings, seeds: list[Path]) -> Iterator[tuple[TestClient, Store]]:
    """The app over the seed papers (pages dated 2025), and its store."""
    store = Store.open(settings.resolved_database_url)
    from papertide.ingest import IngestOptions

    ingest_paths(store, seeds, settings=settings, options=IngestOptions(page_year=2025))
    with serving(create_app(settings)) as client:
        yield client, store
    store.close()


def _csrf(client: TestClient) -> str:
    client.get("/login")
    token = client.cookies.get("pt_csrf")
    assert token
    return token


def _register(client: TestClient, name: str = "ada", password: str = "analytical") -> None:
    data = {"username": name, "password": password, "csrf_token": _csrf(client)}
    response = client.post("/register", data=data, follow_redirects=False)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"/users/{name}"


def test_daily_page_shows_the_latest_day_with_navigation(site) -> None:
    client, _ = site
    page = client.get("/")
    assert page.status_code == 200
    # Every paper of a capture is filed under the capture's day: the latest is 2025-04-09.
    assert "Wednesday, April 9, 2025" in page.text
    assert page.text.count('<article class="paper"') == 30
    assert "69 papers, most voted first" in page.text
    assert "Get trending papers in your email inbox" in page.text
    assert 'rel="prev" href="/papers/date/2025-03-14"' in page.text


def test_day_week_and_month_pages(site) -> None:
    client, _ = site
    day = client.get("/papers/date/2025-03-12")
    assert day.status_code == 200
    assert "MInference 1.0" in day.text
    assert "85 papers, most voted first" in day.text
    assert day.text.count('<article class="paper"') == 30  # one page of 30
    week = client.get("/papers/week/2025-W11")  # Mon 10 to Sun 16 March 2025
    assert "147 papers, most voted first" in week.text  # 85 on 12 and 62 more on 14 March
    month = client.get("/papers/month/2025-03")
    assert "147 papers, most voted first" in month.text
    assert "March 2025" in month.text


def test_empty_period_says_so_and_links_the_nearest(site) -> None:
    client, _ = site
    page = client.get("/papers/date/2025-03-13")
    assert page.status_code == 200
    assert "No papers for Thursday, March 13, 2025." in page.text
    assert 'The nearest earlier: <a href="/papers/date/2025-03-12">' in page.text
    assert 'The nearest later: <a href="/papers/date/2025-03-14">' in page.text


def test_bad_period_is_a_clean_404(site) -> None:
    client, _ = site
    page = client.get("/papers/week/2025-W99")
    assert page.status_code == 404
    assert "&#39;2025-W99&#39; is not an ISO week" in page.text
    assert "Traceback" not in page.text


def test_paper_page_has_bibtex_similar_and_listing(site) -> None:
    client, store = site
    subject = page_subject(store, date(2025, 3, 12))
    page = client.get(f"/papers/{subject.id}")
    assert page.status_code == 200
    assert re.search(r'<pre class="bibtex"[^>]*>@misc\{', page.text)
    assert "title = {{MInference 1.0" in page.text
    assert 'id="similar"' in page.text
    similar = re.findall(r'<section id="similar">(.*?)</section>', page.text, re.S)[0]
    shown = re.findall(r'<article class="paper" data-paper-id="([^"]+)"', similar)
    # At most 8 of 216 stored papers, up to where their scores fall away.
    assert 1 <= len(shown) == len(set(shown)) <= 8
    assert subject.id not in shown  # never similar to itself
    assert "Listed with it on 2025-03-12" in page.text
    assert client.get("/papers/2401.99999").status_code == 404


def test_register_login_logout_and_csrf(site) -> None:
    client, _ = site
    _register(client)
    assert "Log out" in client.get("/").text
    token = client.cookies.get("pt_csrf")
    assert client.post("/logout", data={}).status_code == 403  # no CSRF token
    client.post("/logout", data={"csrf_token": token})
    assert "Log in" in client.get("/").text
    assert client.cookies.get("pt_csrf") != token  # bound to the session that ended
    token = client.cookies.get("pt_csrf")
    bad = client.post("/login", data={"username": "ada", "password": "nope", "csrf_token": token})
    assert bad.status_code == 401
    assert "Wrong username or password." in bad.text
    good = client.post(
        "/login",
        data={
            "username": "ADA",
            "password": "analytical",
            "csrf_token": token,
            "next": "/trending",
        },
        follow_redirects=False,
    )
    assert (good.status_code, good.headers["location"]) == (303, "/trending")
    cookie = good.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie


def test_login_never_redirects_off_site(site) -> None:
    client, _ = site
    _register(client)
    token = client.cookies.get("pt_csrf")
    response = client.post(
        "/login",
        data={
            "username": "ada",
            "password": "analytical",
            "csrf_token": token,
            "next": "//evil.example/",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def test_registration_errors_are_clear(site) -> None:
    client, _ = site
    token = _csrf(client)
    short = client.post(
        "/register", data={"username": "ab", "password": "x" * 9, "csrf_token": token}
    )
    assert short.status_code == 400
    assert "Usernames are 3 to 40 letters" in short.text
    _register(client, "grace")
    again = client.post(
        "/register",
        data={"username": "grace", "password": "grace hopper 1906", "csrf_token": _csrf(client)},
    )
    assert "That username is taken." in again.text


def test_votes_once_per_user_and_undo(site) -> None:
    client, store = site
    subject = page_subject(store, date(2025, 3, 12))
    path = f"/papers/{subject.id}/vote"
    out = client.post(path, headers={"accept": "application/json", "x-csrf-token": _csrf(client)})
    assert out.status_code == 401
    _register(client)
    headers = {"accept": "application/json", "x-csrf-token": client.cookies.get("pt_csrf")}
    assert client.post(path, data={"up": "true"}, headers=headers).json() == {
        "votes": 1,
        "voted": True,
    }
    assert client.post(path, data={"up": "true"}, headers=headers).json()["votes"] == 1
    page = client.get(f"/papers/{subject.id}")
    assert 'aria-pressed="true"' in page.text
    token = client.cookies.get("pt_csrf")
    assert f'name="csrf_token" value="{token}"' in client.get("/").text  # cards carry the token
    assert client.post(path, data={"up": "false"}, headers=headers).json() == {
        "votes": 0,
        "voted": False,
    }
    assert client.get(f"/api/papers/{subject.id}").json()["votes"] == 0


def test_trending_ranks_by_votes_and_shows_the_formula(site, settings: Settings) -> None:
    client, store = site
    _register(client)
    headers = {"accept": "application/json", "x-csrf-token": client.cookies.get("pt_csrf")}
    # The captures are of 2025, outside the 30-day window: three papers of today compete.
    now = utcnow()
    fresh = [
        make_paper(90 + n, f"Fresh paper {n}", "Today's news.", "Ada", "cs.LG", "2026-01-01")
        for n in range(3)
    ]
    add_papers(store, settings, [replace(p, published=now, listed_on=now.date()) for p in fresh])
    today = [store.get_paper(p.arxiv_id or "") for p in fresh]
    assert all(today)
    for paper in today[1:]:
        client.post(f"/papers/{paper.id}/vote", data={"up": "true"}, headers=headers)
    page = client.get("/trending")
    assert "score = votes / (age_hours + 2)<sup>1.8</sup>" in page.text
    ids = re.findall(r'<article class="paper" data-paper-id="([^"]+)"', page.text)
    assert set(ids[:2]) == {p.id for p in today[1:]}  # the two voted papers lead
    api = client.get("/api/trending").json()
    assert {p["id"] for p in api["papers"][:2]} == {p.id for p in today[1:]}
    assert api["papers"][0]["why"][0].startswith("trending score")


def test_submit_existing_paper_credits_the_first_submitter(settings: Settings) -> None:
    with FixtureServer() as server:
        server.script(xml("id_list.xml", "arxiv"))
        with serving(create_app(settings_for(settings, server))) as client:
            _register(client, "ada")
            first = client.post(
                "/submit",
                data={"ref": "2411.00042", "csrf_token": client.cookies.get("pt_csrf")},
                follow_redirects=False,
            )
            assert first.headers["location"] == "/papers/2411.00042?submitted=1"
            with TestClient(client.app) as other:
                _register(other, "bob")
                token = other.cookies.get("pt_csrf")
                bad = other.post("/submit", data={"ref": "not an id", "csrf_token": token})
                assert bad.status_code == 400
                assert "is not an arXiv id or URL" in bad.text
                again = other.post(
                    "/submit",
                    data={"ref": "arXiv:2411.00042v1", "csrf_token": token},
                    follow_redirects=False,
                )
                assert again.headers["location"] == "/papers/2411.00042?submitted=0"
                page = other.get("/papers/2411.00042").text
                bob = other.get("/users/bob").text
            assert len(server.requests) == 1  # the second submission found it stored
    assert 'submitted by <a href="/users/ada">ada</a>' in page
    assert page.count("submitted by <a") == 1  # bob, signed in on that page, is not credited
    assert "Universal Sparse Context Decoding" not in bob


def test_submit_fetches_new_papers_from_arxiv(settings: Settings, seeds: list[Path]) -> None:
    with FixtureServer() as server:
        server.script(xml("id_list.xml", "arxiv"))
        local = settings_for(settings, server)
        with serving(create_app(local)) as client:
            _register(client)
            token = client.cookies.get("pt_csrf")
            response = client.post(
                "/submit",
                data={"ref": "https://arxiv.org/abs/2411.00042v1", "csrf_token": token},
                follow_redirects=False,
            )
            assert response.status_code == 303
            assert response.headers["location"] == "/papers/2411.00042?submitted=1"
            assert server.requests[0].query["id_list"] == "2411.00042"
            page = client.get("/papers/2411.00042")
            assert "$\\mathbb{USCD}$: Universal Sparse Context Decoding" in page.text
            assert 'submitted by <a href="/users/ada">ada</a>' in page.text
            again = client.post(
                "/submit", data={"ref": "2411.00042", "csrf_token": token}, follow_redirects=False
            )
            assert again.headers["location"] == "/papers/2411.00042?submitted=0"
            assert len(server.requests) == 1  # found in the store: not fetched again
            profile = client.get("/users/ada")
            assert "Universal Sparse Context Decoding" in profile.text
            found = client.get("/api/search", params={"q": "sparse context decoding"}).json()
            assert found["papers"][0]["id"] == "2411.00042"  # indexed at once


def test_submit_when_arxiv_is_unreachable_says_so(settings: Settings) -> None:
    with FixtureServer() as server:
        local = settings_for(settings, server)
    # The server is closed now: connections are refused.
    with serving(create_app(local)) as client:
        _register(client)
        token = client.cookies.get("pt_csrf")
        response = client.post("/submit", data={"ref": "2411.00042", "csrf_token": token})
        assert response.status_code == 400
        assert "Could not add 2411.00042: arXiv could not be reached just now" in response.text
        # in the reader's words: no host, port, path or exception text
        assert "127.0.0.1" not in response.text and "GET " not in response.text


def test_login_is_rate_limited(settings: Settings) -> None:
    limited = settings.model_copy(update={"login_failures_per_account": 3})
    with serving(create_app(limited)) as client:
        token = _csrf(client)
        codes = [
            client.post(
                "/login", data={"username": "x", "password": "y", "csrf_token": token}
            ).status_code
            for _ in range(4)
        ]
    assert codes == [401, 401, 401, 429]


def test_security_headers_and_clean_errors(site) -> None:
    client, _ = site
    page = client.get("/")
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in page.headers["content-security-policy"]
    missing = client.get("/api/papers/nope")
    assert missing.status_code == 404
    assert missing.json() == {"error": "No paper 'nope' here.", "status": 404}
    assert client.get("/no/such/page").status_code == 404
    assert "There is no such page." in client.get("/no/such/page").text


def test_api_feeds_paper_and_similar(site) -> None:
    client, _ = site
    daily = client.get("/api/daily", params={"date": "2025-03-14"}).json()
    assert daily["period"]["slug"] == "2025-03-14"
    assert daily["total"] == 62
    assert daily["previous"] == "2025-03-12"
    week = client.get("/api/week/2025-W11").json()
    assert week["total"] == 147
    month = client.get("/api/month/2025-04").json()
    assert month["papers"][0]["title"].startswith("Quamba2")
    paper_id = month["papers"][0]["id"]
    paper = client.get(f"/api/papers/{paper_id}").json()
    assert paper["url"].endswith(f"/papers/{paper_id}")
    assert paper["voted"] is None
    similar = client.get(f"/api/papers/{paper_id}/similar").json()
    assert similar and paper_id not in {p["id"] for p in similar}
    assert client.get("/api/week/2025-13").json()["status"] == 404
    assert client.get("/openapi.json").json()["info"]["title"] == "papertide"


def test_search_page_highlights_and_pages(site) -> None:
    client, _ = site
    page = client.get("/search", params={"q": "attention"})
    assert page.status_code == 200
    assert "<mark>attention</mark>" in page.text.lower()
    assert 'rel="next"' in page.text
    second = client.get("/search", params={"q": "attention", "page": 2})
    assert 'rel="prev"' in second.text
    nothing = client.get("/search", params={"q": "zzzxqv", "mode": "bm25"})
    assert "Nothing matches <b>zzzxqv</b>" in nothing.text
    filtered = client.get("/search", params={"q": "attention", "cat": "zz.none"})
    assert "Nothing matches <b>attention cat:zz.none</b>" in filtered.text
    from_form = client.get("/search?q=attention&cat=&author=&after=&before=&mode=hybrid")
    assert from_form.status_code == 200  # the form's empty controls mean "no filter"
    api = client.get("/api/search", params={"q": "attention", "cat": "cs.XX"}).json()
    assert api["papers"] == []


def test_imported_text_is_escaped(store: Store, settings: Settings, tmp_path: Path) -> None:
    page = tmp_path / "page.txt"
    page.write_text("Mar 12\n\n<script>alert(1)</script> Title\n\nAbstract & <b>more</b>.\n")
    ingest_paths(store, [page], settings=settings)
    with serving(create_app(settings)) as client:
        html = client.get("/").text
        found = client.get("/search", params={"q": "alert"}).text
    assert "<script>alert(1)</script>" not in html + found
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Title" in html
    assert "Abstract &amp; &lt;b&gt;more&lt;/b&gt;." in html
    assert "&lt;script&gt;<mark>alert</mark>(1)&lt;/script&gt;" in found  # highlight escapes first


def test_healthz(site) -> None:
    client, store = site
    health = client.get("/healthz")
    assert health.headers["content-type"] == "application/json"
    body = health.json()
    assert (body["ok"], body["database"], body["papers"]) == (True, "ok", 216)
    index = body["index"]
    assert index["ready"] is True and index["lag"] == 0 and index["building"] is False
    # Caught up with every change. (On PostgreSQL the position is a transaction-id horizon,
    # which other databases on the server move on without a change here.)
    position = client.app.state.search.position  # type: ignore[attr-defined]
    assert index["position"] == position.horizon and store.feed_lag(position) == 0
    if store.engine.dialect.name == "sqlite":
        assert index["position"] == store.feed_head().horizon


def test_api_docs_are_served_by_the_site_itself(site) -> None:
    client, _ = site
    docs = client.get("/docs")
    assert docs.status_code == 200
    bundle = re.search(r'src="(/static/swagger/swagger-ui-bundle\.[0-9a-f]{10}\.js)"', docs.text)
    assert bundle, "the docs page does not load the site's own (hashed) Swagger UI"
    assert "cdn" not in docs.text.lower()
    assert client.get(bundle.group(1)).status_code == 200
    assert client.get("/static/swagger/swagger-ui-bundle.js").status_code == 200
    page_csp = client.get("/").headers["content-security-policy"]
    assert (
        "script-src 'self' 'sha256-" in page_csp
        and "unsafe-inline'" not in page_csp.split("style-src")[0]
    )
    assert "script-src 'self' 'unsafe-inline'" in docs.headers["content-security-policy"]


def test_api_docs_link_back_to_the_site_and_follow_the_colour_scheme(site) -> None:
    client, _ = site
    docs = client.get("/docs").text
    assert re.search(r'<header class="docs-bar"><a href="/">', docs)
    sheet = re.search(r'href="(/static/docs\.[0-9a-f]{10}\.css)"', docs)
    assert sheet and '<meta name="color-scheme" content="light dark">' in docs
    css = client.get(sheet.group(1)).text
    assert "@media (prefers-color-scheme: dark)" in css and ".swagger-ui" in css


def test_a_planted_csrf_cookie_and_foreign_origins_are_refused(site) -> None:
    """A planted pt_csrf cookie with a matching header, another session's token and a POST
    from a foreign Origin (https://evil.example) are refused; the first and last once passed."""
    client, store = site
    subject = page_subject(store, date(2025, 3, 12))
    _register(client)
    vote = f"/api/papers/{subject.id}/vote"
    token = _csrf(client)
    assert client.post(vote, headers={"x-csrf-token": token}).status_code == 200
    planted = "attacker-chosen-value"
    client.cookies.set("pt_csrf", planted)
    assert client.post(vote, headers={"x-csrf-token": planted}).status_code == 403
    # A token made for another session (the attacker's own, valid one) does not work either.
    with TestClient(client.app) as other:
        _register(other, "mallory")
        theirs = _csrf(other)
    client.cookies.set("pt_csrf", theirs)
    assert client.post(vote, headers={"x-csrf-token": theirs}).status_code == 403
    client.cookies.set("pt_csrf", token)
    for origin in ("https://evil.example", "null", "http://testserver.evil.example"):
        answer = client.post(vote, headers={"x-csrf-token": token, "origin": origin})
        assert answer.status_code == 403, origin
    cross = client.post(vote, headers={"x-csrf-token": token, "sec-fetch-site": "cross-site"})
    assert cross.status_code == 403
    same = client.post(vote, headers={"x-csrf-token": token, "origin": "http://testserver"})
    assert same.status_code == 200


@pytest.mark.parametrize(
    ("password", "why"),
    [
        (" " * 8, "repeated or sequential"),
        ("12345678", "repeated or sequential"),
        ("aaaaaaaa", "repeated or sequential"),
        ("abcdefghij", "repeated or sequential"),
        ("87654321", "repeated or sequential"),
        ("password", "common or breached"),
        ("Password1", "common or breached"),
        ("QWERTYUIOP", "common or breached"),
        ("iloveyou1", "common or breached"),
        ("turing-one", "your username"),
        ("sevench", "at least 8 characters"),
    ],
)
def test_weak_passwords_are_refused(site, password: str, why: str) -> None:
    """Eight spaces, 12345678 and aaaaaaaa (once accepted) are refused, saying why."""
    client, _ = site
    data = {"username": "turing-one", "password": password, "csrf_token": _csrf(client)}
    answer = client.post("/register", data=data)
    assert answer.status_code == 400 and why in answer.text
    assert client.cookies.get("pt_session") is None


def test_long_and_unusual_passwords_are_welcome(site) -> None:
    client, _ = site
    _register(client, "longpass", "correct horse battery staple " * 2)  # 58, spaces and all
    _register(TestClient(client.app), "unicode", "ünïcödé 🔑 pässwörd")
    _register(TestClient(client.app), "nocomp", "justlowercaseletters")  # no composition rules
