"""arXiv OAI-PMH bulk harvest (ListRecords): fetching (I/O) apart from parsing (pure).

Protocol: OAI-PMH 2.0 (openarchives.org/OAI/openarchivesprotocol.htm). A ListRecords
response is ``<OAI-PMH>`` with ``responseDate``, ``request`` and either ``<ListRecords>``
(``record`` = ``header`` [identifier, datestamp, setSpec*, optional status="deleted"] +
``metadata``, then a ``resumptionToken`` while the list is incomplete: section 3.5) or
``<error code=...>`` (section 3.6; ``noRecordsMatch`` just means an empty list). A request
with a resumptionToken carries no other argument (it is exclusive, section 4.5). The last
page of a list has an empty resumptionToken element or none. ``from``/``until`` use the
repository's granularity, YYYY-MM-DD at arXiv.

Metadata formats (arXiv's "Open Archives Initiative" help page and its XSDs):
- ``arXiv`` (namespace http://arxiv.org/OAI/arXiv/): id, created, updated, authors/author
  (keyname, forenames, suffix, affiliation*), title, categories (space separated, primary
  first), comments, report-no, msc-class, acm-class, journal-ref, doi, license, abstract.
- ``arXivRaw`` (http://arxiv.org/OAI/arXivRaw/): id, submitter, version[@version]
  (date: RFC 2822, size), title, authors (one string), categories, comments, journal-ref,
  doi, license, abstract.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.utils import parsedate_to_datetime
from xml.etree.ElementTree import Element

import httpx

from papertide.models import Paper, Record, RecordError
from papertide.normalize import clean_text, parse_arxiv_id
from papertide.sources.http import BadBody, PoliteClient, Refused, naive_utc, parse_xml
from papertide.sources.jsonl import RecordProblem, check_record

SOURCE = "arxiv-oai"
OAI = "{http://www.openarchives.org/OAI/2.0/}"
FORMATS = {"arXiv": "{http://arxiv.org/OAI/arXiv/}", "arXivRaw": "{http://arxiv.org/OAI/arXivRaw/}"}
_PARENS_RE = re.compile(r"\([^()]*\)")


class ExpiredToken(Refused):
    """The server no longer knows the resumption token (badResumptionToken): start over."""


@dataclass(slots=True)
class OaiPage:
    """One ListRecords response: its records, the token for the next page and its date."""

    items: list[Record | RecordError]
    token: str | None
    response_date: datetime
    deleted: int = 0
    complete_list_size: int | None = None
    cursor: int | None = None
    ids: list[str] = field(default_factory=list)


def list_params(
    *, prefix: str, set_spec: str, since: date | None, token: str | None
) -> dict[str, str | int]:
    """The arguments of one ListRecords request: the token alone, or prefix/set/from."""
    if token:
        return {"verb": "ListRecords", "resumptionToken": token}
    params: dict[str, str | int] = {"verb": "ListRecords", "metadataPrefix": prefix}
    if set_spec:
        params["set"] = set_spec
    if since is not None:
        params["from"] = since.isoformat()
    return params


def fetch_page(
    client: PoliteClient,
    url: str,
    params: dict[str, str | int],
    *,
    prefix: str,
    max_title: int,
    max_abstract: int,
) -> OaiPage:
    """GET one ListRecords page and parse it (retried by the client when unusable)."""

    def parse(response: httpx.Response) -> OaiPage:
        return parse_list_records(
            response.content,
            str(response.url),
            prefix=prefix,
            max_title=max_title,
            max_abstract=max_abstract,
        )

    return client.fetch(url, params, parse)


def parse_list_records(
    body: bytes, origin: str, *, prefix: str, max_title: int, max_abstract: int
) -> OaiPage:
    """Parse a ListRecords response; OAI errors raise Refused (ExpiredToken for tokens)."""
    root = parse_xml(body, what="an OAI-PMH response")
    if root.tag != f"{OAI}OAI-PMH":
        raise BadBody(f"root element is {root.tag!r}, not <OAI-PMH>")
    try:
        response_date = naive_utc(_text(root, f"{OAI}responseDate"))
    except ValueError as exc:  # the harvest resumes from this date: it must be one
        raise BadBody(f"<responseDate> is not a date: {exc}") from exc
    if response_date is None:
        raise BadBody("no <responseDate>: not a whole OAI-PMH response")
    error = root.find(f"{OAI}error")
    if error is not None:
        code, message = error.get("code", "?"), clean_text(error.text or "")
        if code == "noRecordsMatch":
            return OaiPage(items=[], token=None, response_date=response_date)
        if code == "badResumptionToken":
            raise ExpiredToken(f"OAI-PMH error badResumptionToken: {message}")
        raise Refused(f"OAI-PMH error {code}: {message}")
    listing = root.find(f"{OAI}ListRecords")
    if listing is None:
        raise BadBody("neither <ListRecords> nor <error> in the response")
    page = OaiPage(items=[], token=None, response_date=response_date)
    for number, record in enumerate(listing.findall(f"{OAI}record"), 1):
        _read_record(page, record, origin, number, prefix, (max_title, max_abstract))
    _read_token(page, listing.find(f"{OAI}resumptionToken"))
    return page


def _read_record(
    page: OaiPage,
    record: Element,
    origin: str,
    number: int,
    prefix: str,
    limits: tuple[int, int],
) -> None:
    header = record.find(f"{OAI}header")
    if header is not None and header.get("status") == "deleted":
        page.deleted += 1  # section 2.5.1: a deleted record has a header and no metadata
        return
    ns = FORMATS[prefix]
    meta = record.find(f"{OAI}metadata/{ns}{prefix}")
    try:
        if meta is None:
            raise RecordProblem(f"record without <{prefix}> metadata")
        paper = raw_paper(meta) if prefix == "arXivRaw" else arxiv_paper(meta)
        check_record(paper, max_title=limits[0], max_abstract=limits[1])
    except (RecordProblem, ValueError) as exc:
        page.items.append(RecordError(origin, number, f"record {number}: {exc}"))
        return
    page.ids.append(paper.arxiv_id or "")
    page.items.append(Record(paper=paper, origin=origin, line=number))


def _read_token(page: OaiPage, token: Element | None) -> None:
    if token is None:
        return
    page.token = (token.text or "").strip() or None
    size, cursor = token.get("completeListSize"), token.get("cursor")
    page.complete_list_size = int(size) if size and size.isdigit() else None
    page.cursor = int(cursor) if cursor and cursor.isdigit() else None


def arxiv_paper(meta: Element) -> Paper:
    """A Paper from ``arXiv``-format metadata, or RecordProblem naming the field."""
    ns = FORMATS["arXiv"]
    arxiv_id = _arxiv_id(_text(meta, f"{ns}id"))
    names: list[str] = []
    affiliations: dict[str, list[str]] = {}
    for author in meta.findall(f"{ns}authors/{ns}author"):
        parts = (_text(author, f"{ns}{p}") for p in ("forenames", "keyname", "suffix"))
        name = clean_text(" ".join(parts))
        if not name:
            continue
        names.append(name)
        found = [clean_text(a.text or "") for a in author.findall(f"{ns}affiliation")]
        if any(found):
            affiliations[name] = [a for a in found if a]
    created = _day(_text(meta, f"{ns}created"), "created")
    paper = _common(meta, ns, arxiv_id)
    paper.authors = names
    paper.published = created
    paper.updated = _day(_text(meta, f"{ns}updated"), "updated") or created
    if affiliations:
        paper.extra["affiliations"] = affiliations
    return paper


def raw_paper(meta: Element) -> Paper:
    """A Paper from ``arXivRaw`` metadata (version history included), or RecordProblem."""
    ns = FORMATS["arXivRaw"]
    arxiv_id = _arxiv_id(_text(meta, f"{ns}id"))
    dates = [_rfc2822(_text(v, f"{ns}date")) for v in meta.findall(f"{ns}version")]
    paper = _common(meta, ns, arxiv_id)
    paper.authors = split_authors(_text(meta, f"{ns}authors"))
    paper.arxiv_version = len(dates) or None
    paper.published = dates[0] if dates else None
    paper.updated = dates[-1] if dates else None
    submitter = clean_text(_text(meta, f"{ns}submitter"))
    if submitter:
        paper.extra["arxiv_submitter"] = submitter
    return paper


def split_authors(text: str) -> list[str]:
    """Split arXiv's one-string author list ('A. One (MIT), B. Two and C. Three')."""
    text = _PARENS_RE.sub(" ", _PARENS_RE.sub(" ", text))  # affiliations; one nesting level
    text = re.sub(r",?\s+and\s+", ",", text)
    return [clean_text(name) for name in text.split(",") if clean_text(name)]


