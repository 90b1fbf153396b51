"""arXiv API (Atom) search: query building and fetching (I/O) apart from parsing (pure).

Format: the arXiv API user manual, section 3.3 ("Outline of an Atom feed") and 5.2. A feed
has the Atom namespace, OpenSearch totals and arXiv extension elements:
``<entry>`` holds ``id`` (abs URL with version), ``title``, ``summary``, ``published`` (v1),
``updated`` (this version), ``author/name`` with optional ``arxiv:affiliation``,
``category@term`` (arXiv, ACM or MSC), ``arxiv:primary_category``, ``arxiv:comment``,
``arxiv:journal_ref``, ``arxiv:doi`` and ``link`` (rel=alternate: abs page; rel=related
title=pdf: PDF; title=doi: resolved DOI). Errors come back as a feed with one entry whose
``id`` is under ``http://arxiv.org/api/errors`` (manual, 3.4).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from xml.etree.ElementTree import Element

import httpx

from papertide.models import Paper, Record, RecordError
from papertide.normalize import clean_text, parse_arxiv_id
from papertide.sources.http import BadBody, PoliteClient, Refused, naive_utc, parse_xml
from papertide.sources.jsonl import RecordProblem, check_record

SOURCE = "arxiv-api"
ATOM = "{http://www.w3.org/2005/Atom}"
ARXIV = "{http://arxiv.org/schemas/atom}"
OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"
MAX_RESULTS_PER_QUERY = 30_000  # manual 3.1.1.2: at most 30,000 results per query
# arXiv category terms (cs.LG, hep-th, math.AG, q-bio.NC); ACM (I.2.6) and MSC (68T05)
# classifications share the <category> element and are left out.
_CATEGORY_RE = re.compile(r"^[a-z][a-z\-]*(\.[A-Za-z][A-Za-z\-]*)?$")


@dataclass(slots=True)
class Window:
    """The date range one API run reads, both ends inclusive, naive UTC to the minute."""

    start: datetime
    end: datetime


@dataclass(slots=True)
class FeedPage:
    """One page of API results: the OpenSearch counts and the parsed entries."""

    total: int
    start: int
    entries: int
    items: list[Record | RecordError]


def build_query(
    *, categories: list[str], extra: str, date_field: str, window: Window | None
) -> str:
    """The search_query: any of the categories, AND the extra terms, AND the date window.

    Date ranges use ``submittedDate:[YYYYMMDDTTTT TO YYYYMMDDTTTT]`` (TTTT = 24-hour GMT
    time to the minute), the form of the current user manual's query appendix; the
    ``lastUpdatedDate`` field takes the same range.
    """
    parts = []
    if categories:
        parts.append("(" + " OR ".join(f"cat:{c}" for c in categories) + ")")
    if extra.strip():
        parts.append(f"({extra.strip()})")
    if window is not None:
        span = f"{window.start:%Y%m%d%H%M} TO {window.end:%Y%m%d%H%M}"
        parts.append(f"{date_field}:[{span}]")
    if not parts:
        raise ValueError("an arXiv query needs categories, terms or a date window")
    return " AND ".join(parts)


def query_params(query: str, *, start: int, size: int, sort_by: str) -> dict[str, str | int]:
    """Parameters of one page: oldest first, so paging is stable while arXiv adds papers."""
    return {
        "search_query": query,
        "start": start,
        "max_results": size,
        "sortBy": sort_by,
        "sortOrder": "ascending",
    }


def fetch_page(
    client: PoliteClient,
    url: str,
    params: dict[str, str | int],
    *,
    max_title: int,
    max_abstract: int,
) -> FeedPage:
    """GET one page of results and parse it (retried by the client when unusable)."""

    def parse(response: httpx.Response) -> FeedPage:
        return parse_feed(
            response.content,
            str(response.url),
            expect_start=int(params["start"]),
            max_title=max_title,
            max_abstract=max_abstract,
        )

    return client.fetch(url, params, parse)


def parse_feed(
    body: bytes, origin: str, *, expect_start: int, max_title: int, max_abstract: int
) -> FeedPage:
    """Parse an API response: raise Refused for an API error, BadBody for a broken feed."""
    root = parse_xml(body, what="an arXiv Atom feed")
    if root.tag != f"{ATOM}feed":
        raise BadBody(f"root element is {root.tag!r}, not an Atom <feed>")
    entries = root.findall(f"{ATOM}entry")
    for entry in entries:
        ident = _text(entry, f"{ATOM}id")
        if "/api/errors" in ident:
            raise Refused(f"arXiv API error: {_text(entry, f'{ATOM}summary') or ident}")
    total = _int(root, f"{OPENSEARCH}totalResults")
    start = _int(root, f"{OPENSEARCH}startIndex")
    if not entries and start < total:
        # The API is known to answer now and then with an empty page inside the result set;
        # treating it as the end would skip papers, so it is retried instead.
        raise BadBody(f"no entries at start={start} although totalResults={total}")
    if start != expect_start:
        raise BadBody(f"startIndex is {start}, expected {expect_start}")
    items = [_entry_item(e, origin, n, max_title, max_abstract) for n, e in enumerate(entries, 1)]
    return FeedPage(total=total, start=start, entries=len(entries), items=items)


def _entry_item(
    entry: Element, origin: str, number: int, max_title: int, max_abstract: int
) -> Record | RecordError:
    try:
        paper = entry_paper(entry)
        check_record(paper, max_title=max_title, max_abstract=max_abstract)
    except (RecordProblem, ValueError) as exc:
        return RecordError(origin, number, f"entry {number}: {exc}")
    return Record(paper=paper, origin=origin, line=number)


def entry_paper(entry: Element) -> Paper:
    """Turn one Atom ``<entry>`` into a Paper, or raise RecordProblem naming the field."""
    ident = _text(entry, f"{ATOM}id")
    parsed = parse_arxiv_id(ident)
    if parsed is None:
        raise RecordProblem(f"<id> {ident!r} is not an arXiv abs URL")
    arxiv_id, version = parsed
    authors, affiliations = _authors(entry)
    links = _links(entry)
    extra: dict[str, object] = {"affiliations": affiliations} if affiliations else {}
    doi = _text(entry, f"{ARXIV}doi").split()
    return Paper(
        title=clean_text(_text(entry, f"{ATOM}title")),
        abstract=clean_text(_text(entry, f"{ATOM}summary")),
        authors=authors,
        arxiv_id=arxiv_id,
        arxiv_version=version,
        doi=doi[0] if doi else None,
        categories=_categories(entry),
        published=naive_utc(_text(entry, f"{ATOM}published")),
        updated=naive_utc(_text(entry, f"{ATOM}updated")),
        url_abs=links.get("alternate") or f"https://arxiv.org/abs/{arxiv_id}",
        url_pdf=links.get("pdf") or f"https://arxiv.org/pdf/{arxiv_id}",
        journal_ref=clean_text(_text(entry, f"{ARXIV}journal_ref")) or None,
        comments=clean_text(_text(entry, f"{ARXIV}comment")) or None,
        sources=[SOURCE],
        extra=extra,
    )


def _authors(entry: Element) -> tuple[list[str], dict[str, list[str]]]:
    names: list[str] = []
    affiliations: dict[str, list[str]] = {}
    for author in entry.findall(f"{ATOM}author"):
        name = clean_text(_text(author, f"{ATOM}name"))
        if not name:
            continue
        names.append(name)
        found = [clean_text(a.text or "") for a in author.findall(f"{ARXIV}affiliation")]
        if any(found):
            affiliations[name] = [a for a in found if a]
    return names, affiliations


def _categories(entry: Element) -> list[str]:
    primary = entry.find(f"{ARXIV}primary_category")
    terms = [primary.get("term", "")] if primary is not None else []
    terms += [c.get("term", "") for c in entry.findall(f"{ATOM}category")]
    seen: list[str] = []
    for term in terms:
        if _CATEGORY_RE.match(term) and term not in seen:
            seen.append(term)
    return seen


def _links(entry: Element) -> dict[str, str]:
    found: dict[str, str] = {}
    for link in entry.findall(f"{ATOM}link"):
        href = link.get("href", "")
        if link.get("rel") == "alternate":
            found.setdefault("alternate", href)
        elif link.get("title") == "pdf":
            found.setdefault("pdf", href)
    return found


def _text(element: Element, path: str) -> str:
    found = element.find(path)
    return (found.text or "").strip() if found is not None else ""


def _int(root: Element, path: str) -> int:
    text = _text(root, path)
    if not text.isdigit():
        raise BadBody(f"missing or bad {path.split('}')[-1]} ({text!r}): not a whole feed")
    return int(text)


def iter_pages(
    client: PoliteClient,
    url: str,
    query: str,
    *,
    start: int,
    size: int,
    sort_by: str,
    max_title: int,
    max_abstract: int,
) -> Iterator[FeedPage]:
    """Fetch pages from ``start`` until the result set (or the 30,000 cap) is exhausted."""
    while start < MAX_RESULTS_PER_QUERY:
        params = query_params(query, start=start, size=size, sort_by=sort_by)
        page = fetch_page(client, url, params, max_title=max_title, max_abstract=max_abstract)
        yield page
        start += page.entries
        if page.entries == 0 or start >= page.total:
            return
