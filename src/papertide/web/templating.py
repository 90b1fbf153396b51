"""The site's Jinja environment: one for every feature's templates, with the filters cards
and pages use and the navigation bar the features declare (web/feature.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import Request
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from papertide import __version__
from papertide.models import User
from papertide.normalize import strip_controls, web_url
from papertide.web import cards
from papertide.web.access import safe_next
from papertide.web.assets import Assets, has_math, katex_fonts
from papertide.web.deps import csrf_token, current_user
from papertide.web.feature import Feature, NavLink
from papertide.web.headers import BOOT_SCRIPT
from papertide.web.tex import marked_html, tex_html
from papertide.words import plural

TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True, slots=True)
class NavItem:
    """A navigation link as one reader sees it on one page."""

    label: str
    href: str
    current: bool


def make_templates(
    assets: Assets, features: list[Feature], folders: Sequence[Path] = ()
) -> Jinja2Templates:
    """The environment every page renders in: web/templates/, then ``folders``."""

    def context(request: Request) -> dict[str, Any]:
        return {"csrf_token": csrf_token(request), "user": current_user(request)}

    links = sorted((link for f in features for link in f.nav), key=lambda link: link.order)
    templates = Jinja2Templates(directory=[TEMPLATES, *folders], context_processors=[context])
    env = templates.env
    # Templates ship with the package and do not change under a running server: no stat()
    # of every template file (and its imports) on every page.
    env.auto_reload = False
    # Every value a page prints loses its control characters (normalize.strip_controls),
    # whatever path it came by: a refused comment's text echoed back into its form kept an
    # ESC or a NUL, where stored text had them stripped already. Set before any template
    # is compiled (Jinja applies it in the compiled code). Markup is printed as it is: the
    # filters that make it (web/tex.py, web/markdown.py) strip what they return, and a
    # macro's output is made of values that passed here already (scanning it again at each
    # level a card is nested in was an eighth of a search page's rendering).
    env.finalize = _printable
    env.globals["version"] = __version__
    env.globals["static_url"] = assets.url
    env.globals["boot_script"] = Markup(BOOT_SCRIPT)
    env.globals["katex_fonts"] = katex_fonts
    env.globals["nav"] = lambda request, user: navigation(links, request, user)
    env.globals["here"] = here
    env.tests["math"] = has_math
    cards.register(env)
    env.filters["highlight"] = highlight
    env.filters["tex"] = tex_html  # math delimited for KaTeX (web/tex.py)
    env.filters["snippet"] = lambda snippet: marked_html(snippet.text, snippet.marks)
    env.filters["plural"] = plural
    env.filters["web_url"] = web_url  # links from imported data: http(s) only
    env.filters["dict_without"] = lambda params, key: [
        (k, v) for k, v in params.multi_items() if k != key
    ]
    return templates


def _printable(value: Any) -> Any:
    """A template value without control characters (Markup is clean where it is made)."""
    if not isinstance(value, str) or isinstance(value, Markup):
        return value
    return strip_controls(value)


def navigation(links: list[NavLink], request: Request, user: User | None) -> list[NavItem]:
    """The navigation bar for ``user`` on this page, the reader's place marked."""
    path, back = request.url.path, quote(here(request), safe="/")
    audience = "signed_in" if user else "signed_out"
    items = []
    for link in links:
        if link.audience not in ("everyone", audience):
            continue
        fill = {"username": quote(user.username) if user else "", "here": back}
        href = link.href.format(**fill)
        places = [p.format(**fill) for p in link.current] or [urlsplit(href).path]
        label = link.label.format(username=user.username if user else "")
        items.append(NavItem(label, href, any(_at(path, place) for place in places)))
    return items


def here(request: Request) -> str:
    """Where a log-in started on this page comes back to: this page, unless it is one a login
    never returns to."""
    query = request.url.query
    return safe_next(request.url.path + (f"?{query}" if query else ""))


def _at(path: str, place: str) -> bool:
    """Whether ``path`` is ``place`` (or lies below it, for a place ending in ``*``)."""
    return path.startswith(place[:-1]) if place.endswith("*") else path == place


def highlight(text: str, terms: list[str], links: bool = False) -> Markup:
    """Escape ``text``, delimit its math for KaTeX and wrap words starting with a query term
    in <mark>, never inside math (web/tex.py); with ``links``, its URLs become links."""
    return tex_html(text, terms, links=links)
