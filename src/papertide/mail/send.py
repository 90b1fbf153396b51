"""Delivering the outbox over SMTP, and what "exactly once" means here.

The guarantee, precisely:
- Never lost: a digest row is created once per (subscriber, period) (unique key) and leaves
  ``pending``/``claimed`` only when the SMTP server accepted it (``sent``), refused it for
  good (5xx: ``failed``, counted toward the bounce limit), kept refusing it for
  ``max_attempts`` tries, or the subscriber left. A sender that dies at any point leaves
  the row ``claimed`` under a lease; once the lease runs out, the next run claims it again.
- Never sent twice, except in one window: between the server's 250 reply to DATA and the
  ``sent`` mark being committed. SMTP offers no two-phase commit, so no sender can close
  that window. A crash there makes the next run re-send the SAME message: Message-ID and
  Date are fixed when the digest is composed (RFC 5322 3.6.4: a message's id is unique to
  it), so receivers that dedupe on Message-ID (many MTAs and clients do; our test server
  does) keep one copy. Everywhere else a crash re-sends nothing: before the claim nothing
  was sent; after the mark nothing is pending.
- A digest's papers are recorded in the per-subscriber ledger when it is composed, in the
  same transaction, so a paper is never put in two digests for the same subscriber.

Temporary failures (4xx replies, lost connections, and anything that fails while opening
the connection: TLS, a refused login) put the digest back to ``pending`` with
exponential backoff (``retry_base_seconds`` * 2^(attempt-1)). A claimer renews its lease
while it works, so a slow batch is not claimed by a second sender.
"""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import Message
from email.policy import compat32
from email.utils import parseaddr
from pathlib import Path
from types import TracebackType

from papertide.clock import utcnow
from papertide.mail.records import OutboxDigest
from papertide.mail.render import Links, digest_context, render_digest
from papertide.mail.settings import MailSettings
from papertide.store import Store, outbox
from papertide.store import subscriptions as subs

log = logging.getLogger(__name__)

# Test-only hook: PAPERTIDE_MAIL_TEST_PAUSE_AT=<point> makes the sender write the file named
# by PAPERTIDE_MAIL_TEST_PAUSE_FILE and sleep at that point, so a test can SIGKILL it there.
PAUSE_ENV = "PAPERTIDE_MAIL_TEST_PAUSE_AT"
PAUSE_FILE_ENV = "PAPERTIDE_MAIL_TEST_PAUSE_FILE"


def _pause_point(name: str) -> None:
    if os.environ.get(PAUSE_ENV) == name:
        marker = os.environ.get(PAUSE_FILE_ENV)
        if marker:
            Path(marker).write_text(name, "utf-8")
        time.sleep(3600)


# smtplib sends bytes as given: lines must already end in CRLF (RFC 5321 section 2.3.8).
# Headers are not folded below RFC 5322's hard limit of 998 characters (section 2.1.1), so
# the long signed List-Unsubscribe URL stays on one line, as RFC 8058 clients expect.
_WIRE = compat32.clone(linesep="\r\n", max_line_length=998)


class TemporaryFailure(Exception):
    """The server or the network said "not now" (4xx, dropped connection)."""


class PermanentFailure(Exception):
    """The server refused the mail for good (5xx)."""


class Mailer:
    """One SMTP connection, opened on first use, reopened after an error."""

    def __init__(self, mail: MailSettings) -> None:
        self.mail = mail
        self.sender = parseaddr(mail.from_address)[1]
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> Mailer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _connect(self) -> smtplib.SMTP:
        m = self.mail
        if m.smtp_security == "tls":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                m.smtp_host,
                m.smtp_port,
                timeout=m.smtp_timeout,
                context=ssl.create_default_context(),
            )
        else:
            smtp = smtplib.SMTP(m.smtp_host, m.smtp_port, timeout=m.smtp_timeout)
            if m.smtp_security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
        if m.smtp_user:
            smtp.login(m.smtp_user, m.smtp_password or "")
        return smtp

    def send(self, msg: Message, to: str) -> None:
        """Hand one message to the server, or raise Temporary/PermanentFailure."""
        if self._smtp is None:
            self._smtp = self._open()
        try:
            self._smtp.sendmail(self.sender, [to], msg.as_bytes(policy=_WIRE))
        except smtplib.SMTPRecipientsRefused as exc:
            self.close()
            code, reply = next(iter(exc.recipients.values()))
            raise _classify(code, reply) from exc
        except smtplib.SMTPResponseException as exc:  # sender refused, DATA refused, auth...
            self.close()
            raise _classify(exc.smtp_code, exc.smtp_error) from exc
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise TemporaryFailure(f"SMTP connection failed: {exc}") from exc

    def _open(self) -> smtplib.SMTP:
        # Whatever fails before the first message (connection, TLS, login: a 535 for a wrong
        # password) is the server's or the operator's problem, never the recipient's: a
        # temporary failure, retried later, that counts no bounce against the address.
        try:
            return self._connect()
        except (smtplib.SMTPException, OSError) as exc:
            raise TemporaryFailure(f"SMTP connection failed: {exc}") from exc

    def close(self) -> None:
        """Say QUIT if the connection still works; forget it either way."""
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()


