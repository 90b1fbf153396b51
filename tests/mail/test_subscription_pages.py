"""Subscribing, confirming, preferences, unsubscribe and delete through the running app,
following the links in mails a real SMTP server on loopback received."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from papertide.clock import utcnow
from papertide.config import Settings
from papertide.mail.digest import compose_due, links_for, site_search, user_votes
from papertide.mail.send import deliver_due
from papertide.store import Store, outbox
from papertide.store import subscriptions as subs
from papertide.web import create_app
from tests.conftest import serving
from tests.support.event_loop import watching_where
from tests.support.smtp_server import SmtpSink, add_papers, add_subscriber, mail_settings, smtp

__all__ = ["smtp"]


@pytest.fixture
def site(
    any_settings: Settings, smtp: SmtpSink, fixed_clock: datetime
) -> Iterator[tuple[TestClient, Settings]]:
    """The app on each backend (a fresh database each test), its clock fixed."""
    configured = mail_settings(any_settings, smtp)
    with serving(create_app(configured)) as client:
        yield client, configured


def _csrf(client: TestClient) -> str:
    client.get("/subscribe")
    token = client.cookies.get("pt_csrf")
    assert token
    return token


def _link(msg, pattern: str) -> str:
    text = msg.get_body(("plain",)).get_content()
    found = re.search(rf"http://testserver({pattern}/[\w.\-]+)", text)
    assert found, text
    return found.group(1)


def _store(client: TestClient) -> Store:
    store: Store = client.app.state.store  # type: ignore[attr-defined]
    return store


def test_double_opt_in_confirms_only_through_the_link(site, smtp) -> None:
    client, _ = site
    page = client.post(
        "/subscribe", data={"email": " Ada@Example.org ", "csrf_token": _csrf(client)}
    )
    assert page.status_code == 200 and "Check your inbox" in page.text
    [mail] = smtp.received
    assert mail["To"] == "ada@example.org" and "Confirm" in mail["Subject"]
    sub = subs.get_subscriber(_store(client), email="ada@example.org")
    assert sub is not None and sub.status == "pending"
    link = _link(mail, "/subscribe/confirm")
    assert "Confirm" in client.get(link).text  # a GET (link scanners) changes nothing
    assert subs.get_subscriber(_store(client), pk=sub.pk).status == "pending"
    done = client.post(link, data={"csrf_token": _csrf(client)})
    assert done.status_code == 200 and "Subscribed" in done.text
    assert subs.get_subscriber(_store(client), pk=sub.pk).status == "active"
    forged = client.get(link[:-3] + "xyz")
    assert forged.status_code == 400


def test_resubscribing_reveals_nothing_and_confirmations_are_rate_limited(site, smtp) -> None:
    client, settings = site
    token = _csrf(client)
    answers = [
        client.post("/subscribe", data={"email": "bob@example.org", "csrf_token": token}).text
        for _ in range(5)
    ]
    assert len(set(answers)) == 1
    assert len(smtp.received) == settings.mail.confirm_limit == 3
    other = client.post("/subscribe", data={"email": "new@example.org", "csrf_token": token})
    assert other.text == answers[0]
    bad = client.post("/subscribe", data={"email": "not-an-address", "csrf_token": token})
    assert bad.status_code == 422
    no_csrf = client.post("/subscribe", data={"email": "eve@example.org"})
    assert no_csrf.status_code == 403


def test_json_api_subscribes_with_the_same_answer(site, smtp) -> None:
    client, _ = site
    headers = {"X-CSRF-Token": _csrf(client)}
    body = {"email": "cy@example.org", "queries": ["sparse attention"], "frequency": "weekly"}
    first = client.post("/api/subscriptions", json=body, headers=headers)
    assert first.status_code == 202 and first.json()["status"] == "pending"
    bad = client.post("/api/subscriptions", json={"email": "nope"}, headers=headers)
    assert bad.status_code == 422
    sub = subs.get_subscriber(_store(client), email="cy@example.org")
    assert sub is not None and sub.prefs.queries == ["sparse attention"]
    assert sub.prefs.frequency == "weekly"


def _digest_mail(client: TestClient, settings: Settings, smtp: SmtpSink):
    store, now = _store(client), utcnow()
    add_papers(store, [{"title": "Sparse attention", "categories": ["cs.CL"]}], now=now)
    add_subscriber(store, "dee@example.org", now=now, categories=["cs.CL"])
    links, search = links_for(settings, store), site_search(settings, store)
    try:  # the real pipeline: the site's search and the subscribers' votes
        compose_due(
            store, links=links, now=now, weekly_day=0, search=search, votes=user_votes(store)
        )
    finally:
        search.close()
    deliver_due(store, mail=settings.mail, links=links)
    [mail] = smtp.received
    return mail


def test_preferences_link_from_a_digest_saves_and_validates(site, smtp) -> None:
    client, settings = site
    link = _link(_digest_mail(client, settings, smtp), "/subscription")
    page = client.get(link)
    assert page.status_code == 200 and "dee@example.org" in page.text
    form = {
        "csrf_token": _csrf(client),
        "frequency": "weekly",
        "send_hour": "9",
        "timezone": "Europe/Paris",
        "queries": "sparse attention\nprotein folding",
        "categories": "cs.CL, cs.LG",
        "authors": "Ada Lovelace",
        "exclude": "survey",
        "papers_per_mail": "5",
        "include_trending": "1",
    }
    saved = client.post(link, data=form)
    assert saved.status_code == 200 and "Saved." in saved.text
    prefs = subs.get_subscriber(_store(client), email="dee@example.org").prefs
    assert (prefs.frequency, prefs.send_hour, prefs.timezone) == ("weekly", 9, "Europe/Paris")
    assert prefs.queries == ["sparse attention", "protein folding"]
    assert (prefs.categories, prefs.exclude, prefs.papers_per_mail) == (
        ["cs.CL", "cs.LG"],
        ["survey"],
        5,
    )
    assert prefs.include_trending and not prefs.send_empty
    wrong = client.post(link, data={**form, "timezone": "Mars/Olympus"})
    assert wrong.status_code == 422 and "time zone" in wrong.text


def test_saving_preferences_writes_off_the_event_loop(site, smtp, monkeypatch) -> None:
    """The write runs in a thread: waiting for a lock there holds up no other connection."""
    client, settings = site
    link = _link(_digest_mail(client, settings, smtp), "/subscription")
    watched, where = watching_where(subs.save_preferences)
    monkeypatch.setattr(subs, "save_preferences", watched)
    form = {"csrf_token": _csrf(client), "frequency": "weekly", "send_hour": "9"}
    saved = client.post(link, data={**form, "timezone": "UTC", "papers_per_mail": "5"})
    assert saved.status_code == 200 and "Saved." in saved.text
    assert where == ["thread"]


def test_one_click_unsubscribe_works_without_login_or_cookies(site, smtp) -> None:
    client, settings = site
    mail = _digest_mail(client, settings, smtp)
    url = mail["List-Unsubscribe"].strip("<>")
    assert url.startswith("http://testserver/unsubscribe/")
    assert _link(mail, "/unsubscribe") == url.removeprefix("http://testserver")
    with TestClient(client.app) as mailbox:  # the mailbox provider: no cookies at all
        answer = mailbox.post(
            url,
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert answer.status_code == 200
    assert subs.get_subscriber(_store(client), email="dee@example.org").status == "unsubscribed"
    assert "Unsubscribe" in client.get(url.removeprefix("http://testserver")).text


def test_delete_my_data_asks_first_and_then_removes_everything(site, smtp) -> None:
    client, settings = site
    link = _link(_digest_mail(client, settings, smtp), "/subscription")
    # The preferences page's button only opens the confirmation page (a GET form: no script).
    prefs = client.get(link).text
    assert f'method="get" action="{link}/delete"' in prefs
    asked = client.get(f"{link}/delete")
    assert asked.status_code == 200 and "cannot be undone" in asked.text
    assert 'name="confirm" value="yes"' in asked.text
    assert subs.get_subscriber(_store(client), email="dee@example.org") is not None
    # A post without the confirmation (an old form, a stray request) deletes nothing.
    unconfirmed = client.post(f"{link}/delete", data={"csrf_token": _csrf(client)})
    assert unconfirmed.status_code == 200 and "cannot be undone" in unconfirmed.text
    assert subs.get_subscriber(_store(client), email="dee@example.org") is not None
    gone = client.post(f"{link}/delete", data={"csrf_token": _csrf(client), "confirm": "yes"})
    assert gone.status_code == 200 and "gone" in gone.text
    assert subs.get_subscriber(_store(client), email="dee@example.org") is None
    assert outbox.outbox_counts(_store(client)) == {}
    assert client.get(link).status_code == 410


def test_tokens_are_per_purpose_and_confirm_links_expire() -> None:
    from papertide.mail.tokens import BadToken, make_token, read_token

    token = make_token("k", "confirm", subscriber_pk=7, email="a@b.org")
    assert read_token("k", "confirm", token, max_age=60) == (7, "a@b.org")
    with pytest.raises(BadToken) as expired:
        read_token("k", "confirm", token, max_age=-1)
    assert expired.value.expired
    with pytest.raises(BadToken):
        read_token("k", "unsubscribe", token)
    with pytest.raises(BadToken):
        read_token("other key", "confirm", token, max_age=60)


def _register(client: TestClient, name: str, email: str) -> None:
    data = {
        "username": name,
        "email": email,
        "password": "correct horse battery",
        "csrf_token": _csrf(client),
    }
    assert client.post("/register", data=data, follow_redirects=False).status_code == 303


def test_an_account_with_a_subscribers_address_gets_nothing_of_theirs(site, smtp) -> None:
    """Registering with a victim's address hands over nothing of their subscription (its
    preferences and "Delete my data") through /subscription; it once did."""
    client, _ = site
    store = _store(client)
    victim = add_subscriber(store, "victim@example.org", now=utcnow(), queries=["secret topic"])
    with TestClient(client.app) as attacker:
        _register(attacker, "mallory", "victim@example.org")
        page = attacker.get("/subscription", follow_redirects=False)
        assert page.status_code == 200, page.headers.get("location")
        assert "secret topic" not in page.text and "Delete" not in page.text
        asked = attacker.post(
            "/account/link-subscription", data={"csrf_token": attacker.cookies["pt_csrf"]}
        )
        assert asked.status_code == 200
        [mail] = smtp.received  # the link goes to the address, not to the attacker
        assert mail["To"] == "victim@example.org"
        again = attacker.get("/subscription", follow_redirects=False)
        assert again.status_code == 200
    [active] = subs.active_subscribers(store)
    assert active.pk == victim.pk and active.user_pk is None  # no votes of mallory's used
    assert subs.get_subscriber(store, pk=victim.pk) is not None


def test_the_address_owner_ties_the_subscription_through_the_mailed_link(site, smtp) -> None:
    client, _ = site
    store = _store(client)
    sub = add_subscriber(store, "ada@example.org", now=utcnow())
    _register(client, "ada", "ada@example.org")
    client.post("/account/link-subscription", data={"csrf_token": _csrf(client)})
    [mail] = smtp.received
    link = _link(mail, "/account/link-subscription")
    with TestClient(client.app) as other:  # signed in as nobody: asked to log in
        assert other.get(link, follow_redirects=False).headers["location"].startswith("/login")
    assert "Tie" in client.get(link).text  # a GET ties nothing
    assert subs.get_subscriber(store, pk=sub.pk).user_pk is None
    tied = client.post(link, data={"csrf_token": _csrf(client)}, follow_redirects=False)
    assert tied.status_code == 303
    assert subs.get_subscriber(store, pk=sub.pk).user_pk is not None
    prefs = client.get("/subscription")
    assert prefs.status_code == 200 and "ada@example.org" in prefs.text


def test_an_address_taken_by_a_squatter_is_still_tied_by_its_owner(site, smtp) -> None:
    """Registering first with someone's address must not keep them from tying their own
    digests: the link goes to the address typed, and following it proves it."""
    client, _ = site
    store = _store(client)
    sub = add_subscriber(store, "vic@example.org", now=utcnow(), queries=["private topic"])
    with TestClient(client.app) as squatter:
        _register(squatter, "squatter", "vic@example.org")
        squatter.post("/account/link-subscription", data={"csrf_token": _csrf(squatter)})
    _register(client, "vic", "vic@example.org")  # the address is taken: the account keeps none
    assert store.user_by_name("vic").email is None
    page = client.get("/subscription")
    assert 'name="email"' in page.text and "private topic" not in page.text
    smtp.received.clear()
    asked = client.post(
        "/account/link-subscription",
        data={"csrf_token": _csrf(client), "email": " Vic@Example.org "},
    )
    assert asked.status_code == 200 and "on its way" in asked.text
    [mail] = smtp.received
    assert mail["To"] == "vic@example.org"
    link = _link(mail, "/account/link-subscription")
    with TestClient(client.app) as squatter:  # the squatter, signed in, cannot use it
        data = {"username": "squatter", "password": "correct horse battery"}
        squatter.get("/login")
        squatter.post("/login", data={**data, "csrf_token": _csrf(squatter)})
        refused = squatter.post(link, data={"csrf_token": _csrf(squatter)})
        assert refused.status_code == 400 and "another account" in refused.text
    tied = client.post(link, data={"csrf_token": _csrf(client)}, follow_redirects=False)
    assert tied.status_code == 303
    assert subs.get_subscriber(store, pk=sub.pk).user_pk == store.user_by_name("vic").pk
    assert "private topic" in client.get("/subscription").text


def test_asking_for_a_link_to_an_unknown_or_bad_address(site, smtp) -> None:
    client, _ = site
    _register(client, "cyd", "cyd@example.org")
    unknown = client.post(
        "/account/link-subscription",
        data={"csrf_token": _csrf(client), "email": "nobody@example.org"},
    )
    assert unknown.status_code == 200 and "on its way" in unknown.text
    assert smtp.received == []  # the same answer, and no mail: it does not subscribe
    bad = client.post(
        "/account/link-subscription", data={"csrf_token": _csrf(client), "email": "not an address"}
    )
    assert bad.status_code == 422 and "valid email" in bad.text


def test_confirming_while_signed_in_with_that_address_ties_the_account(site, smtp) -> None:
    client, _ = site
    _register(client, "bea", "bea@example.org")
    client.post("/subscribe", data={"email": "bea@example.org", "csrf_token": _csrf(client)})
    [mail] = smtp.received
    client.post(_link(mail, "/subscribe/confirm"), data={"csrf_token": _csrf(client)})
    sub = subs.get_subscriber(_store(client), email="bea@example.org")
    assert sub is not None and sub.status == "active" and sub.user_pk is not None
    assert "bea@example.org" in client.get("/subscription").text


def test_registering_does_not_tell_whether_an_address_has_an_account(site, smtp) -> None:
    """No answer tells who has an account ("That username or email is taken" once did)."""
    client, _ = site
    with TestClient(client.app) as owner:
        _register(owner, "owner", "owner@example.org")
    answers = {}
    for name, email in (("newcomer", "fresh@example.org"), ("prober", "owner@example.org")):
        with TestClient(client.app) as visitor:
            data = {
                "username": name,
                "email": email,
                "password": "correct horse battery",
                "csrf_token": _csrf(visitor),
            }
            answer = visitor.post("/register", data=data, follow_redirects=False)
            assert answer.status_code == 303
            page = visitor.get("/subscription")
            shown = re.sub(r'value="[\w.\-]+"', "", page.text).replace(name, "NAME")
            answers[name] = (answer.headers["location"].replace(name, "NAME"), shown)
            assert email not in page.text and email not in visitor.get("/subscribe").text
    assert answers["newcomer"] == answers["prober"]
    [notice] = smtp.received  # the address's owner hears of it; the prober learns nothing
    assert (
        notice["To"] == "owner@example.org"
        and '"prober"' in notice.get_body(("plain",)).get_content()
    )
    store = _store(client)
    assert store.user_by_name("prober").email is None
    assert store.user_by_name("owner").email == "owner@example.org"
    with TestClient(client.app) as again:
        data = {"username": "owner", "password": "another good one", "csrf_token": _csrf(again)}
        taken = again.post("/register", data=data)
        assert taken.status_code == 400 and "That username is taken." in taken.text


def test_the_unsubscribe_page_stops_mail_and_offers_only_coming_back(site, smtp) -> None:
    """Holding the List-Unsubscribe URL gives no preferences link ("Delete my data"); the
    page once handed it to anyone."""
    client, settings = site
    mail = _digest_mail(client, settings, smtp)
    url = _link(mail, "/unsubscribe")
    with TestClient(client.app) as stranger:
        stranger.get(url)
        done = stranger.post(url, data={"csrf_token": stranger.cookies["pt_csrf"]})
        assert done.status_code == 200 and "No more digests" in done.text
        assert "/subscription/" not in done.text and "Delete" not in done.text
        store = _store(client)
        assert subs.get_subscriber(store, email="dee@example.org").status == "unsubscribed"
        back = stranger.post(f"{url}/undo", data={"csrf_token": stranger.cookies["pt_csrf"]})
        assert back.status_code == 200 and "/subscription/" not in back.text
    assert subs.get_subscriber(store, email="dee@example.org").status == "active"


def test_topics_have_count_and_length_limits_everywhere(site, smtp) -> None:
    """Topics are capped in count and length (twenty 45 KB topics were once saved, and the
    preview went from 3.6 s to 12.8 s)."""
    client, settings = site
    token = _csrf(client)
    huge = "sparse attention " * 30  # 510 characters
    form = client.post(
        "/subscribe", data={"email": "a@example.org", "queries": huge, "csrf_token": token}
    )
    assert form.status_code == 422 and "at most 200 characters" in form.text
    many = "\n".join(f"topic {i}" for i in range(21))
    form = client.post(
        "/subscribe", data={"email": "a@example.org", "queries": many, "csrf_token": token}
    )
    assert form.status_code == 422 and "at most 20 topics" in form.text
    headers = {"X-CSRF-Token": token}
    api = client.post(
        "/api/subscriptions", json={"email": "b@example.org", "queries": [huge]}, headers=headers
    )
    assert api.status_code == 422 and "at most 200" in api.json()["error"]
    assert subs.get_subscriber(_store(client), email="a@example.org") is None
    assert subs.get_subscriber(_store(client), email="b@example.org") is None
    link = _link(_digest_mail(client, settings, smtp), "/subscription")
    prefs = {"csrf_token": _csrf(client), "queries": huge, "authors": "x" * 101}
    saved = client.post(link, data=prefs)
    assert saved.status_code == 422 and "at most 200 characters" in saved.text
    saved = client.post(link, data={**prefs, "queries": "fine", "authors": "Ada Lovelace"})
    assert saved.status_code == 200
    assert subs.get_subscriber(_store(client), email="dee@example.org").prefs.queries == ["fine"]
    fourty = client.post(link, data={**prefs, "queries": "\n".join(["q"] * 21), "authors": ""})
    assert fourty.status_code == 422 and "at most 20 topics" in fourty.text


def test_stored_preferences_over_the_limits_are_cut() -> None:
    from papertide.mail.records import Preferences

    prefs = Preferences.from_json({"queries": ["x" * 45_000] * 30, "authors": ["a"] * 60})
    assert len(prefs.queries) == 20 and {len(q) for q in prefs.queries} == {200}
    assert len(prefs.authors) == 50
