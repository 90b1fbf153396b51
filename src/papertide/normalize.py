"""Pure text helpers every source uses: arXiv ids, whitespace, dedupe keys, doubled text."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from bisect import bisect_right
from urllib.parse import urlsplit

# New-style ids (0704.0001, 2407.02490) and old-style ids (hep-th/9901001, math.GT/0309136),
# each with an optional version; see https://info.arxiv.org/help/arxiv_identifier.html
_ARXIV_RE = re.compile(
    r"(?:arxiv:|arxiv\.org/(?:abs|pdf|html)/)?"
    r"(?P<id>\d{4}\.\d{4,5}|[a-z][a-z\-]+(?:\.[A-Za-z]{2})?/\d{7})"
    r"(?:v(?P<v>\d+))?(?:\.pdf)?/?$",
    re.IGNORECASE,
)
_NON_WORD_RE = re.compile(r"[^0-9a-z]+")
_SENTENCE_END_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"'])")


def parse_arxiv_id(text: str) -> tuple[str, int | None] | None:
    """Split an arXiv id or URL into (version-free id, version), or None if it is not one."""
    m = _ARXIV_RE.search(text.strip())
    if m is None:
        return None
    ident = m.group("id")
    if "/" in ident:  # old style: archive part is lower case, subject class keeps its case
        archive, num = ident.split("/")
        ident = f"{archive.lower()}/{num}" if "." not in archive else f"{archive}/{num}"
    version = m.group("v")
    return ident, int(version) if version else None


def clean_text(text: str) -> str:
    """Collapse runs of white space (arXiv wraps titles and abstracts) and trim."""
    return " ".join(text.split())  # str.split() is C-speed; a regex costs 5x on abstracts


# C0 controls but tab, newline and carriage return; DEL; C1 controls (Unicode category Cc).
_CONTROLS = dict.fromkeys([*range(0, 9), 11, 12, *range(14, 32), *range(127, 160)])
# The same set as a pattern: a search is C-speed, where translate() looks up every character
# in a dict; pages pass every printed value (whole cards, SVG with newlines) through here.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def strip_controls(text: str) -> str:
    """``text`` without control characters (NUL, BEL, ESC...; tab and newlines stay).

    Imported text reaches pages, mails and terminals: an ESC from a hostile record would
    start a terminal escape sequence that recolours, hides or rewrites what is shown.
    """
    return text if _CONTROL.search(text) is None else _CONTROL.sub("", text)


# Bidirectional embeddings, overrides and isolates (Unicode TR 9's explicit formatting
# characters): in a name or a title they make text show in another order than the one it is
# stored in ("Trojan Source", CVE-2021-42574), so one paper or person could pass for another.
_BIDI = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)])
_NAME_STRIPPED = {**_CONTROLS, **_BIDI}


def clean_name(text: str) -> str:
    """A name or a title as it is stored and shown: control characters and bidirectional
    overrides removed, white space collapsed (every text a user or a source gives has its
    control characters stripped; names and titles lose the overrides too)."""
    return clean_text(text.translate(_NAME_STRIPPED) if not text.isprintable() else text)


def strip_controls_deep(value: object) -> object:
    """``value`` with control characters stripped from every string in it (lists, dicts)."""
    if isinstance(value, str):
        return strip_controls(value)
    if isinstance(value, list):
        return [strip_controls_deep(v) for v in value]
    if isinstance(value, dict):
        return {strip_controls_deep(k): strip_controls_deep(v) for k, v in value.items()}
    return value


_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f]")  # what str.isspace() and ord(c) < 32 match


def web_url(value: str | None) -> str | None:
    """``value`` if it is an absolute http(s) URL with a host, else None.

    Imported links are rendered as ``href``s: a ``javascript:`` or ``data:`` URL from a
    hostile record would run script on the reader's click, so anything else is refused.
    """
    if not value or len(value) > 2000 or _SPACE_OR_CONTROL.search(value) is not None:
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    return value if parts.scheme in ("http", "https") and parts.hostname else None


def fold(text: str) -> str:
    """Lower-case ASCII words only: the comparison form of a title or a name."""
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return _NON_WORD_RE.sub(" ", text.lower()).strip()


def username_key(name: str) -> str:
    """The form two usernames are compared in: Unicode NFKC, then case folded (NFKC again,
    as casefolding can leave text that is not NFKC: Unicode's NFKC_Casefold, UAX #31 and
    RFC 8265's comparison of user names). ``ada_ux``, ``ADA_UX`` and the fullwidth
    ``ada_ux`` written in fullwidth letters (U+FF41...) are one name."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


def title_key(title: str) -> str:
    """The dedupe form of a title: case, accents, punctuation and spacing ignored."""
    return fold(title)


def author_key(authors: list[str]) -> str:
    """The dedupe form of the first author: the last word of the folded name."""
    if not authors:
        return ""
    words = fold(authors[0]).split()
    return words[-1] if words else ""


def stable_id(seed: str) -> str:
    """A short public id for a paper with no arXiv id, derived from its first dedupe key."""
    return "p" + hashlib.sha1(seed.encode("utf-8")).hexdigest()[:11]


def repair_doubled(text: str, *, min_chars: int = 40) -> str:
    """Drop a run of sentences that a capture repeated immediately after itself.

    Captures of rendered pages sometimes hold a paragraph twice in a row, whole or from some
    sentence on. A repeat shorter than ``min_chars`` is left alone: short sentences can
    repeat on purpose. Only positions where a sentence recurs are tested, so text without
    repeats costs one pass.
    """
    sentences = _SENTENCE_END_RE.split(text)
    where = _positions(sentences)
    start = 0
    while start < len(sentences):
        later = where[sentences[start]]
        candidates = later[bisect_right(later, start) :]
        if candidates and _drop_repeat_at(sentences, start, candidates, min_chars):
            where = _positions(sentences)  # rare: indices after the cut moved
        else:
            start += 1
    return " ".join(sentences)


def _positions(sentences: list[str]) -> dict[str, list[int]]:
    """Each sentence's indices, ascending."""
    where: dict[str, list[int]] = {}
    for i, sentence in enumerate(sentences):
        where.setdefault(sentence, []).append(i)
    return where


def _drop_repeat_at(
    sentences: list[str], start: int, candidates: list[int], min_chars: int
) -> bool:
    """Delete the shortest run beginning at ``start`` that is repeated right after it;
    ``candidates`` are the later indices holding the same sentence as ``start``."""
    for nxt in candidates:
        size = nxt - start
        block = sentences[start:nxt]
        if block == sentences[nxt : nxt + size] and sum(map(len, block)) >= min_chars:
            del sentences[nxt : nxt + size]
            return True
    return False
