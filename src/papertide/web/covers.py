"""Drawn covers: the picture of a paper that has none yet, so a grid of cards has no holes.

A cover is a few hundred bytes of SVG, the same every time for the same paper: its colour
comes from the primary category (papers of one field share a family of hues), its shapes and
monogram from the title. It is drawn inline in the page (no request, no layout shift) and is
also served at ``/papers/{id}/cover.svg`` for the JSON API's ``picture_url``.
"""

from __future__ import annotations

import zlib
from functools import lru_cache
from html import escape

from papertide.normalize import strip_controls
from papertide.search.tokenize import STOPWORDS

# A hue per arXiv archive (the part of a category before the dot); unknown archives hash.
_ARCHIVE_HUES = {
    "cs": 215,
    "stat": 265,
    "math": 300,
    "eess": 185,
    "physics": 25,
    "quant-ph": 45,
    "cond-mat": 5,
    "astro-ph": 240,
    "hep-th": 335,
    "hep-ph": 350,
    "gr-qc": 280,
    "q-bio": 130,
    "q-fin": 160,
    "econ": 100,
    "nlin": 70,
}
WIDTH, HEIGHT = 160, 120


def _seed(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


def cover_hue(category: str | None) -> int:
    """The cover's base hue: the archive's, shifted a little by the subject class."""
    if not category:
        return 210  # cover_svg takes the title's hue instead
    archive, _, subject = category.partition(".")
    base = _ARCHIVE_HUES.get(archive.lower())
    if base is None:
        return _seed(archive.lower()) % 360
    return (base + _seed(subject.lower()) % 24 - 12) % 360


def monogram(title: str) -> str:
    """Up to two initials from the title's first words that carry meaning."""
    words = [w for w in title.replace("-", " ").split() if w[:1].isalnum()]
    content = [w for w in words if w.lower() not in STOPWORDS] or words
    return "".join(w[0].upper() for w in content[:2]) or "?"


@lru_cache(maxsize=4096)  # a page draws its 20-50 cards' covers; the same ones, page after page
def cover_svg(title: str, category: str | None, *, label: str = "") -> str:
    """The cover as a standalone SVG document (a few hundred bytes).

    ``label`` names the picture for assistive technology; the default is empty, for a cover
    beside the paper's own title (decorative)."""
    seed = _seed(title)
    hue = cover_hue(category) if category else seed % 360
    shapes = []
    for i in range(3):
        part = (seed >> (i * 9)) & 0x1FF
        cx, cy = 20 + part % 130, 10 + (part * 7) % 90
        r = 18 + (part >> 3) % 34
        shapes.append(
            f'<circle cx="{cx}" cy="{cy}" r="{r}" fill="hsl({(hue + 25 * (i + 1)) % 360} 70% 70%)" '
            f'fill-opacity=".{3 + i}"/>'
        )
    role = f'role="img" aria-label="{escape(label)}"' if label else 'aria-hidden="true"'
    return strip_controls(  # pages print it as is (web/templating.py)
        f'<svg xmlns="http://www.w3.org/2000/svg" class="cover" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'preserveAspectRatio="xMidYMid slice" {role}>'
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="hsl({hue} 45% 36%)"/>'
        + "".join(shapes)
        + f'<text x="14" y="104" fill="#fff" font-family="system-ui,sans-serif" font-size="34" '
        f'font-weight="700">{escape(monogram(title))}</text>'
        + (
            f'<text x="14" y="26" fill="#fff" font-family="system-ui,sans-serif" font-size="13" '
            f'fill-opacity=".9">{escape(category)}</text>'
            if category
            else ""
        )
        + "</svg>"
    )
