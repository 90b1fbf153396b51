"""Failed logins are limited per account and per address, and only failures count: a lab
behind one NAT signing in all day is never locked out; a success resets the failures; a 429
says when to retry, in Retry-After and on the page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from papertide.config import Settings
from papertide.web import create_app
from papertide.web.features.accounts import login_limit
from tests.conftest import serving

PASSWORD = "a long enough passphrase"
NOW = datetime(2026, 12, 2, 9, 0, 0)


class Clock:
    """An injected clock for the limiter: starts at NOW, moved by hand."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The limiter's clock, under the test's control."""
    made = Clock()
    monkeypatch.setattr(login_limit, "utcnow", made)
    return made


def _app(settings: Settings, **limits: int) -> Iterator[TestClient]:
    with serving(create_app(settings.model_copy(update=limits))) as client:
        yield client


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """The app with small limits: 3 failures an account, 5 an address, in 15 minutes."""
    yield from _app(settings, login_failures_per_account=3, login_failures_per_address=5)


def _register(client: TestClient, name: str) -> None:
    client.get("/register")
    data = {"username": name, "password": PASSWORD, "csrf_token": client.cookies["pt_csrf"]}
    assert client.post("/register", data=data, follow_redirects=False).status_code == 303
    client.cookies.clear()


def _login(client: TestClient, name: str, password: str = PASSWORD) -> tuple[int, str, str]:
    client.cookies.clear()
    client.get("/login")
    data = {"username": name, "password": password, "csrf_token": client.cookies["pt_csrf"]}
    response = client.post("/login", data=data, follow_redirects=False)
    return response.status_code, response.headers.get("retry-after", ""), response.text


def test_a_lab_behind_one_address_is_never_locked_out(settings: Settings, clock: Clock) -> None:
    # Before: every login counted toward 20 an hour per address, successes included.
    for client in _app(settings):
        for name in ("ada", "grace", "alan"):
            _register(client, name)
        codes = [_login(client, ("ada", "grace", "alan")[n % 3])[0] for n in range(45)]
        assert codes == [303] * 45


def test_failures_lock_the_account_and_say_when_to_retry(client: TestClient, clock: Clock) -> None:
    _register(client, "ada")
    assert [_login(client, "ada", "wrong password")[0] for _ in range(3)] == [401] * 3
    clock.now = NOW + timedelta(minutes=5)
    code, retry, page = _login(client, "ada")  # even the right password, for now
    assert code == 429
    assert int(retry) == 10 * 60  # the first failure leaves the 15-minute window then
    assert "Too many failed attempts for this account; try again in 10 minutes" in page
    assert "(at 09:15 UTC)" in page
    _register(client, "grace")
    assert _login(client, "grace")[0] == 303  # another account from the same address
    clock.now = NOW + timedelta(minutes=15, seconds=1)
    assert _login(client, "ADA")[0] == 303  # the window has passed


def test_a_success_resets_the_failures(client: TestClient, clock: Clock) -> None:
    _register(client, "ada")
    for _ in range(4):
        assert [_login(client, "ada", "typo typo")[0] for _ in range(2)] == [401, 401]
        assert _login(client, "ada")[0] == 303


def test_failures_across_accounts_lock_the_address(client: TestClient, clock: Clock) -> None:
    _register(client, "ada")
    for n in range(4):  # password spraying: one guess on each of several accounts
        assert _login(client, f"user{n}", "guess guess")[0] == 401
    # The sprayer's own successful login does not wash its failures on others away.
    assert _login(client, "ada")[0] == 303
    assert _login(client, "user4", "guess guess")[0] == 401
    code, retry, page = _login(client, "ada")
    assert code == 429 and 0 < int(retry) <= 15 * 60
    assert "Too many failed attempts from your address" in page
    clock.now = NOW + timedelta(minutes=16)
    assert _login(client, "ada")[0] == 303