def _common(meta: Element, ns: str, arxiv_id: str) -> Paper:
    """The fields both formats write alike."""
    doi = _text(meta, f"{ns}doi").split()
    extra: dict[str, object] = {}
    license_url = _text(meta, f"{ns}license")
    if license_url:
        extra["license"] = license_url
    return Paper(
        title=clean_text(_text(meta, f"{ns}title")),
        abstract=clean_text(_text(meta, f"{ns}abstract")),
        arxiv_id=arxiv_id,
        doi=doi[0] if doi else None,
        categories=_text(meta, f"{ns}categories").split(),
        url_abs=f"https://arxiv.org/abs/{arxiv_id}",
        url_pdf=f"https://arxiv.org/pdf/{arxiv_id}",
        journal_ref=clean_text(_text(meta, f"{ns}journal-ref")) or None,
        comments=clean_text(_text(meta, f"{ns}comments")) or None,
        sources=[SOURCE],
        extra=extra,
    )


def _arxiv_id(text: str) -> str:
    parsed = parse_arxiv_id(text)
    if parsed is None:
        raise RecordProblem(f"<id> {text!r} is not an arXiv id")
    return parsed[0]


def _day(text: str, name: str) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise RecordProblem(f"<{name}> {text!r} is not a YYYY-MM-DD date") from exc


def _rfc2822(text: str) -> datetime:
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError) as exc:
        raise RecordProblem(f"<version><date> {text!r} is not an RFC 2822 date") from exc
    return parsed.replace(tzinfo=None) - (parsed.utcoffset() or timedelta(0))


def _text(element: Element, path: str) -> str:
    found = element.find(path)
    return (found.text or "").strip() if found is not None else ""
