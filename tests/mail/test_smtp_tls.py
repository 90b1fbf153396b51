"""Mail over STARTTLS and implicit TLS with SMTP login, against aiosmtpd on loopback with a
certificate the test makes (openssl), and a server that cannot be reached: the outbox keeps
every digest and sends it, once, when the server is back."""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from papertide.config import Settings
from papertide.mail.digest import compose_due, links_for
from papertide.mail.send import SendReport, deliver_due
from papertide.store import Store, outbox
from papertide.store import subscriptions as subs
from tests.conftest import FIXED_NOW
from tests.support.smtp_server import (
    SmtpSink,
    _free_port,
    add_papers,
    add_subscriber,
    mail_settings,
)

USER, PASSWORD = "digest-bot", "s3cret pass"
# aiosmtpd warns when AUTH is allowed before STARTTLS; on the implicit-TLS server it is TLS.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, and its key."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost"),
            *("-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


@pytest.fixture
def trusted(certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test certificate trusted the way an operator trusts a private CA: SSL_CERT_FILE
    (read by ssl.create_default_context, which the mailer uses; verification stays on)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    return certificate[0]


class Logins:
    """aiosmtpd authenticator: accepts USER/PASSWORD only, and records every attempt."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, bool]] = []

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any):
        assert isinstance(data, LoginPassword)
        login, password = data.login.decode(), data.password.decode()
        ok = (login, password) == (USER, PASSWORD)
        self.seen.append((mechanism, login, ok))
        return AuthResult(success=ok, handled=False)


def _server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*map(str, certificate))
    return context


@pytest.fixture(params=["starttls", "tls"])
def tls_smtp(
    request: pytest.FixtureRequest, certificate: tuple[Path, Path]
) -> Iterator[tuple[SmtpSink, Logins, str]]:
    """An SMTP server that needs a login: STARTTLS first (port-587 style), or TLS from the
    first byte (port-465 style)."""
    sink, logins = SmtpSink(port=_free_port()), Logins()
    context = _server_context(certificate)
    common: dict[str, Any] = {"hostname": "127.0.0.1", "port": sink.port}
    common["authenticator"] = logins
    common["auth_required"] = True
    if request.param == "starttls":
        controller = Controller(
            sink, tls_context=context, require_starttls=True, auth_require_tls=True, **common
        )
    else:
        controller = Controller(sink, ssl_context=context, auth_require_tls=False, **common)
    controller.start()
    yield sink, logins, request.param
    controller.stop()


def _outbox_with_one_digest(store: Store, settings: Settings) -> None:
    add_papers(store, [{"title": "Sparse attention", "categories": ["cs.CL"]}], now=FIXED_NOW)
    add_subscriber(store, "ada@example.org", now=FIXED_NOW, categories=["cs.CL"])
    created = compose_due(
        store,
        links=links_for(settings, store),
        now=FIXED_NOW,
        weekly_day=0,
        search=lambda q: [],
        votes=lambda s: [],
    ).created
    assert created == 1


def _send(store: Store, settings: Settings, at: datetime = FIXED_NOW) -> SendReport:
    links = links_for(settings, store)
    return deliver_due(store, mail=settings.mail, links=links, clock=lambda: at)


def test_tls_with_login_delivers(store: Store, settings: Settings, tls_smtp, trusted) -> None:
    sink, logins, security = tls_smtp
    configured = mail_settings(
        settings, sink, smtp_security=security, smtp_user=USER, smtp_password=PASSWORD
    )
    _outbox_with_one_digest(store, configured)
    report = _send(store, configured)
    assert (report.sent, report.retried, report.failed) == (1, 0, 0)
    [mail] = sink.received
    assert mail["To"] == "ada@example.org"
    assert [(login, ok) for _, login, ok in logins.seen] == [(USER, True)]
    assert outbox.outbox_counts(store) == {"sent": 1}


def test_a_wrong_password_is_retried_and_never_blames_the_subscriber(
    store: Store, settings: Settings, tls_smtp, trusted
) -> None:
    """535 at login is the operator's configuration, not the recipient's address: the
    digest waits (temporary) and the subscriber's bounce count stays 0."""
    sink, logins, security = tls_smtp
    wrong = mail_settings(
        settings, sink, smtp_security=security, smtp_user=USER, smtp_password="nope"
    )
    _outbox_with_one_digest(store, wrong)
    report = _send(store, wrong)
    assert (report.sent, report.retried, report.failed) == (0, 1, 0)
    sub = subs.get_subscriber(store, email="ada@example.org")
    assert sub is not None and (sub.status, sub.bounces) == ("active", 0)
    fixed = mail_settings(
        settings, sink, smtp_security=security, smtp_user=USER, smtp_password=PASSWORD
    )
    later = FIXED_NOW + timedelta(seconds=fixed.mail.retry_base_seconds)
    assert _send(store, fixed, later).sent == 1
    oks = [ok for *_, ok in logins.seen]  # smtplib tries each mechanism the server offers
    assert oks[-1] and not any(oks[:-1]) and len(oks) >= 2
    assert len(sink.received) == 1


def test_an_untrusted_certificate_is_refused_and_retried(
    store: Store, settings: Settings, tls_smtp
) -> None:
    """Without the certificate trusted, the mailer refuses the server (verification on),
    sends nothing and keeps the digest for later."""
    sink, logins, security = tls_smtp
    configured = mail_settings(
        settings, sink, smtp_security=security, smtp_user=USER, smtp_password=PASSWORD
    )
    _outbox_with_one_digest(store, configured)
    report = _send(store, configured)
    assert (report.sent, report.retried) == (0, 1)
    assert sink.received == [] and logins.seen == []
    assert outbox.outbox_counts(store) == {"pending": 1}


def test_an_unreachable_server_keeps_the_outbox_and_sends_once_later(
    store: Store, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    port = _free_port()  # nothing listens here yet
    configured = mail_settings(settings, SmtpSink(port=port))
    _outbox_with_one_digest(store, configured)
    for attempt in range(2):
        at = FIXED_NOW + timedelta(seconds=configured.mail.retry_base_seconds * 2 * attempt)
        report = _send(store, configured, at)
        assert (report.sent, report.retried, report.failed) == (0, 1, 0)
        [digest] = outbox.list_digests(store, subscriber_pk=_only_subscriber(store))
        assert (digest.status, digest.attempts) == ("pending", attempt + 1)
        assert "SMTP connection failed" in caplog.records[-1].getMessage()
    sink = SmtpSink(port=port)
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        much_later = FIXED_NOW + timedelta(hours=1)
        assert _send(store, configured, much_later).sent == 1
        assert _send(store, configured, much_later + timedelta(days=1)).sent == 0
    finally:
        controller.stop()
    assert [m["To"] for m in sink.received] == ["ada@example.org"]
    assert outbox.outbox_counts(store) == {"sent": 1}


def _only_subscriber(store: Store) -> int:
    sub = subs.get_subscriber(store, email="ada@example.org")
    assert sub is not None
    return sub.pk
