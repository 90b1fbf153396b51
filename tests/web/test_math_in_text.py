"""Math in titles and abstracts: pandoc's dollar rule tells math from prices, ``\\$`` is a
dollar, and highlighting never lands inside math."""

from __future__ import annotations

from papertide.web.tex import split_math, tex_html


def test_math_and_prices_are_told_apart() -> None:
    assert split_math("cost $O(n \\log n)$ here") == [
        ("text", "cost "),
        ("inline", "O(n \\log n)"),
        ("text", " here"),
    ]
    assert split_math("from $80 per month to $20") == [("text", "from $80 per month to $20")]
    assert split_math("$5-$10 a day") == [("text", "$5-$10 a day")]
    assert split_math("costs \\$5 only") == [("text", "costs $5 only")]
    assert split_math("show $$\\sum_i a_i$$ now") == [
        ("text", "show "),
        ("display", "\\sum_i a_i"),
        ("text", " now"),
    ]
    assert split_math("$80 and $x$") == [("text", "$80 and "), ("inline", "x")]
    assert split_math("a lone $ sign") == [("text", "a lone $ sign")]


def test_html_delimits_math_for_katex_and_escapes_everything() -> None:
    html = str(tex_html("$a<b$ & $80 or \\$5 <script>"))
    assert html == "\\(a&lt;b\\) &amp; $80 or $5 &lt;script&gt;"


def test_highlighting_skips_math() -> None:
    # Before: "$\\<mark>pi_0</mark>$", which KaTeX could not read.
    html = str(tex_html("$\\pi_0$: a robot policy for pi lovers", ["pi_0", "robot", "pi"]))
    assert html == "\\(\\pi_0\\): a <mark>robot</mark> policy for <mark>pi</mark> lovers"


def test_urls_in_abstracts_become_links_outside_math_only_when_asked() -> None:
    text = (
        "Code: https://github.com/a/b. Not javascript:alert(1), nor $https://x$ "
        "(see http://y.org/p)."
    )
    linked = str(tex_html(text, ["code"], links=True))
    assert (
        '<a href="https://github.com/a/b" rel="nofollow noopener">https://github.com/a/b</a>.'
        in linked
    )
    assert '<a href="http://y.org/p" rel="nofollow noopener">http://y.org/p</a>).' in linked
    assert "javascript:alert(1)" in linked and 'href="javascript' not in linked
    assert "\\(https://x\\)" in linked  # math is left to KaTeX
    assert linked.startswith("<mark>Code</mark>")
    assert "<a " not in str(tex_html(text))  # titles are links already: none inside them
    hostile = str(tex_html('https://e.org/"><script>x</script>', links=True))
    assert "<script>" not in hostile and 'href="https://e.org/"' in hostile
