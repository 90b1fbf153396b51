"""Template helpers for what cards and paper pages show: author and category searches,
comment Markdown. Registered on the app's Jinja environment by ``register``."""

from __future__ import annotations

from urllib.parse import urlencode

from jinja2 import Environment

from papertide.web.markdown import render_comment

AUTHORS_ON_CARD = 5  # then "et al."


def author_search(name: str) -> str:
    """The search for a name's papers: /search?q=author:"Name"."""
    return "/search?" + urlencode({"q": f'author:"{name}"'})


def category_search(category: str) -> str:
    """The search for a category's papers: /search?q=cat:cs.CL."""
    return "/search?" + urlencode({"q": f"cat:{category}"})


def register(env: Environment) -> None:
    """Add this module's filters and globals to ``env``."""
    env.filters["author_search"] = author_search
    env.filters["category_search"] = category_search
    env.filters["comment_html"] = render_comment
    env.globals["AUTHORS_ON_CARD"] = AUTHORS_ON_CARD
