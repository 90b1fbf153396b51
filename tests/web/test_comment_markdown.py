"""Comment Markdown (web/markdown.py): the allowed subset renders, everything else is text,
links are http(s) with rel=nofollow, and math reaches KaTeX untouched."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from papertide.web.markdown import render_comment


@pytest.mark.parametrize(
    ("typed", "html"),
    [
        ("*a* **b** `c`", "<p><em>a</em> <strong>b</strong> <code>c</code></p>\n"),
        ("- one\n- two", "<ul>\n<li>one</li>\n<li>two</li>\n</ul>\n"),
        ("1. one\n2. two", "<ol>\n<li>one</li>\n<li>two</li>\n</ol>\n"),
        ("line\nnext\n\npara", "<p>line<br>\nnext</p>\n<p>para</p>\n"),
        ("```\n<b>$x$</b>\n```", "<pre><code>&lt;b&gt;$x$&lt;/b&gt;\n</code></pre>\n"),
        (
            "[site](https://example.org/a?b=1&c=2)",
            '<p><a href="https://example.org/a?b=1&amp;c=2" rel="nofollow ugc noopener">'
            "site</a></p>\n",
        ),
        (
            "<https://example.org>",
            '<p><a href="https://example.org" rel="nofollow ugc noopener">'
            "https://example.org</a></p>\n",
        ),
    ],
)
def test_the_subset_renders(typed: str, html: str) -> None:
    assert str(render_comment(typed)) == html


@pytest.mark.parametrize(
    "typed",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](data:text/html,<script>alert(1)</script>)",
        "[x](//evil.example/)",
        "![img](https://example.org/x.png)",
        "<javascript:alert(1)>",
        '[x](https://a.org/" onclick="alert(1))',
        "# heading\n\n| a | b |\n|---|---|",
        "$<script>alert(1)</script>$",
        "\ue0000\ue001 placeholder smuggling",
    ],
)
def test_nothing_else_becomes_markup(typed: str) -> None:
    found = _Tags()
    found.feed(str(render_comment(typed)))
    assert found.tags <= {"p", "a", "span", "em", "strong", "code", "pre", "br"}, found.tags
    for tag, name, value in found.attributes:
        assert (tag, name) in {("a", "href"), ("a", "rel"), ("span", "class")}, (tag, name)
        if name == "href":
            assert value.startswith(("http://", "https://")), value


class _Tags(HTMLParser):
    """The elements and attributes of a piece of HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes += [(tag, name, value or "") for name, value in attrs]


def test_math_is_kept_whole_for_katex() -> None:
    html = str(render_comment(r"Loss $a_1 * b_2 + c_3 * d$ and $$\sum_i x_i^2$$ and \(x<y\)"))
    # No <em> inside; dollars become the only delimiters app.js gives KaTeX (web/tex.py).
    assert r'<span class="math">\(a_1 * b_2 + c_3 * d\)</span>' in html
    assert r'<span class="math">\[\sum_i x_i^2\]</span>' in html
    assert r'<span class="math">\(x&lt;y\)</span>' in html


def test_dollar_amounts_are_not_math() -> None:
    """Pandoc's rule: no space inside the dollars, no digit right after the closing one."""
    html = str(render_comment("It cost $80 and then $20 more, $ 5 $ or $3$4"))
    assert 'class="math"' not in html
    assert "$80 and then $20" in html
