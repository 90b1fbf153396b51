"""The routes still served by the modules the web layer had before it was cut by feature,
declared as one feature until each moves to a module of its own."""

from __future__ import annotations

from papertide.web import social_api, social_pages
from papertide.web.feature import Feature, NavLink

feature = Feature(
    name="legacy",
    routers=(
        social_pages.router,
        social_api.router,
    ),
    cached=(),
    larger_bodies={},
    nav=(NavLink("For you", "/for-you", order=50, audience="signed_in"),),
)
