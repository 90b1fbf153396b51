"""Deciding when two records are one paper, and merging them: pure functions.

Rules (documented in docs/sources.md, "Dedupe and merge"):
- Strong keys identify a paper: the version-free arXiv id, then a source-scoped external id
  (``namespace:value``), then the DOI.
- Records that share no strong key are one paper when their normalised titles are equal and
  their first authors agree (or one side has none), unless a strong key contradicts it
  (two different arXiv ids, DOIs or ids of one namespace are two papers).
- Merging: a non-empty incoming value fills an empty field; it replaces a filled one only
  when the incoming record is newer (higher arXiv version, else later ``updated``). Community
  counters (upvotes, stars, comments) are observations: the latest non-empty one wins.
  Sources and external ids accumulate; ``listed_on`` keeps the earliest day.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from papertide.models import Paper
from papertide.normalize import author_key, title_key

_REPLACEABLE = (
    "title",
    "abstract",
    "authors",
    "arxiv_version",
    "doi",
    "categories",
    "published",
    "updated",
    "url_abs",
    "url_pdf",
    "url_code",
    "url_project",
    "journal_ref",
    "comments",
    "submitted_by",
)
_COUNTERS = ("upvotes_external", "github_stars", "comments_count")


def strong_keys(paper: Paper) -> list[str]:
    """The keys that identify a paper on their own, most trusted first."""
    keys: list[str] = []
    if paper.arxiv_id:
        keys.append(f"arxiv:{paper.arxiv_id}")
    keys.extend(f"ext:{ns}:{value}" for ns, value in sorted(paper.external_ids.items()))
    if paper.doi and not paper.arxiv_id:
        keys.append(f"doi:{paper.doi.lower()}")
    return keys


def title_match(a: Paper, b: Paper) -> bool:
    """True when two records with equal title keys may be the same paper."""
    if title_key(a.title) != title_key(b.title) or not title_key(a.title):
        return False
    if a.arxiv_id and b.arxiv_id and a.arxiv_id != b.arxiv_id:
        return False
    if a.doi and b.doi and a.doi.lower() != b.doi.lower():
        return False
    for ns, value in a.external_ids.items():
        if b.external_ids.get(ns, value) != value:
            return False
    first_a, first_b = author_key(a.authors), author_key(b.authors)
    return not first_a or not first_b or first_a == first_b


def is_newer(incoming: Paper, existing: Paper) -> bool:
    """Whether ``incoming`` describes a later state of the paper than ``existing``."""
    new_v, old_v = incoming.arxiv_version, existing.arxiv_version
    if new_v is not None and old_v is not None and new_v != old_v:
        return new_v > old_v
    if incoming.updated is not None:
        return existing.updated is None or incoming.updated > existing.updated
    return False


def clone(paper: Paper) -> Paper:
    """A copy of ``paper`` whose lists and dicts can change without touching the original."""
    return replace(
        paper,
        authors=list(paper.authors),
        categories=list(paper.categories),
        sources=list(paper.sources),
        external_ids=dict(paper.external_ids),
        extra=dict(paper.extra),
    )


def _empty(value: object) -> bool:
    return value is None or value == "" or value == [] or value == {}


def merge_papers(existing: Paper, incoming: Paper) -> Paper:
    """Return ``existing`` updated with what ``incoming`` adds; neither argument changes."""
    merged = clone(existing)
    newer = is_newer(incoming, existing)
    for name in _REPLACEABLE:
        value = getattr(incoming, name)
        if not _empty(value) and (newer or _empty(getattr(existing, name))):
            setattr(merged, name, value)
    for name in _COUNTERS:
        value = getattr(incoming, name)
        if value is not None:
            setattr(merged, name, value)
    if incoming.arxiv_id and not existing.arxiv_id:
        merged.arxiv_id = incoming.arxiv_id
    merged.listed_on = _earliest(existing.listed_on, incoming.listed_on)
    merged.sources.extend(s for s in incoming.sources if s not in merged.sources)
    for ns, value in incoming.external_ids.items():
        merged.external_ids.setdefault(ns, value)
    for key, value in incoming.extra.items():
        if not _empty(value) and (newer or key not in merged.extra):
            merged.extra[key] = value
    return merged


def _earliest(a: date | None, b: date | None) -> date | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def same_content(a: Paper, b: Paper) -> bool:
    """True when a merge changed nothing the store keeps."""
    fields = (*_REPLACEABLE, *_COUNTERS, "arxiv_id", "listed_on", "sources", "external_ids")
    return all(getattr(a, f) == getattr(b, f) for f in fields) and a.extra == b.extra
