"""Author claims: a signed-in account says an author page is theirs, a moderator confirms it;
the confirmed page links the profile and the profile lists the papers. One page has at most
one confirmed account, also when two moderators decide at the same moment."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from papertide.cli import app as cli_app
from papertide.config import Settings
from papertide.store import ClaimError, Store
from papertide.web import create_app
from tests.conftest import serving
from tests.support.search_corpus import add_papers, paper

PAGE = "/authors/St%C3%A9phane%20Mallat"
PAPERS = [
    replace(
        paper(1, "Wavelet scattering", "Scattering.", "x", "cs.CV", "2024-01-05"),
        authors=["Stéphane Mallat", "Joan Bruna"],
    ),
    replace(
        paper(2, "A wavelet tour", "A tour.", "x", "eess.SP", "2024-03-01"),
        authors=["Stephane Mallat"],
    ),
]


@pytest.fixture
def site(settings: Settings) -> Iterator[tuple[TestClient, Store, Settings]]:
    store = Store.open(settings.resolved_database_url)
    add_papers(store, settings, PAPERS)
    with serving(create_app(settings)) as client:
        yield client, store, settings
    store.close()


def _signed_in(client: TestClient, name: str) -> tuple[TestClient, str]:
    """A fresh browser session of a new account on the same app, and its CSRF token."""
    other = TestClient(client.app)
    other.__enter__()  # the app is already started by the first client's lifespan
    other.get("/login")
    data = {
        "username": name,
        "password": "analytical engine",
        "csrf_token": other.cookies["pt_csrf"],
    }
    assert other.post("/register", data=data, follow_redirects=False).status_code == 303
    other.get("/login")
    return other, other.cookies["pt_csrf"]


def _moderator(settings: Settings, name: str) -> None:
    granted = CliRunner().invoke(
        cli_app, ["--data-dir", str(settings.data_dir), "users", "moderator", name]
    )
    assert granted.exit_code == 0, granted.output


def test_a_confirmed_claim_links_page_and_profile(site) -> None:
    client, store, settings = site
    ada, ada_token = _signed_in(client, "ada")
    page = ada.get(PAGE).text
    assert "This is me: claim this page" in page
    claimed = ada.post(f"{PAGE}/claim", data={"csrf_token": ada_token}, follow_redirects=False)
    assert claimed.status_code == 303
    ada.post(f"{PAGE}/claim", data={"csrf_token": ada_token})  # twice: still one claim
    assert len(store.author_claims("stephane mallat")) == 1
    assert "Your claim on this page waits for a moderator." in ada.get(PAGE).text
    assert "confirmed this page as" not in client.get(PAGE).text  # not before a moderator
    claim = store.author_claims("stephane mallat")[0]
    # Nobody but a moderator decides, and not without the form's token.
    refused = ada.post(
        f"{PAGE}/claims/{claim.pk}", data={"csrf_token": ada_token, "confirm": "true"}
    )
    assert refused.status_code == 403
    mod, mod_token = _signed_in(client, "mod")
    _moderator(settings, "mod")
    assert "Confirm ada" in mod.get(PAGE).text
    assert mod.post(f"{PAGE}/claims/{claim.pk}", data={"confirm": "true"}).status_code in (400, 403)
    done = mod.post(
        f"{PAGE}/claims/{claim.pk}",
        data={"csrf_token": mod_token, "confirm": "true"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    public = client.get(PAGE).text
    assert 'confirmed this page as <a href="/users/ada">ada</a>' in public
    assert client.get("/api/authors/Stephane Mallat").json()["claimed_by"] == "ada"
    profile = client.get("/users/ada").text
    assert "Wavelet scattering" in profile and "A wavelet tour" in profile
    assert profile.index("A wavelet tour") < profile.index("Wavelet scattering")  # newest first


def test_a_second_account_cannot_be_confirmed_until_the_first_is_rejected(site) -> None:
    client, store, settings = site
    for name in ("ada", "bob"):
        who, token = _signed_in(client, name)
        who.post(f"{PAGE}/claim", data={"csrf_token": token})
    mod, mod_token = _signed_in(client, "mod")
    _moderator(settings, "mod")
    ada, bob = sorted(store.author_claims("stephane mallat"), key=lambda c: c.username)
    mod.post(f"{PAGE}/claims/{ada.pk}", data={"csrf_token": mod_token, "confirm": "true"})
    second = mod.post(f"{PAGE}/claims/{bob.pk}", data={"csrf_token": mod_token, "confirm": "true"})
    assert second.status_code == 409 and "reject that claim first" in second.text
    mod.post(f"{PAGE}/claims/{ada.pk}", data={"csrf_token": mod_token, "confirm": "false"})
    mod.post(f"{PAGE}/claims/{bob.pk}", data={"csrf_token": mod_token, "confirm": "true"})
    assert [c.username for c in store.author_claims("stephane mallat")] == ["bob"]
    assert (
        mod.post(
            f"{PAGE}/claims/999999", data={"csrf_token": mod_token, "confirm": "true"}
        ).status_code
        == 404
    )
    assert (
        mod.post(
            f"{PAGE}/claims/99999999999999999999", data={"csrf_token": mod_token, "confirm": "true"}
        ).status_code
        == 422
    )


def test_two_moderators_confirming_at_once_leave_one_owner(any_store: Store) -> None:
    now = datetime(2026, 12, 6)
    pks = [
        any_store.create_user(username=f"u{i}", email=None, password_hash="x", now=now).pk
        for i in range(2)
    ]
    for pk in pks:
        any_store.claim_author(user_pk=pk, name="Ada Lovelace", name_key="ada lovelace", now=now)
    claims = any_store.author_claims("ada lovelace")
    barrier, outcomes = threading.Barrier(2), []

    def confirm(claim_pk: int) -> None:
        barrier.wait()
        try:
            any_store.decide_claim(pk=claim_pk, moderator_pk=pks[0], confirm=True, now=now)
            outcomes.append("confirmed")
        except ClaimError:
            outcomes.append("refused")

    threads = [threading.Thread(target=confirm, args=(c.pk,)) for c in claims]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["confirmed", "refused"]
    assert sum(c.confirmed for c in any_store.author_claims("ada lovelace")) == 1
