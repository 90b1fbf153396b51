"""Atom feeds (RFC 4287) of papers, for feed readers: every feature's feed is written here.

Written with the standard library's ElementTree, which escapes text and attributes.
(feedgen 1.0.0 drops rel and type from entry links, making every link an alternate:
invalid Atom.) Feeds are public and anonymous: no reader's votes, no cookies.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import Response

from papertide import __version__
from papertide.models import Paper

ATOM_TYPE = "application/atom+xml; charset=utf-8"
ATOM_NS = "http://www.w3.org/2005/Atom"
FEED_SIZE = 50
# XML 1.0 forbids these characters even escaped (section 2.2); lxml refuses them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def atom_response(
    request: Request,
    *,
    title: str,
    subtitle: str,
    alternate: str,
    papers: list[Paper],
    empty_updated: date | None,
) -> Response:
    """Write ``papers`` as an Atom feed whose id and rel=self link are this request's URL."""
    base = str(request.base_url)
    self_url = str(request.url)
    stamps = [_entry_updated(paper) for paper in papers]
    fallback = _as_utc(empty_updated) if empty_updated else datetime(1970, 1, 1, tzinfo=UTC)
    feed = ET.Element("feed", {"xmlns": ATOM_NS, "xml:lang": "en"})
    _text(feed, "id", self_url)
    _text(feed, "title", title)
    _text(feed, "subtitle", subtitle)
    _text(feed, "updated", _rfc3339(max(stamps, default=fallback)))
    ET.SubElement(feed, "link", href=self_url, rel="self", type="application/atom+xml")
    ET.SubElement(
        feed, "link", href=base.rstrip("/") + alternate, rel="alternate", type="text/html"
    )
    # A feed-level author makes entries without authors valid (RFC 4287 section 4.1.1).
    author = ET.SubElement(feed, "author")
    _text(author, "name", "papertide")
    _text(author, "uri", base)
    _text(feed, "generator", "papertide").set("version", __version__)
    for paper, stamp in zip(papers, stamps, strict=True):
        _add_entry(feed, paper, base=base, updated=stamp)
    ET.indent(feed)
    body = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return Response(content=body, media_type=ATOM_TYPE)


def _add_entry(feed: ET.Element, paper: Paper, *, base: str, updated: datetime) -> None:
    """Append one paper: its page is the entry's id and alternate link; arXiv is related."""
    page_url = paper_url(base, paper)
    entry = ET.SubElement(feed, "entry")
    _text(entry, "id", page_url)
    _text(entry, "title", paper.title).set("type", "text")
    _text(entry, "updated", _rfc3339(updated))
    if paper.published is not None:
        _text(entry, "published", _rfc3339(_as_utc(paper.published)))
    for name in paper.authors:
        if name.strip():
            _text(ET.SubElement(entry, "author"), "name", name)
    if paper.abstract:
        _text(entry, "summary", paper.abstract).set("type", "text")
    ET.SubElement(entry, "link", href=page_url, rel="alternate", type="text/html")
    abs_url, pdf_url = paper.abs_link, paper.pdf_link
    if abs_url:
        ET.SubElement(
            entry, "link", href=abs_url, rel="related", type="text/html", title="Abstract"
        )
    if pdf_url:
        ET.SubElement(
            entry, "link", href=pdf_url, rel="related", type="application/pdf", title="PDF"
        )
    for category in paper.categories:
        ET.SubElement(entry, "category", term=_clean(category))


def _text(parent: ET.Element, tag: str, text: str) -> ET.Element:
    """A child element holding ``text`` (ElementTree escapes it when writing)."""
    element = ET.SubElement(parent, tag)
    element.text = _clean(text)
    return element


def paper_url(base: str, paper: Paper) -> str:
    """The absolute URL of a paper's page on this site (old arXiv ids keep their slash)."""
    return f"{base.rstrip('/')}/papers/{quote(paper.id or '', safe='/')}"


def _entry_updated(paper: Paper) -> datetime:
    """When the paper last changed as far as we know: updated, published, seen, or its day."""
    for moment in (paper.updated, paper.published, paper.first_seen):
        if moment is not None:
            return _as_utc(moment)
    return _as_utc(paper.day) if paper.day else datetime(1970, 1, 1, tzinfo=UTC)


def _rfc3339(moment: datetime) -> str:
    """An aware datetime as RFC 3339 (RFC 4287 section 3.3), to the second, Z for UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _as_utc(moment: datetime | date) -> datetime:
    """A store time (naive UTC) or day as an aware UTC datetime, as Atom dates need."""
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _clean(text: str) -> str:
    """Text without the characters XML cannot carry at all (escaping is ElementTree's job)."""
    return _NOT_XML.sub("", text)
