"""Digest subscriptions on the site: subscribe (double opt-in), confirm, preferences,
unsubscribe (RFC 8058 one-click) and delete-my-data. No account needed: every link in a
mail carries a signed token (mail/tokens.py); signed-in users reach theirs from
/subscription (``account_link``)."""

from __future__ import annotations

from papertide.web.feature import Feature
from papertide.web.features.subscriptions import account_link, manage, subscribe

# The subscription forms carry lists of topics, categories and authors.
LARGER = 4

feature = Feature(
    name="subscriptions",
    routers=(subscribe.router, subscribe.api, manage.router, account_link.router),
    larger_bodies={
        "/subscribe": LARGER,
        "/api/subscriptions": LARGER,
        "/subscribe/confirm/{token}": LARGER,
        "/subscription/{token}": LARGER,
        "/subscription/{token}/delete": LARGER,
    },
)
