"""Reading lists: a reader's named lists of papers, private or public, each with its page,
Atom feed and BibTeX file, and a JSON API; the rules both follow are in ``rules``."""

from __future__ import annotations

from papertide.web.feature import Feature, NavLink
from papertide.web.features.lists import api, pages

LIST = "/users/{owner}/lists/{slug}"

feature = Feature(
    name="lists",
    routers=(pages.router, api.api),
    cached=(LIST, LIST + ".atom", LIST + ".bib"),
    nav=(NavLink("Lists", "/lists", order=60, audience="signed_in"),),
)
