"""Converting between Paper records and table rows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import RowMapping

from papertide.clock import exact_utcnow
from papertide.models import Paper
from papertide.normalize import author_key, title_key

# Paper fields stored in a column of the same name.
_PLAIN = (
    "id",
    "arxiv_id",
    "arxiv_version",
    "doi",
    "title",
    "abstract",
    "authors",
    "categories",
    "published",
    "updated",
    "listed_on",
    "url_abs",
    "url_pdf",
    "url_code",
    "url_project",
    "journal_ref",
    "comments",
    "upvotes_external",
    "github_stars",
    "comments_count",
    "submitted_by",
    "sources",
    "extra",
    "first_seen",
)


def paper_to_row(paper: Paper) -> dict[str, Any]:
    """The papers-table row for a paper (without pk), with its derived columns."""
    row = {name: getattr(paper, name) for name in _PLAIN}
    row["modified"] = exact_utcnow()
    row["title_key"] = title_key(paper.title)
    row["author_key"] = author_key(paper.authors)
    row["primary_category"] = paper.primary_category
    row["day"] = paper.day
    return row


def row_to_paper(
    row: RowMapping | Mapping[str, Any], external: dict[str, str] | None = None
) -> Paper:
    """A Paper from a papers-table row (and its external ids, if loaded)."""
    paper = Paper(**{name: row[name] for name in _PLAIN})
    paper.pk = row["pk"]
    paper.site_votes = row["site_votes"]  # never written back by imports
    paper.external_ids = dict(external or {})
    return paper
