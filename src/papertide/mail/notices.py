"""One-off notices to an address (not digests): someone used it to register an account."""

from __future__ import annotations

import logging

from papertide.clock import utcnow
from papertide.config import Settings
from papertide.mail.digest import links_for
from papertide.mail.render import render_notice
from papertide.mail.send import Mailer, PermanentFailure, TemporaryFailure
from papertide.store import Store

log = logging.getLogger(__name__)


def notify_address_taken(settings: Settings, store: Store, email: str, username: str) -> None:
    """Tell the owner of ``email`` that a new account gave it and was not given it."""
    links = links_for(settings, store)
    msg = render_notice(
        to=email,
        links=links,
        subject="Someone registered on papertide with your address",
        text=(
            f'An account named "{username}" was just registered on papertide giving this '
            "address. The address already belongs to another account, so it was not attached "
            "to the new one, and nothing changed for you. If it was you, sign in to your "
            f"existing account instead: {links.url('/login')}"
        ),
        now=utcnow(),
    )
    try:
        with Mailer(settings.mail) as mailer:
            mailer.send(msg, email)
    except (TemporaryFailure, PermanentFailure, OSError) as exc:
        log.warning("address-taken notice not sent: %s", exc)
