"""BibTeX for papers: one entry in arXiv's own style (@misc with eprint fields), and a file
of entries with keys made unique (a list's export).

Titles and names come from sources and users, so every value is written so that it stays
one value: its braces balanced (BibTeX ends a braced value at the brace that balances the
first, escaped or not, so a stray ``}`` would start fields of the text's choosing); TeX's
special characters escaped outside math; and no control word but those a title may use
(math, accents, typography): ``\\input``, ``\\write`` or ``\\def`` could read files or
redefine commands when the entry is typeset, so their backslash is written as text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from papertide.models import Paper
from papertide.normalize import clean_text, strip_controls, web_url

# The control words a title or a name may use: Greek letters, math, accents, typography.
SAFE_WORDS = frozenset(
    """alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu
    nu xi pi varpi rho varrho sigma varsigma tau upsilon phi varphi chi psi omega Gamma Delta
    Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega mathcal mathbb mathbf mathrm mathit mathsf
    mathtt mathfrak mathscr boldsymbol text textit textbf textrm textsf texttt textsc emph
    textbackslash ell infty partial nabla sqrt frac tfrac dfrac log ln exp sin cos tan min max
    arg sup inf lim sum prod int oint cdot cdots ldots dots vdots times div pm mp leq geq le ge
    ll gg neq ne approx sim simeq cong equiv propto to rightarrow leftarrow Rightarrow
    Leftarrow leftrightarrow longrightarrow mapsto in notin ni subset subseteq supset supseteq
    cup cap setminus wedge vee neg lnot forall exists emptyset varnothing mid parallel perp top
    bot langle rangle lvert rvert lVert rVert lceil rceil lfloor rfloor left right big Big
    bigg Bigg operatorname hat tilde bar vec dot ddot check breve acute grave overline
    underline widehat widetilde overrightarrow prime circ star ast dagger ddagger bullet oplus
    otimes odot quad qquad colon l L o O aa AA ae AE oe OE ss i j c v u H k r d b t""".split()
)
_CONTROL_WORD = re.compile(r"\\([A-Za-z]+)")
_SPECIAL = re.compile(r"(?<!\\)([%&#_])")
_CARET = re.compile(r"(?<!\\)\^")
_DOLLAR = re.compile(r"(?<!\\)\$")


def _publication_year(paper: Paper) -> int | str:
    """The year the paper was published: its date, else its arXiv id's (YYMM since 2007,
    YYMM after the slash before); never the day it was imported or listed."""
    if paper.published is not None:
        return paper.published.year
    if paper.arxiv_id:
        found = re.match(r"^(?:[a-z.-]+/)?(\d{2})(\d{2})", paper.arxiv_id)
        if found and 1 <= int(found[2]) <= 12:
            yy = int(found[1])
            return 1900 + yy if yy >= 91 else 2000 + yy
    return ""


def bibtex(paper: Paper) -> str:
    """A BibTeX entry for the paper (arXiv's own style: @misc with eprint fields)."""
    first = next((name.split()[-1] for name in paper.authors if name.split()), "anon")
    year = _publication_year(paper)
    key = re.sub(r"\W+", "", f"{first}{year}{(paper.title.split() or ['x'])[0]}").lower()
    body = ",\n".join(f"  {k} = {{{v}}}" for k, v in bibtex_fields(paper).items())
    return f"@misc{{{key or 'paper'},\n{body}\n}}"


def bibtex_fields(paper: Paper) -> dict[str, str]:
    """The entry's fields as written between its braces, the empty ones left out."""
    fields = {
        "title": "{" + tex_value(paper.title) + "}",
        "author": " and ".join(_name(a) for a in paper.authors if tex_value(a)),
        "year": str(_publication_year(paper)),
        "eprint": tex_value(paper.arxiv_id or ""),
        "archivePrefix": "arXiv" if paper.arxiv_id else "",
        "primaryClass": tex_value(paper.primary_category or ""),
        "doi": tex_value(paper.doi or ""),
        "url": _url(web_url(paper.url_abs) or ""),
    }
    return {k: v for k, v in fields.items() if v}


def tex_value(text: str) -> str:
    """``text`` as a safe BibTeX value (see the module's doc): braces balanced, control words
    outside SAFE_WORDS written as text, ``% & # _ ^`` escaped outside $math$."""
    # Parsers disagree on whether a backslash escapes a brace (BibTeX: no; others: yes), so
    # none is left before one; "\\\\" (a TeX line break) is a space in a title.
    text = clean_text(strip_controls(text).replace("\\\\", " "))
    text = _balanced(re.sub(r"\\+(?=[{}])", "", text))
    text = _CONTROL_WORD.sub(
        lambda m: m[0] if m[1] in SAFE_WORDS else "\\textbackslash{}" + m[1], text
    )
    if text.endswith("\\"):
        text = text[:-1] + "\\textbackslash{}"
    dollars = [m.start() for m in _DOLLAR.finditer(text)]
    if len(dollars) % 2:  # a lone $ is a price, not math
        text = text[: dollars[-1]] + "\\" + text[dollars[-1] :]
        dollars.pop()
    parts = re.split(r"((?<!\\)\$[^$]*(?<!\\)\$)", text) if dollars else [text]
    return "".join(p if p.startswith("$") else _escaped(p) for p in parts)


def _escaped(text: str) -> str:
    return _CARET.sub(r"\\^{}", _SPECIAL.sub(r"\\\1", text))


def _balanced(text: str) -> str:
    """``text`` without the braces that have no partner (BibTeX counts every brace)."""
    keep, opened = [True] * len(text), []
    for i, char in enumerate(text):
        if char == "{":
            opened.append(i)
        elif char == "}":
            if opened:
                opened.pop()
            else:
                keep[i] = False
    for i in opened:
        keep[i] = False
    return "".join(c for c, kept in zip(text, keep, strict=True) if kept)


def _name(name: str) -> str:
    """An author for the author field: one that holds " and " is braced, or BibTeX would
    read two people."""
    value = tex_value(name)
    return "{" + value + "}" if re.search(r"\band\b", value, re.IGNORECASE) else value


def _url(url: str) -> str:
    """A URL with the characters BibTeX or TeX would read percent-encoded."""
    return "".join(f"%{ord(c):02X}" if c in "{}\\ " else c for c in url)


def bibtex_file(papers: Iterable[Paper]) -> str:
    """Every paper as BibTeX, one file, keys made unique (a, b, ... after a repeat, never a
    key another entry has)."""
    entries, used = [], set[str]()
    for paper in papers:
        entry = bibtex(paper)
        key = entry[entry.index("{") + 1 : entry.index(",")]
        unique, n = key, 0
        while unique in used:
            unique, n = key + (chr(ord("a") + n) if n < 26 else str(n + 2)), n + 1
        used.add(unique)
        entries.append(entry.replace("{" + key + ",", "{" + unique + ",", 1))
    return "\n\n".join(entries) + ("\n" if entries else "")
