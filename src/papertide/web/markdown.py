"""Comments as safe HTML: a small Markdown subset, with math left for KaTeX on the client.

markdown-it-py (the CommonMark parser rich already depends on) from its "zero" preset with
raw HTML off, so every ``<`` a reader types is escaped, and only these rules on:
paragraphs, line breaks, emphasis, inline code and code blocks, lists, links and
autolinks. No images, headings, tables or HTML. Links must be http(s) (anything else stays
text) and get rel="nofollow ugc noopener". Math ($..$, $$..$$, \\(..\\), \\[..\\]) is taken
out before parsing, so emphasis never breaks it (``$a_1 + b_2$``), and put back escaped, in
the delimiters KaTeX's auto-render is given (web/tex.py); an inline $ pair follows pandoc's
rule (no space inside the dollars, no digit after the closing one), so "$80 and $20" stays
text.
"""

from __future__ import annotations

import re
from typing import Any

from markdown_it import MarkdownIt
from markupsafe import Markup

from papertide.normalize import strip_controls
from papertide.web.tex import tex_html

_RULES = ["emphasis", "backticks", "link", "autolink", "list", "fence", "code", "newline"]
_RULES += ["escape", "entity"]
_SLOT = re.compile("\ue000(\\d+)\ue001")
_TOKENS = re.compile(
    r"(?P<code>```.*?```|`[^`\n]+`)"  # code first: a $ in code is code
    r"|(?P<math>\$\$.+?\$\$|\\\[.+?\\\]|\\\(.+?\\\)"
    r"|(?<![\\$\w])\$(?=\S)[^$\n]+?(?<![\s\\])\$(?!\d))",
    re.DOTALL,
)


def _web_link(url: str) -> bool:
    return url.lower().startswith(("http://", "https://"))


def _parser() -> MarkdownIt:
    md = MarkdownIt("zero", {"html": False, "breaks": True}).enable(_RULES)
    md.validateLink = _web_link  # type: ignore[method-assign]

    def link_open(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        tokens[idx].attrSet("rel", "nofollow ugc noopener")
        return str(self.renderToken(tokens, idx, options, env))

    md.add_render_rule("link_open", link_open)
    return md


_MD = _parser()


def render_comment(text: str) -> Markup:
    """A comment's text as HTML that is safe to put in a page."""
    text = text.replace("\ue000", "").replace("\ue001", "")
    kept: list[str] = []

    def slot(match: re.Match[str]) -> str:
        if match.group("code"):
            return match.group(0)
        kept.append(match.group(0))
        return f"\ue000{len(kept) - 1}\ue001"

    html = _MD.render(_TOKENS.sub(slot, text))
    restored = _SLOT.sub(lambda m: f'<span class="math">{tex_html(kept[int(m[1])])}</span>', html)
    # Safe: markdown-it escaped every character typed (html off); math was re-escaped, its
    # dollars written as \(..\) / \[..\], the only delimiters app.js gives KaTeX (web/tex.py).
    return Markup(strip_controls(restored))  # printed as is (web/templating.py)
