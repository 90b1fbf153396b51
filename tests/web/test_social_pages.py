"""The social features through TestClient on create_app over a temporary SQLite store: what
cards carry, discussion, lists, For you (pages, forms with CSRF, and the JSON API)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import datetime
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from papertide.cli import app as cli_app
from papertide.config import Settings
from papertide.mail.recommend import TfidfSpace, recommend
from papertide.models import Paper
from papertide.store import Store
from papertide.web import create_app
from tests.conftest import serving
from tests.support.search_corpus import CORPUS, add_papers, paper

MANY = [f"Author {i}" for i in range(1, 9)]
HF = Paper(
    title="Diffusion policies for robot arms",
    abstract="We train diffusion policies; the loss is $\\mathcal{L}_0$ on robot data.",
    authors=MANY,
    arxiv_id="2401.00099",
    categories=["cs.RO", "cs.LG", "cs.AI"],
    published=datetime(2024, 3, 2),
    url_code="https://github.com/example/dp",
    github_stars=1234,
    url_project="https://example.org/dp",
    upvotes_external=42,
    comments_count=7,
    submitted_by="hf_person",
    sources=["hf-daily"],
    extra={
        "ai_summary": "Diffusion makes robot arms steady.",
        "ai_keywords": ["diffusion", "robots"],
    },
)


@pytest.fixture
def site(settings: Settings) -> Iterator[tuple[TestClient, Store]]:
    """The app over the small search corpus plus one paper with every Hugging Face field."""
    settings = settings.model_copy(update={"rate_limit_per_hour": 50})
    store = Store.open(settings.resolved_database_url)
    add_papers(store, settings, [*CORPUS, HF])
    with serving(create_app(settings)) as client:
        yield client, store
    store.close()


def _token(client: TestClient) -> str:
    client.get("/login")
    token = client.cookies.get("pt_csrf")
    assert token
    return token


def _register(client: TestClient, name: str) -> str:
    data = {"username": name, "password": "analytical engine", "csrf_token": _token(client)}
    assert client.post("/register", data=data, follow_redirects=False).status_code == 303
    return _token(client)  # the session's own token


def _second(client: TestClient) -> TestClient:
    other = TestClient(client.app)
    other.__enter__()  # the app is already started by the first client's lifespan
    return other


# Cards and paper pages -----------------------------------------------------------------


def test_cards_and_paper_pages_carry_what_the_sources_give(site) -> None:
    client, _ = site
    day = client.get("/papers/date/2024-03-02").text
    card = day[day.index('<article class="paper"') :]
    for shown in MANY[:5]:
        assert f'<a href="/authors/{quote(shown)}">{shown}</a>' in card
    assert ">Author 6<" not in card and "et al. (8 authors)" in card
    assert 'href="https://arxiv.org/abs/2401.00099"' in card  # built from the id
    assert 'href="https://arxiv.org/pdf/2401.00099"' in card
    assert "★ 1234" in card and 'href="https://example.org/dp"' in card
    assert "42 HF upvotes" in card and "7 HF comments" in card
    assert "Diffusion makes robot arms steady." in card
    assert '<a href="/search?q=robots">robots</a>' in card
    assert '<a class="cat chip" href="/search?q=cat%3Acs.RO">cs.RO</a>' in card
    assert 'href="https://huggingface.co/hf_person"' in card
    assert card.count('<form class="save"') == 1

    page = client.get("/papers/2401.00099").text
    assert all(f">{name}</a>" in page for name in MANY)  # the paper page names everyone
    assert "et al." not in page and "Diffusion makes robot arms steady." in page
    # The author link really finds the author's papers.
    found = client.get("/api/search", params={"q": 'author:"Author 7"'}).json()
    assert [p["arxiv_id"] for p in found["papers"]] == ["2401.00099"]
    chip = client.get("/api/search", params={"q": "cat:cs.RO"}).json()
    assert [p["arxiv_id"] for p in chip["papers"]] == ["2401.00099"]


def test_the_api_carries_the_same_fields(site) -> None:
    client, _ = site
    body = client.get("/api/papers/2401.00099").json()
    assert body["links"]["abstract"] == "https://arxiv.org/abs/2401.00099"
    assert body["links"]["pdf"] == "https://arxiv.org/pdf/2401.00099"
    assert body["ai_summary"] == "Diffusion makes robot arms steady."
    assert body["ai_keywords"] == ["diffusion", "robots"]
    assert body["submitter_url"] == "https://huggingface.co/hf_person"
    assert (body["comments_count"], body["site_comments"], body["github_stars"]) == (7, 0, 1234)
    plain = client.get("/api/papers/2401.00001").json()
    assert plain["ai_summary"] is None and plain["ai_keywords"] == []


def test_a_local_submitter_links_to_their_profile(site) -> None:
    client, _ = site
    token = _register(client, "ada")
    sent = client.post("/submit", data={"ref": "2401.00003", "csrf_token": token})
    assert sent.status_code == 200
    page = client.get("/papers/2401.00003").text
    assert 'submitted by <a href="/users/ada">ada</a>' in page


# Discussion ----------------------------------------------------------------------------


def _post(client: TestClient, token: str, body: str, parent: int | None = None) -> int:
    data = {"body": body, "csrf_token": token, **({"parent": str(parent)} if parent else {})}
    sent = client.post("/papers/2401.00001/comments", data=data, follow_redirects=False)
    assert sent.status_code == 303, sent.text
    return int(sent.headers["location"].rsplit("comment-", 1)[1])


def test_comments_are_posted_with_csrf_rendered_safely_and_counted(site) -> None:
    client, _ = site
    anonymous = client.post("/papers/2401.00001/comments", data={"body": "hi"})
    assert anonymous.status_code == 403  # no CSRF token: refused before anything else
    token = _token(client)
    sent = client.post(
        "/papers/2401.00001/comments",
        data={"body": "hi", "csrf_token": token},
        follow_redirects=False,
    )
    assert sent.headers["location"].startswith("/login?next=/papers/2401.00001")
    token = _register(client, "ada")
    body = (
        "Nice *result* <script>alert(1)</script> [x](javascript:alert(1)) "
        "[code](https://github.com/x) $a_1 * b_2$"
    )
    first = _post(client, token, body)
    page = client.get("/papers/2401.00001").text
    assert f'id="comment-{first}"' in page
    assert "<em>result</em>" in page and "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'href="javascript' not in page
    assert '<a href="https://github.com/x" rel="nofollow ugc noopener">code</a>' in page
    assert r'<span class="math">\(a_1 * b_2\)</span>' in page  # KaTeX's delimiters
    refused = client.post("/papers/2401.00001/comments", data={"body": "x"})
    assert refused.status_code == 403
    # Counted on cards and in the API.
    day = client.get("/papers/date/2024-03-01").text
    assert '<a class="comment-count" href="/papers/2401.00001#discussion">1 comment</a>' in day
    assert client.get("/api/papers/2401.00001").json()["site_comments"] == 1
    listed = client.get("/api/papers/2401.00001/comments").json()
    assert [(c["id"], c["author"], c["body"]) for c in listed] == [(first, "ada", body)]
    assert "<em>result</em>" in listed[0]["html"]


def test_replies_edit_delete_and_the_deleted_placeholder(site) -> None:
    client, _ = site
    ada = _register(client, "ada")
    top = _post(client, ada, "Question about table 2")
    bob_client = _second(client)
    bob = _register(bob_client, "bob")
    reply = _post(bob_client, bob, "It is the ablation", parent=top)
    nested = _post(client, ada, "Thanks", parent=reply)  # joins the thread: one level
    threads = client.get("/api/papers/2401.00001/comments").json()
    assert [r["id"] for r in threads[0]["replies"]] == [reply, nested]
    # Only the author edits or deletes.
    theirs = bob_client.post(f"/comments/{top}/edit", data={"body": "x", "csrf_token": bob})
    assert theirs.status_code == 403 and "your own" in theirs.text
    mine = client.post(
        f"/comments/{top}/edit", data={"body": "Question about table 3", "csrf_token": ada}
    )
    assert mine.status_code == 200 and "Question about table 3" in mine.text
    assert ">edited<" in mine.text
    gone = client.post(f"/comments/{top}/delete", data={"csrf_token": ada})
    assert gone.status_code == 200
    assert "[deleted]" in gone.text and "Question about table 3" not in gone.text
    assert "It is the ablation" in gone.text
    threads = client.get("/api/papers/2401.00001/comments").json()
    assert threads[0]["deleted"] and threads[0]["author"] is None and threads[0]["body"] == ""
    # The API: post, edit and delete with the X-CSRF-Token header; 401 without a session.
    headers = {"X-CSRF-Token": ada}
    made = client.post(
        "/api/papers/2401.00001/comments", json={"body": "via the API"}, headers=headers
    )
    assert made.status_code == 201, made.text
    pk = made.json()["id"]
    edited = client.patch(f"/api/comments/{pk}", json={"body": "edited"}, headers=headers)
    assert edited.json()["body"] == "edited" and edited.json()["edited"]
    assert (
        bob_client.delete(f"/api/comments/{pk}", headers={"X-CSRF-Token": bob}).status_code == 403
    )
    assert client.delete(f"/api/comments/{pk}", headers=headers).status_code == 204
    assert client.delete(f"/api/comments/{pk}", headers=headers).status_code == 404
    fresh = TestClient(client.app)
    denied = fresh.post("/api/papers/2401.00001/comments", json={"body": "x"})
    assert denied.status_code in (401, 403)
    empty = client.post("/api/papers/2401.00001/comments", json={"body": "  "}, headers=headers)
    assert empty.status_code == 400 and empty.json()["error"] == "The comment is empty."
    bob_client.__exit__(None, None, None)


def test_moderators_granted_by_the_cli_hide_comments(site, settings: Settings) -> None:
    client, _ = site
    spam_client = _second(client)
    spammer = _register(spam_client, "spammer")
    spam = _post(spam_client, spammer, "Buy cheap pills")
    mod = _register(client, "Moderator")
    refused = client.post(f"/comments/{spam}/hide", data={"csrf_token": mod})
    assert refused.status_code == 403
    granted = CliRunner().invoke(
        cli_app, ["--data-dir", str(settings.data_dir), "users", "moderator", "moderator"]
    )
    assert granted.exit_code == 0, granted.output
    assert "Moderator is a moderator" in granted.output
    missing = CliRunner().invoke(
        cli_app, ["--data-dir", str(settings.data_dir), "users", "moderator", "nobody"]
    )
    assert missing.exit_code == 1 and "no user 'nobody'" in missing.output
    hidden = client.post(f"/comments/{spam}/hide", data={"csrf_token": mod})
    assert hidden.status_code == 200 and "hidden by a moderator" in hidden.text
    anonymous = TestClient(client.app).get("/papers/2401.00001").text
    assert "Buy cheap pills" not in anonymous and "No comments yet." in anonymous
    assert "Buy cheap pills" in spam_client.get("/papers/2401.00001").text  # the author sees it
    assert client.get("/api/papers/2401.00001").json()["site_comments"] == 0
    shown = client.post(
        f"/api/comments/{spam}/hide", json={"hidden": False}, headers={"X-CSRF-Token": mod}
    )
    assert shown.status_code == 200 and not shown.json()["hidden"]
    spam_client.__exit__(None, None, None)


def test_posting_is_rate_limited_with_retry_after(settings: Settings) -> None:
    settings = settings.model_copy(update={"rate_limit_per_hour": 3})
    store = Store.open(settings.resolved_database_url)
    add_papers(store, settings, CORPUS[:1])
    with serving(create_app(settings)) as client:
        token = _register(client, "ada")
        for n in range(3):  # three an hour (registering counts under its own key)
            _post(client, token, f"comment {n}")
        over = client.post(
            "/papers/2401.00001/comments", data={"body": "one more", "csrf_token": token}
        )
        assert over.status_code == 429 and over.headers["retry-after"] == "3600"
        assert "Too many comments" in over.text and "one more</textarea>" in over.text
    store.close()


def test_a_long_comment_fits_and_a_too_long_one_says_why(site) -> None:
    client, _ = site
    token = _register(client, "ada")
    long = "é" * 10_000  # 90,000 bytes once percent-encoded: over the default body cap
    _post(client, token, long)
    over = client.post(
        "/papers/2401.00001/comments", data={"body": "x" * 10_001, "csrf_token": token}
    )
    assert over.status_code == 400 and "at most 10,000 characters" in over.text


# Lists -------------------------------------------------------------------------------------


def test_save_without_javascript_into_new_and_existing_lists(site) -> None:
    client, _ = site
    assert client.get("/lists/save?paper=2401.00001", follow_redirects=False).status_code == 303
    token = _register(client, "ada")
    page = client.get("/lists/save?paper=2401.00001")
    assert page.status_code == 200 and "Create and save" in page.text
    made = client.post(
        "/lists",
        data={
            "name": "Reading group",
            "paper": "2401.00001",
            "next": "/lists/save?paper=2401.00001",
            "csrf_token": token,
        },
    )
    assert "Remove from Reading group" in made.text and "saved here" in made.text
    client.post(
        "/lists/save",
        data={"paper": "2401.00005", "list": "reading-group", "csrf_token": token},
    )
    mine = client.get("/users/ada/lists/reading-group").text
    assert mine.count('<article class="paper"') == 2 and "a private list" in mine
    # Every card carries a save button.
    day = client.get("/papers/week/2024-W09").text
    assert day.count('<form class="save"') == day.count('<article class="paper"') > 0
    # Remove again.
    client.post(
        "/lists/save",
        data={
            "paper": "2401.00005",
            "list": "reading-group",
            "saved": "false",
            "csrf_token": token,
        },
    )
    assert client.get("/users/ada/lists/reading-group").text.count('<article class="paper"') == 1
    unknown = client.post(
        "/lists/save", data={"paper": "2401.00005", "list": "nope", "csrf_token": token}
    )
    assert unknown.status_code == 404


def test_private_lists_are_404_to_others_public_ones_have_feed_and_bibtex(site) -> None:
    client, _ = site
    token = _register(client, "ada")
    headers = {"X-CSRF-Token": token}
    made = client.post("/api/lists", json={"name": "Attention"}, headers=headers)
    assert made.status_code == 201 and made.json()["slug"] == "attention"
    for ref in ("2401.00006", "2401.00005", "2401.00001"):
        saved = client.put(f"/api/users/ada/lists/attention/papers/{ref}", headers=headers)
        assert saved.status_code == 200 and saved.json()["saved"]
    assert client.get("/api/lists?paper=2401.00005").json()[0]["saved"] is True
    stranger = TestClient(client.app)
    other = _second(client)
    _register(other, "bob")
    for path in ("", ".atom", ".bib"):
        assert stranger.get(f"/users/ada/lists/attention{path}").status_code == 404
        assert other.get(f"/users/ada/lists/attention{path}").status_code == 404
    assert other.get("/api/users/ada/lists/attention").status_code == 404
    assert "Attention" not in other.get("/users/ada").text
    assert client.get("/users/ada/lists/attention.bib").status_code == 200  # the owner
    # Bob cannot change Ada's list even where he could see it.
    made_public = client.put(
        "/api/users/ada/lists/attention",
        json={"name": "Attention", "public": True},
        headers=headers,
    )
    assert made_public.json()["public"] is True
    refused = other.put(
        "/api/users/ada/lists/attention/papers/2401.00002",
        headers={"X-CSRF-Token": _token(other)},
    )
    assert refused.status_code == 404
    page = stranger.get("/users/ada/lists/attention")
    assert page.status_code == 200 and page.text.count('<article class="paper"') == 3
    assert "Attention" in stranger.get("/users/ada").text
    feed = stranger.get("/users/ada/lists/attention.atom")
    assert feed.headers["content-type"].startswith("application/atom+xml")
    root = ET.fromstring(feed.content)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    titles = [e.findtext("a:title", namespaces=ns) for e in root.findall("a:entry", ns)]
    assert titles[0] == "Sparse attention for long context transformers"  # newest saved first
    assert len(titles) == 3
    bib = stranger.get("/users/ada/lists/attention.bib")
    assert bib.headers["content-type"].startswith("application/x-bibtex")
    assert bib.text.count("@misc{") == 3 and "eprint = {1706" not in bib.text
    assert "eprint = {2401.00006}" in bib.text
    keys = re.findall(r"@misc\{([^,]+),", bib.text)
    assert len(set(keys)) == 3
    listed = stranger.get("/api/users/ada/lists/attention").json()
    assert listed["list"]["size"] == 3 and len(listed["papers"]) == 3
    other.__exit__(None, None, None)


def test_bibtex_keys_stay_unique_in_a_list(site, settings: Settings) -> None:
    client, store = site
    # Same author, year and first word: the same BibTeX key three times.
    twins = [
        paper(50 + i, f"Twin {'paper ' * (i + 1)}", f"Twin {i}.", "Kim Lee", "cs.LG", "2024-01-05")
        for i in range(3)
    ]
    add_papers(store, settings, twins)
    token = _register(client, "ada")
    headers = {"X-CSRF-Token": token}
    client.post("/api/lists", json={"name": "Twins"}, headers=headers)
    for t in twins:
        client.put(f"/api/users/ada/lists/twins/papers/{t.arxiv_id}", headers=headers)
    keys = re.findall(r"@misc\{([^,]+),", client.get("/users/ada/lists/twins.bib").text)
    assert sorted(keys) == ["lee2024twin", "lee2024twina", "lee2024twinb"]


# For you -------------------------------------------------------------------------------


RECENT = [  # within For you's window (the 30 days up to the newest day, 2024-08-01)
    paper(
        70,
        "Sparse attention transformers for long documents",
        "Sparse attention reads long documents.",
        "A",
        "cs.CL",
        "2024-07-20",
    ),
    paper(
        71,
        "Linear attention transformers",
        "Attention in linear time for transformers.",
        "B",
        "cs.CL",
        "2024-07-25",
    ),
    paper(
        72,
        "Dark matter in galaxy clusters",
        "Lensing maps of dark matter in clusters.",
        "C",
        "astro-ph.CO",
        "2024-07-28",
    ),
    paper(
        73,
        "Attention heads in vision transformers",
        "What attention heads of vision transformers see.",
        "D",
        "cs.CV",
        "2024-07-30",
    ),
]


def test_for_you_recommends_from_votes_and_saves_and_learns_not_interested(
    site, settings: Settings
) -> None:
    client, store = site
    add_papers(store, settings, RECENT)
    assert client.get("/for-you", follow_redirects=False).headers["location"] == (
        "/login?next=/for-you"
    )
    token = _register(client, "ada")
    assert "Upvote or save a few papers" in client.get("/for-you").text
    client.post("/papers/2401.00006/vote", data={"csrf_token": token})  # Attention is all...
    headers = {"X-CSRF-Token": token}
    client.post("/api/lists", json={"name": "Later"}, headers=headers)
    client.put("/api/users/ada/lists/later/papers/2401.00070", headers=headers)
    found = client.get("/api/for-you").json()["papers"]
    ids = [p["arxiv_id"] for p in found]
    assert ids[:2] in (["2401.00071", "2401.00073"], ["2401.00073", "2401.00071"])
    assert "2401.00070" not in ids and "2401.00072" not in ids  # saved; like nothing of hers
    assert found[0]["why"][0].startswith("like: ")
    assert "(you upvoted it)" in found[0]["why"][0] or "(you saved it)" in found[0]["why"][0]
    page = client.get("/for-you").text
    assert "Not interested" in page and "Linear attention transformers" in page
    cards = page.split('<article class="paper"')[1:]
    assert cards and all('<form class="dismiss"' in c.split("</article>")[0] for c in cards)
    dismissed = client.post("/for-you/dismiss", data={"paper": "2401.00071", "csrf_token": token})
    assert dismissed.status_code == 200 and "Linear attention transformers" not in dismissed.text
    user, gone = store.user_by_name("ada"), store.get_paper("2401.00071")
    assert user is not None and gone is not None
    assert store.user_dismissed(user.pk) == [gone.pk]
    undo = client.delete("/api/papers/2401.00071/dismiss", headers=headers)
    assert undo.json() == {"paper_id": "2401.00071", "dismissed": False}
    assert "2401.00071" in [p["arxiv_id"] for p in client.get("/api/for-you").json()["papers"]]


def test_not_interested_weighs_against_papers_like_it() -> None:
    """The model learns from "not interested": a paper like the dismissed one sinks."""
    made = [
        paper(
            1,
            "Attention for translation",
            "attention translation encoder",
            "A",
            "cs.CL",
            "2024-01-01",
        ),
        paper(
            2, "Attention for vision", "attention images pixels vision", "B", "cs.CV", "2024-01-01"
        ),
        paper(3, "Attention for speech", "attention speech audio", "C", "cs.SD", "2024-01-01"),
        paper(
            4,
            "More attention for vision",
            "attention images vision patches",
            "D",
            "cs.CV",
            "2024-01-01",
        ),
        paper(5, "Galaxies", "dark matter halos", "E", "astro-ph", "2024-01-01"),
    ]
    for i, p in enumerate(made):
        p.pk, p.id = i + 1, p.arxiv_id
    space = TfidfSpace(made)
    liked = [made[0]]
    before = recommend(space, made, liked, k=5, min_similarity=0.0)
    after = recommend(space, made, liked, k=5, min_similarity=0.0, dislikes=[made[1]])
    rank = lambda hits, pk: [h.paper.pk for h in hits if h.paper].index(pk)  # noqa: E731
    assert 2 not in [h.paper.pk for h in after if h.paper]  # the dismissed paper is gone
    score = {h.paper.pk: h.score for h in before if h.paper}
    score_after = {h.paper.pk: h.score for h in after if h.paper}
    # The other vision paper drops relative to the speech one.
    assert score_after[4] - score_after[3] < score[4] - score[3]
    assert rank(after, 3) < rank(after, 4)
