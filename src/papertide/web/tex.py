"""TeX math in imported titles and abstracts: where it is, and the HTML that shows it.

Dollar signs are both TeX's math delimiters and prices, so the rule is pandoc's
(``tex_math_dollars``, pandoc.org/MANUAL.html#math): ``$$...$$`` is display math; ``$...$``
is inline math when the opening ``$`` has a non-space character right after it and the
first unescaped ``$`` after that has a non-space character right before it and no digit
right after it; ``\\$`` is a literal dollar. So ``$O(n \\log n)$`` is math while ``$80 ...
$20`` and ``$5-$10`` are prices, and ``\\$5`` shows as ``$5``.

``tex_html`` escapes the text, writes math as ``\\(...\\)`` / ``\\[...\\]`` (the only
delimiters app.js hands KaTeX, so a dollar sign in the output is always just a dollar) and
marks query words with ``<mark>`` outside math only: a mark inside ``$\\pi_0$`` breaks it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from markupsafe import Markup, escape

from papertide.normalize import strip_controls, web_url

# Words that survive in escaped HTML as entity names: never highlight inside "&amp;".
_ENTITY_WORDS = {"amp", "lt", "gt", "quot", "x27"}


_DOLLAR = re.compile(r"\\\$|\$")  # an escaped dollar, or a dollar
_URL = re.compile(r"https?://[^\s<>\"'`{}|\\^\[\]]+", re.IGNORECASE)
_URL_TRAILING = ".,;:!?)'\""


def split_math(text: str) -> list[tuple[str, str]]:
    """``text`` as (kind, content) pieces in order: kind "text", "inline" or "display".

    Jumps from dollar to dollar (most abstracts have none: one piece, no scan), which
    matters: every card of a page goes through here (a character loop took a third of a
    search page's time)."""
    if "$" not in text:
        return [("text", text)] if text else []
    pieces: list[tuple[str, str]] = []
    plain: list[str] = []
    i, n = 0, len(text)

    def flush() -> None:
        if plain:
            pieces.append(("text", "".join(plain)))
            plain.clear()

    while i < n:
        found = _DOLLAR.search(text, i)
        if found is None:
            plain.append(text[i:])
            break
        j = found.start()
        if j > i:
            plain.append(text[i:j])
        if found.group() == "\\$":
            plain.append("$")
            i = j + 2
            continue
        if text.startswith("$$", j):
            end = text.find("$$", j + 2)
            if end > j + 2:
                flush()
                pieces.append(("display", text[j + 2 : end]))
                i = end + 2
                continue
        close = _inline_end(text, j + 1)
        if close is not None:
            flush()
            pieces.append(("inline", text[j + 1 : close]))
            i = close + 1
            continue
        plain.append("$")
        i = j + 1
    flush()
    return pieces


def _inline_end(text: str, start: int) -> int | None:
    """Where the inline math opened just before ``start`` closes, or None if it does not."""
    if start >= len(text) or text[start].isspace() or text[start] == "$":
        return None
    k = start
    while True:
        k = text.find("$", k)
        if k < 0:
            return None
        if text[k - 1] == "\\":  # an escaped dollar inside math
            k += 1
            continue
        closes = not text[k - 1].isspace() and not (k + 1 < len(text) and text[k + 1].isdigit())
        return k if closes else None


def tex_html(text: str, terms: Iterable[str] = (), *, links: bool = False) -> Markup:
    """Escaped ``text`` with its math delimited for KaTeX and ``terms`` marked outside math;
    with ``links``, the http(s) URLs outside math become links (never in a title, which is
    itself a link on cards)."""
    markup = _tex(text, _term_pattern(tuple(terms)), links)
    return Markup(strip_controls(markup))  # printed as is (web/templating.py)


def _tex(text: str, pattern: re.Pattern[str] | None, links: bool) -> str:
    """``tex_html``'s markup as a plain string (control characters still in it)."""
    out: list[str] = []
    for kind, content in split_math(text):
        if kind == "inline":
            out.append(f"\\({escape(content)}\\)")
        elif kind == "display":
            out.append(f"\\[{escape(content)}\\]")
        elif links and "://" in content:
            out.append(_linked(content, pattern))
        else:
            out.append(_plain(content, pattern))
    return "".join(out)


def _plain(content: str, pattern: re.Pattern[str] | None) -> str:
    escaped = str(escape(content))
    return pattern.sub(_mark, escaped) if pattern is not None else escaped


def _linked(content: str, pattern: re.Pattern[str] | None) -> str:
    """Plain text with its http(s) URLs as links (nofollow: the text is a source's)."""
    out, last = [], 0
    for found in _URL.finditer(content):
        url = found.group(0).rstrip(_URL_TRAILING)  # "see https://x.org/a." ends a sentence
        href = web_url(url)
        if href is None:
            continue
        out.append(_plain(content[last : found.start()], pattern))
        out.append(f'<a href="{escape(href)}" rel="nofollow noopener">{escape(url)}</a>')
        last = found.start() + len(url)
    out.append(_plain(content[last:], pattern))
    return "".join(out)


def _mark(found: re.Match[str]) -> str:
    return f"<mark>{found.group(0)}</mark>"


@lru_cache(maxsize=1024)
def _term_pattern(terms: tuple[str, ...]) -> re.Pattern[str] | None:
    """Words starting with any of ``terms`` (a page asks for the same terms 40 times)."""
    words = sorted({t.lower() for t in terms if len(t) > 1 and t.lower() not in _ENTITY_WORDS})
    if not words:
        return None
    return re.compile(r"\b(" + "|".join(map(re.escape, words)) + r")\w*", re.IGNORECASE)


def marked_html(text: str, marks: Iterable[tuple[int, int]]) -> Markup:
    """Escaped ``text`` with its math delimited for KaTeX and the character ranges
    ``marks`` (never inside math: search/snippets.py) wrapped in <mark>."""
    out, last = [], 0
    for start, end in sorted(marks):
        if start < last or end <= start or end > len(text):
            continue  # overlapping or out of range: shown unmarked rather than broken
        out.append(_tex(text[last:start], None, False))
        out.append(f"<mark>{escape(text[start:end])}</mark>")
        last = end
    out.append(_tex(text[last:], None, False))
    return Markup(strip_controls("".join(out)))  # printed as is (web/templating.py)
