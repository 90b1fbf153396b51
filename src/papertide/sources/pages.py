"""Parse text captures of a trending-papers page (../shared/seeds/*.txt): pure functions.

A capture is paragraphs separated by blank lines: a header (``new``, ``Get trending papers
in your email inbox!``, ``Subscribe``, ``byAK and the research community``), a date line
such as ``Mar 12``, then title / abstract paragraph pairs. The first paper is the one the
page was opened for; the rest are the papers the site listed with it, in order. All of them
were on the page that day, so each is dated (``listed_on``) the capture's day.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime

from papertide.clock import utcnow
from papertide.models import Listing, Paper, Record, RecordError
from papertide.normalize import clean_text, repair_doubled

SOURCE = "page"
_MAX_HEADER_PARAGRAPHS = 12
_DATE_FORMATS_NO_YEAR = ("%b %d", "%B %d")
_DATE_FORMATS = ("%b %d, %Y", "%B %d, %Y", "%Y-%m-%d", "%d %b %Y", "%d %B %Y")
_TITLE_MAX = 400  # a "title" paragraph longer than this is prose: the pairing slipped


@dataclass(slots=True)
class _Paragraph:
    line: int
    text: str | None  # None: some line of it was not valid UTF-8


def parse_page_date(
    text: str, *, year: int | None = None, today: date | None = None
) -> date | None:
    """Read a page's date line; a date without a year takes ``year``, else the latest
    year that does not put it in the future (relative to ``today``)."""
    text = text.strip()
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            pass
    for fmt in _DATE_FORMATS_NO_YEAR:
        try:
            # strptime defaults to 1900, which has no Feb 29: parse with a leap year.
            parsed = datetime.strptime(f"2000 {text}", f"%Y {fmt}").date()
        except ValueError:
            continue
        ref = today or utcnow().date()
        if year is not None:
            return _with_year(parsed, year)
        candidate = _with_year(parsed, ref.year)
        return candidate if candidate <= ref else _with_year(parsed, ref.year - 1)
    return None


def _with_year(day: date, year: int) -> date:
    try:
        return day.replace(year=year)
    except ValueError:  # Feb 29 in a common year
        return day.replace(year=year, day=28)


def find_date_line(lines: Iterable[str]) -> str | None:
    """The first non-blank line that reads as a page date, if any."""
    for line in lines:
        if line.strip() and parse_page_date(line, year=2000) is not None:
            return line.strip()
    return None


def _paragraphs(lines: Iterable[tuple[int, str | None]]) -> Iterator[_Paragraph]:
    start, broken = 0, False
    parts: list[str] = []
    for number, text in lines:
        if text is not None and not text.strip():
            if parts or broken:
                yield _Paragraph(start, None if broken else " ".join(parts))
            start, parts, broken = 0, [], False
            continue
        start = start or number
        if text is None:
            broken = True
        else:
            parts.append(text.strip())
    if parts or broken:
        yield _Paragraph(start, None if broken else " ".join(parts))


def parse_page(
    lines: Iterable[tuple[int, str | None]],
    origin: str,
    *,
    year: int | None = None,
    today: date | None = None,
) -> Iterator[Record | RecordError | Listing]:
    """Yield a Record per paper on the page, errors for unreadable parts, then the Listing."""
    paragraphs = iter(_paragraphs(lines))
    listed_on = _read_header(paragraphs, origin, year=year, today=today)
    if isinstance(listed_on, RecordError):
        yield listed_on
        return
    positions: list[int] = []
    for item in _pair(paragraphs, origin):
        if isinstance(item, Record):
            # Every paper on the page was listed there that day, the one the page was opened
            # for and those listed with it: the feeds file them all under the capture's day.
            item.paper.listed_on = listed_on
            positions.append(len(positions))
        yield item
    if positions:
        yield Listing(kind=SOURCE, origin=origin, listed_on=listed_on, positions=positions)


def _read_header(
    paragraphs: Iterator[_Paragraph], origin: str, *, year: int | None, today: date | None
) -> date | RecordError:
    for index, para in enumerate(paragraphs):
        if index >= _MAX_HEADER_PARAGRAPHS:
            break
        if para.text is None:
            continue
        found = parse_page_date(para.text, year=year, today=today)
        if found is not None:
            return found
    return RecordError(origin, 1, "no date line (like 'Mar 12') in the page header")


def _pair(paragraphs: Iterator[_Paragraph], origin: str) -> Iterator[Record | RecordError]:
    """Pair title and abstract paragraphs, realigning when a 'title' is really prose."""
    pending: _Paragraph | None = None
    for para in paragraphs:
        if pending is None:
            if para.text is not None and len(para.text) > _TITLE_MAX:
                yield RecordError(origin, para.line, "abstract paragraph without a title")
            else:
                pending = para
            continue
        yield _record(pending, para, origin)
        pending = None
    if pending is not None:
        yield _record(pending, None, origin)


def _record(title: _Paragraph, abstract: _Paragraph | None, origin: str) -> Record | RecordError:
    if title.text is None:
        return RecordError(origin, title.line, "title is not valid UTF-8; paper skipped")
    if abstract is not None and abstract.text is None:
        return RecordError(origin, abstract.line, "abstract is not valid UTF-8; paper skipped")
    text = repair_doubled(clean_text(abstract.text)) if abstract and abstract.text else ""
    paper = Paper(title=clean_text(title.text), abstract=text, sources=[SOURCE])
    return Record(paper=paper, origin=origin, line=title.line)
