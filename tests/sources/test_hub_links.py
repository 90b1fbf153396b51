"""What papers led to: the Hub's lists of models, datasets and Spaces citing a paper, and
GitHub stars, parsed from recorded answers and synced from a loopback server into both
database backends."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from papertide.config import Settings
from papertide.hub_sync import sync_hub
from papertide.models import HubLinks, HubRepo, hub_repo_url, is_hub_repo
from papertide.sources.github import github_repo, parse_stars
from papertide.sources.hf_hub import HubAnswerError, parse_repos
from papertide.sources.http import BadBody
from papertide.store import Store
from tests.support.fixture_server import FixtureServer, Reply, fixture, json_reply
from tests.support.hub_service import HubService, add_paper, hub_settings

DAY = date(2026, 11, 21)
NOW = datetime(2026, 11, 21, 12, 0)


@pytest.fixture
def server() -> Iterator[FixtureServer]:
    with FixtureServer() as srv:
        srv.handler = HubService()
        yield srv


def test_a_list_answer_gives_its_repositories_most_liked_first() -> None:
    repos = parse_repos(fixture("hf", "hub", "models_2411.00001.json"), "model")
    assert [(r.repo, r.likes, r.downloads) for r in repos] == [
        ("example/sparse-attn-7b", 214, 18342),
        ("example/sparse-attn-1b", 57, 4210),
        ("TheBloke/sparse-attn-7b-GGUF", 9, 977),
    ]
    assert repos[0].updated == datetime(2026, 11, 19, 10, 12, 3)  # createdAt, no lastModified
    (dataset,) = parse_repos(fixture("hf", "hub", "datasets_2411.00001.json"), "dataset")
    assert dataset.updated == datetime(2026, 11, 21, 8, 15)  # lastModified
    assert dataset.url == "https://huggingface.co/datasets/example/long-docs-eval"
    spaces = parse_repos(fixture("hf", "hub", "spaces_2411.00001.json"), "space")
    assert spaces[0].url == "https://huggingface.co/spaces/example/sparse-attn-demo"
    assert spaces[0].downloads is None


@pytest.mark.parametrize(
    ("body", "error", "words"),
    [
        (b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>", BadBody, "HTML page"),
        (b'[{"id": "example/a", "likes": 3}, {"id": "exa', BadBody, "truncated"),
        (b"", BadBody, "empty body"),
        (b'{"id": "example/a"}', BadBody, "expected a JSON array"),
        (fixture("hf", "hub", "models_bad_item.json"), HubAnswerError, "item 2: 'likes'"),
        (fixture("hf", "hub", "models_bad_id.json"), HubAnswerError, "not a repository id"),
        (b'[{"likes": 3}]', HubAnswerError, "no repository 'id'"),
        (b'[{"id": "a/b", "likes": 1, "lastModified": 5}]', HubAnswerError, "should be a time"),
    ],
)
def test_an_unusable_answer_is_a_clear_error(body: bytes, error: type, words: str) -> None:
    with pytest.raises(error, match=words) as raised:
        parse_repos(body, "model", origin="huggingface.co/api/models")
    if error is HubAnswerError:
        assert "hf-hub: huggingface.co/api/models" in str(raised.value)


def test_only_strict_repository_ids_become_links() -> None:
    assert is_hub_repo("example/sparse-attn-7b") and is_hub_repo("gpt2")
    for bad in ("javascript:alert(1)", "a/b/c", "../etc", "a/..", "a/b.", "", "a b/c", "é/x"):
        assert not is_hub_repo(bad), bad
        assert hub_repo_url("model", bad) is None
    assert HubRepo("space", "x/<script>").url is None


def test_github_urls_and_answers() -> None:
    assert github_repo("https://github.com/example/sparse-attn") == ("example", "sparse-attn")
    assert github_repo("https://github.com/example/sparse-attn.git") == ("example", "sparse-attn")
    assert github_repo("https://github.com/example/sparse-attn/tree/main/src") == (
        "example",
        "sparse-attn",
    )
    for other in (
        "https://gitlab.com/a/b",
        "https://github.com/example",
        "http://x/github.com/a/b",
    ):
        assert github_repo(other) is None
    assert parse_stars(fixture("github", "repo.json")) == 431
    with pytest.raises(BadBody, match="HTML"):
        parse_stars(b"<html><body>Unicorn!</body></html>")


def test_a_round_stores_the_repositories_of_the_papers_in_the_feeds(
    any_settings: Settings, any_store: Store, server: FixtureServer
) -> None:
    cited = add_paper(any_store, "2411.00001", day=DAY)
    quiet = add_paper(any_store, "2411.00002", day=DAY - timedelta(days=1))
    old = add_paper(any_store, "2301.00003", day=DAY - timedelta(days=40))
    no_arxiv = add_paper(any_store, None, title="A paper without an arXiv id", day=DAY)
    settings = hub_settings(any_settings, server, hub_recent_days=3)
    report = sync_hub(any_store, settings, now=NOW)
    assert (report.papers, report.repos, report.failed) == (2, 6, 0)
    asked = {s.query["filter"] for s in server.requests}
    assert asked == {"arxiv:2411.00001", "arxiv:2411.00002"}  # not the old one, nor no arXiv id
    first = server.requests[0]
    assert first.path == "/api/models" and first.query["sort"] == "likes"
    assert first.headers["User-Agent"].startswith("papertide/")
    links = any_store.hub_links(cited.pk or 0)
    assert [(r.kind, r.repo) for r in links.of("space")] == [
        ("space", "example/sparse-attn-demo"),
        ("space", "someone/attention-visualiser"),
    ]
    counts = any_store.hub_counts([cited.pk or 0, quiet.pk or 0, old.pk or 0, no_arxiv.pk or 0])
    assert list(counts) == [cited.pk]  # papers cited by nothing have no counts
    assert (counts[cited.pk or 0].models, counts[cited.pk or 0].spaces) == (3, 2)
    assert any_store.hub_links(quiet.pk or 0).checked == NOW


def test_papers_are_asked_again_only_after_the_refresh_interval(
    any_settings: Settings, any_store: Store, server: FixtureServer
) -> None:
    paper = add_paper(any_store, "2411.00001", day=DAY)
    settings = hub_settings(any_settings, server, hub_refresh_hours=24)
    sync_hub(any_store, settings, now=NOW)
    asked = len(server.requests)
    assert sync_hub(any_store, settings, now=NOW + timedelta(hours=23)).papers == 0
    assert len(server.requests) == asked
    # A day later the Hub lists one Space fewer: the stored list is replaced, not added to.
    server.handler = HubService({("models", "2411.00001"): "models_2411.00001.json"})
    assert sync_hub(any_store, settings, now=NOW + timedelta(hours=25)).papers == 1
    links = any_store.hub_links(paper.pk or 0)
    assert {r.kind for r in links.repos} == {"model"} and len(links.repos) == 3


def test_a_round_is_bounded_and_takes_trending_and_listed_papers(
    any_settings: Settings, any_store: Store, server: FixtureServer
) -> None:
    for n in range(5):
        add_paper(any_store, f"2411.0010{n}", day=DAY)
    voted = add_paper(any_store, "2410.00200", day=DAY - timedelta(days=10), upvotes=40)
    add_paper(any_store, "2410.00300", day=DAY - timedelta(days=10))  # neither
    saved = add_paper(any_store, "2001.00400", day=date(2020, 1, 2))
    user = any_store.create_user(username="ada", email=None, password_hash="x", now=NOW)
    shelf = any_store.create_list(user_pk=user.pk, name="Reading", public=False, now=NOW)
    any_store.set_saved(list_pk=shelf.pk, paper_pk=saved.pk or 0, saved=True, now=NOW)
    settings = hub_settings(any_settings, server, hub_papers_per_round=3)
    assert sync_hub(any_store, settings, now=NOW).papers == 3
    assert sync_hub(any_store, settings, now=NOW).papers == 3
    assert sync_hub(any_store, settings, now=NOW).papers == 1
    asked = {s.query["filter"].removeprefix("arxiv:") for s in server.requests}
    assert asked == {f"2411.0010{n}" for n in range(5)} | {"2410.00200", "2001.00400"}
    assert voted.arxiv_id in asked


def test_a_bad_answer_stores_nothing_and_keeps_the_paper_due(
    any_settings: Settings,
    any_store: Store,
    server: FixtureServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    paper = add_paper(any_store, "2411.00001", day=DAY)
    settings = hub_settings(any_settings, server, hub_refresh_hours=1)
    sync_hub(any_store, settings, now=NOW)
    before = any_store.hub_links(paper.pk or 0)
    bad = {("models", "2411.00001"): "models_2411.00001.json"}
    bad[("spaces", "2411.00001")] = "models_bad_item.json"  # type: ignore[assignment]
    later = NOW + timedelta(hours=2)
    for handler in (
        HubService(bad),
        HubService({("datasets", "2411.00001"): Reply(fixture("hf", "down.html"), 200)}),
        HubService({("models", "2411.00001"): Reply(b'[{"id": "a/b", "likes"', truncate_at=30)}),
    ):
        server.handler = handler
        with caplog.at_level(logging.WARNING, logger="papertide"):
            report = sync_hub(any_store, settings, now=later)
        assert (report.papers, report.failed) == (0, 1)
        assert report.problems[0].startswith("arXiv 2411.00001: hf-hub")
        after = any_store.hub_links(paper.pk or 0)
        assert after.repos == before.repos and after.checked == NOW  # untouched, still due
    assert "item 2: 'likes' should be a count" in caplog.text


def test_the_hub_lists_more_than_are_kept(
    any_settings: Settings, any_store: Store, server: FixtureServer
) -> None:
    paper = add_paper(any_store, "2411.00001", day=DAY)
    sync_hub(any_store, hub_settings(any_settings, server, hub_repos_per_kind=2), now=NOW)
    assert server.requests[0].query["limit"] == "3"  # one more than kept, to know
    links = any_store.hub_links(paper.pk or 0)
    assert [r.repo for r in links.of("model")] == [
        "example/sparse-attn-7b",
        "example/sparse-attn-1b",
    ]
    assert links.more == {"model"}
    assert any_store.hub_counts([paper.pk or 0])[paper.pk or 0].more == {"model"}


def test_three_failures_in_a_row_end_the_round(
    any_settings: Settings, any_store: Store, server: FixtureServer
) -> None:
    for n in range(6):
        add_paper(any_store, f"2411.0020{n}", day=DAY)
    server.handler = lambda seen: Reply(b"busy", status=503)
    report = sync_hub(any_store, hub_settings(any_settings, server, retries=0), now=NOW)
    assert report.failed == 3 and len(server.requests) == 3
    assert "3 failures in a row" in report.problems[-1]


def test_github_stars_are_kept_current(
    any_settings: Settings,
    any_store: Store,
    server: FixtureServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code = add_paper(
        any_store, "2411.00001", day=DAY, url_code="https://github.com/example/sparse-attn"
    )
    gone = add_paper(any_store, "2411.00002", day=DAY, url_code="https://github.com/example/gone")
    add_paper(any_store, "2411.00003", day=DAY, url_code="https://gitlab.com/example/x")
    server.handler = HubService(stars={"example/sparse-attn": 431})
    secret = tmp_path / "github-token"
    secret.write_text("ghp_recordedtoken\n")
    monkeypatch.setenv("PAPERTIDE_SYNC__GITHUB_TOKEN_FILE", str(secret))
    base = Settings(data_dir=any_settings.data_dir, database_url=any_settings.database_url)
    assert base.sync.github_token == "ghp_recordedtoken"
    settings = hub_settings(base, server, github_token=base.sync.github_token)
    report = sync_hub(any_store, settings, now=NOW)
    assert (report.stars_checked, report.stars_changed, report.failed) == (2, 1, 0)
    repo_calls = [s for s in server.requests if s.path.startswith("/repos/")]
    assert sorted(s.path for s in repo_calls) == [
        "/repos/example/gone",
        "/repos/example/sparse-attn",
    ]
    assert all(s.headers["Authorization"] == "Bearer ghp_recordedtoken" for s in repo_calls)
    assert any_store.get_paper(code.id or "").github_stars == 431  # type: ignore[union-attr]
    assert any_store.get_paper(gone.id or "").github_stars is None  # type: ignore[union-attr]
    server.requests.clear()  # checked, the gone one too: not asked again within the interval
    assert sync_hub(any_store, settings, now=NOW + timedelta(hours=1)).stars_checked == 0


def test_githubs_rate_limit_ends_the_stars_part_of_the_round(
    any_settings: Settings, any_store: Store, server: FixtureServer
) -> None:
    for n in range(3):
        add_paper(any_store, f"2411.0030{n}", day=DAY, url_code=f"https://github.com/ex/r{n}")
    limited = json_reply(fixture("github", "rate_limited.json"), status=403)
    server.handler = HubService(stars={f"ex/r{n}": limited for n in range(3)})
    report = sync_hub(any_store, hub_settings(any_settings, server), now=NOW)
    assert report.stars_checked == 0 and report.failed == 1
    assert len([s for s in server.requests if s.path.startswith("/repos/")]) == 1
    assert "HTTP 403" in report.problems[0]


def test_links_of_a_paper_never_checked_are_empty(any_store: Store) -> None:
    paper = add_paper(any_store, "2411.00001", day=DAY)
    assert any_store.hub_links(paper.pk or 0) == HubLinks()
    assert any_store.hub_counts([paper.pk or 0]) == {}