def _classify(code: int, reply: bytes | str) -> Exception:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    message = f"{code} {text}"
    # RFC 5321 section 4.2.1: 4yz is a transient, 5yz a permanent negative completion reply.
    return PermanentFailure(message) if 500 <= code < 600 else TemporaryFailure(message)


@dataclass(slots=True)
class SendReport:
    """What one pass over the outbox did."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    lost: int = 0  # claims taken over by another sender (lease ran out)
    seconds: float = 0.0


@dataclass(slots=True)
class _Batch:
    """A claimed batch and when its lease was last renewed (monotonic seconds)."""

    digests: list[OutboxDigest]
    renewed: float


def deliver_due(
    store: Store,
    *,
    mail: MailSettings,
    links: Links,
    clock: Callable[[], datetime] = utcnow,
    batch_size: int = 200,
    on_sent: Callable[[OutboxDigest], None] | None = None,
) -> SendReport:
    """Send every due digest in the outbox, batch by batch, until none is due."""
    report, started = SendReport(), time.perf_counter()
    lease = timedelta(seconds=mail.lease_seconds)
    with Mailer(mail) as mailer:
        while True:
            claimed = outbox.claim_due(store, now=clock(), lease=lease, limit=batch_size)
            if not claimed:
                break
            batch = _Batch(claimed, time.monotonic())
            papers = subs.papers_by_pk(store, (i.paper_pk for d in claimed for i in d.items))
            for digest in claimed:
                _renew_if_needed(store, batch, mail, clock)
                context = digest_context(
                    items=digest.items,
                    papers=papers,
                    links=links,
                    subscriber_pk=digest.subscriber_pk,
                    email=digest.email,
                )
                msg = render_digest(
                    subject=digest.subject,
                    message_id=digest.message_id,
                    created=digest.created,
                    to=digest.email,
                    context=context,
                    links=links,
                )
                _deliver_one(store, mailer, digest, msg, mail=mail, clock=clock, report=report)
                if on_sent is not None:
                    on_sent(digest)
    report.seconds = time.perf_counter() - started
    return report


def _renew_if_needed(
    store: Store, batch: _Batch, mail: MailSettings, clock: Callable[[], datetime]
) -> None:
    # Renew at half the lease, so a slow server never lets a live claim expire.
    if time.monotonic() - batch.renewed > mail.lease_seconds / 2:
        claim = batch.digests[0].claim
        assert claim is not None
        until = clock() + timedelta(seconds=mail.lease_seconds)
        outbox.renew_lease(store, claim=claim, until=until)
        batch.renewed = time.monotonic()


def _deliver_one(
    store: Store,
    mailer: Mailer,
    digest: OutboxDigest,
    msg: Message,
    *,
    mail: MailSettings,
    clock: Callable[[], datetime],
    report: SendReport,
) -> None:
    _pause_point("before_send")
    try:
        mailer.send(msg, digest.email)
    except TemporaryFailure as exc:
        if digest.attempts >= mail.max_attempts:
            done = outbox.mark_failed(
                store,
                digest=digest,
                error=f"gave up after {digest.attempts} tries: {exc}",
                bounce=False,
                bounce_limit=mail.bounce_limit,
                now=clock(),
            )
            report.failed += done
        else:
            delay = min(mail.retry_base_seconds * 2 ** (digest.attempts - 1), 86_400)
            at = clock() + timedelta(seconds=delay)
            report.retried += outbox.mark_retry(store, digest=digest, at=at, error=str(exc))
        log.warning("digest %s to %s: %s", digest.period, digest.email, exc)
        return
    except PermanentFailure as exc:
        report.failed += outbox.mark_failed(
            store,
            digest=digest,
            error=str(exc),
            bounce=True,
            bounce_limit=mail.bounce_limit,
            now=clock(),
        )
        log.warning("digest %s to %s refused: %s", digest.period, digest.email, exc)
        return
    _pause_point("after_send")
    if outbox.mark_sent(store, digest=digest, now=clock()):
        report.sent += 1
    else:
        report.lost += 1
