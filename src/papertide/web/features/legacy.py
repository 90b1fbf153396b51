"""The routes still served by the modules the web layer had before it was cut by feature,
declared as one feature until each moves to a module of its own."""

from __future__ import annotations

from papertide.web import account_link, social_api, social_pages, subscriptions
from papertide.web.feature import Feature, NavLink

feature = Feature(
    name="legacy",
    routers=(
        social_pages.router,
        social_api.router,
        account_link.router,
        subscriptions.router,
    ),
    cached=(),
    larger_bodies={
        "/subscribe": 4,
        "/api/subscriptions": 4,
        "/subscribe/confirm/{token}": 4,
        "/subscription/{token}": 4,
        "/subscription/{token}/delete": 4,
    },
    nav=(NavLink("For you", "/for-you", order=50, audience="signed_in"),),
)
