"""Template helpers for what cards and paper pages show: author pages, category searches,
comment Markdown. Registered on the app's Jinja environment by ``register``."""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import quote, quote_plus

from jinja2 import Environment

from papertide.search.tokenize import name_words
from papertide.web.markdown import render_comment

AUTHORS_ON_CARD = 5  # then "et al."


# Cached: every card links each of its authors and categories (urlencode was a fifth of a
# search page's rendering), and the same names come back page after page.
@lru_cache(maxsize=8192)
def author_url(name: str) -> str:
    """The page of a name's papers: /authors/Name (web/features/authors.py)."""
    return "/authors/" + quote(name.strip(), safe="")


def name_key_of(name: str) -> str:
    """What two spellings of one name share: its folded words (accents, case and spacing
    ignored), as author pages and the search's ``author:`` filter match names."""
    return " ".join(name_words(name))


@lru_cache(maxsize=1024)
def category_search(category: str) -> str:
    """The search for a category's papers: /search?q=cat:cs.CL."""
    return "/search?q=" + quote_plus(f"cat:{category}")


def register(env: Environment) -> None:
    """Add this module's filters and globals to ``env``."""
    env.filters["author_url"] = author_url
    env.filters["category_search"] = category_search
    env.filters["comment_html"] = render_comment
    env.globals["AUTHORS_ON_CARD"] = AUTHORS_ON_CARD
