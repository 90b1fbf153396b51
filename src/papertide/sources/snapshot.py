"""Parse the public arXiv metadata snapshot: one JSON object a line, pure functions.

Fields used: id, title, abstract, authors / authors_parsed, categories (space-separated,
primary first), doi, journal-ref, comments, versions ([{"version": "v1", "created": RFC
2822 date}, ...]) and update_date. Lines are parsed one at a time, so memory stays flat
whatever the file size (the full snapshot is ~2.7M lines, ~4 GB).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from papertide.models import Paper, Record, RecordError
from papertide.normalize import clean_text, parse_arxiv_id
from papertide.sources.jsonl import RecordProblem, parse_objects

SOURCE = "arxiv-snapshot"


def parse_snapshot(
    lines: Iterable[tuple[int, str | None]],
    origin: str,
    *,
    max_title: int,
    max_abstract: int,
) -> Iterator[Record | RecordError]:
    """Yield a Record per snapshot line and a RecordError (line and reason) per bad one."""
    return parse_objects(
        lines, origin, snapshot_paper, max_title=max_title, max_abstract=max_abstract
    )


def snapshot_paper(obj: dict[str, Any]) -> Paper:
    """Turn one snapshot object into a Paper, or raise RecordProblem naming the field."""
    raw_id = obj.get("id")
    parsed = parse_arxiv_id(str(raw_id)) if raw_id else None
    if parsed is None:
        raise RecordProblem(f"field 'id': {raw_id!r} is not an arXiv id")
    arxiv_id, _ = parsed
    versions = obj.get("versions") or []
    if not isinstance(versions, list):
        raise RecordProblem("field 'versions' should be a list")
    published = _rfc2822(versions[0].get("created")) if versions else None
    updated = _rfc2822(versions[-1].get("created")) if versions else None
    if updated is None and obj.get("update_date"):
        updated = _iso_day(obj["update_date"])
    doi = (obj.get("doi") or "").split()
    return Paper(
        title=clean_text(_str(obj, "title")),
        abstract=clean_text(_str(obj, "abstract")),
        authors=_authors(obj),
        arxiv_id=arxiv_id,
        arxiv_version=len(versions) or None,
        doi=doi[0] if doi else None,
        categories=_str(obj, "categories").split(),
        published=published,
        updated=updated,
        url_abs=f"https://arxiv.org/abs/{arxiv_id}",
        url_pdf=f"https://arxiv.org/pdf/{arxiv_id}",
        journal_ref=clean_text(_str(obj, "journal-ref")) or None,
        comments=clean_text(_str(obj, "comments")) or None,
        sources=[SOURCE],
    )


def _str(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise RecordProblem(f"field {key!r} should be text, got {type(value).__name__}")
    return value


def _authors(obj: dict[str, Any]) -> list[str]:
    parsed = obj.get("authors_parsed")
    if isinstance(parsed, list) and parsed:
        names = []
        for parts in parsed:
            last, first, suffix = [*parts, "", "", ""][:3]
            names.append(clean_text(f"{first} {last} {suffix}"))
        return [n for n in names if n]
    text = _str(obj, "authors")
    return [clean_text(a) for a in text.replace(" and ", ",").split(",") if a.strip()]


_MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}


def _rfc2822(value: Any) -> datetime | None:
    """Read a version date; the snapshot's 'Mon, 2 Apr 2007 19:18:42 GMT' takes a fast path."""
    if not value:
        return None
    parts = str(value).split()
    if len(parts) == 6 and parts[5] in ("GMT", "+0000", "-0000") and parts[2] in _MONTHS:
        try:
            hour, minute, second = (int(x) for x in parts[4].split(":"))
            return datetime(int(parts[3]), _MONTHS[parts[2]], int(parts[1]), hour, minute, second)
        except ValueError:
            pass  # the general parser below names the problem
    try:
        parsed = parsedate_to_datetime(str(value))
    except (TypeError, ValueError) as exc:
        raise RecordProblem(f"field 'versions': bad date {value!r}") from exc
    return parsed.replace(tzinfo=None) - (parsed.utcoffset() or timedelta(0))


def _iso_day(value: Any) -> datetime:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise RecordProblem(f"field 'update_date': {value!r} is not a date") from exc
