"""Parse JSON-lines papers: BEIR corpora ({"_id","title","text"}) and generic records.

Generic records are read through a field mapping (paper field -> JSON key, dots for nested
keys); the default mapping knows BEIR's and the common spellings (summary, publishedAt...).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from papertide.models import Paper, Record, RecordError
from papertide.normalize import clean_text, parse_arxiv_id, strip_controls_deep, web_url

SOURCE = "jsonl"
FIELDS = (
    "id",
    "title",
    "abstract",
    "authors",
    "arxiv_id",
    "doi",
    "categories",
    "published",
    "updated",
    "url_abs",
    "url_pdf",
    "url_code",
    "url_project",
)
DEFAULT_MAPPING: dict[str, tuple[str, ...]] = {
    "id": ("_id", "id"),
    "title": ("title",),
    "abstract": ("abstract", "summary", "text"),
    "authors": ("authors",),
    "arxiv_id": ("arxiv_id", "arxivId"),
    "doi": ("doi",),
    "categories": ("categories",),
    "published": ("published", "publishedAt", "date"),
    "updated": ("updated", "updatedAt"),
    "url_abs": ("url",),
    "url_pdf": ("pdf_url", "pdf"),
    "url_code": ("github", "githubRepo", "code"),
    "url_project": ("projectPage",),
}


class RecordProblem(ValueError):
    """One record's field cannot be used; the message names the field and value."""


def parse_mapping(pairs: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Read ``field=key`` options into a mapping layered over the default one."""
    mapping = dict(DEFAULT_MAPPING)
    for pair in pairs:
        target, sep, key = pair.partition("=")
        if not sep or target not in FIELDS or not key:
            raise ValueError(
                f"bad --field {pair!r}: use FIELD=JSON_KEY with FIELD one of {', '.join(FIELDS)}"
            )
        mapping[target] = (key,)
    return mapping


def parse_jsonl(
    lines: Iterable[tuple[int, str | None]],
    origin: str,
    *,
    namespace: str,
    mapping: Mapping[str, tuple[str, ...]] = DEFAULT_MAPPING,
    max_title: int,
    max_abstract: int,
) -> Iterator[Record | RecordError]:
    """Yield a Record per readable line and a RecordError (line and reason) per bad one."""
    return parse_objects(
        lines,
        origin,
        lambda obj: _paper(obj, namespace, mapping),
        max_title=max_title,
        max_abstract=max_abstract,
    )


def parse_objects(
    lines: Iterable[tuple[int, str | None]],
    origin: str,
    build: Callable[[dict[str, Any]], Paper],
    *,
    max_title: int,
    max_abstract: int,
) -> Iterator[Record | RecordError]:
    """The JSON-lines loop every JSON format shares: one object a line, ``build`` makes
    the Paper; a line that cannot be read becomes a RecordError naming line and reason."""
    for number, text in lines:
        if text is None:
            yield RecordError(origin, number, "not valid UTF-8; record skipped")
            continue
        if not text.strip():
            continue
        try:
            obj = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            yield RecordError(origin, number, f"invalid or truncated JSON ({exc})")
            continue
        try:
            if not isinstance(obj, dict):
                raise RecordProblem(f"expected a JSON object, got {type(obj).__name__}")
            paper = build(obj)
            check_record(paper, max_title=max_title, max_abstract=max_abstract)
        except RecordProblem as exc:
            yield RecordError(origin, number, str(exc))
            continue
        yield Record(paper=paper, origin=origin, line=number)


URL_FIELDS = ("url_abs", "url_pdf", "url_code", "url_project")
_TEXT_FIELDS = (
    *("title", "abstract", "authors", "doi", "categories", "journal_ref", "comments"),
    *("submitted_by", "external_ids", "extra", "arxiv_id"),
)


def check_record(paper: Paper, *, max_title: int, max_abstract: int) -> None:
    """The check every importer runs on each record: control characters are stripped from
    its text, then RecordProblem for a missing title, a title or abstract past the limits,
    or a link that is not an http(s) URL."""
    for name in _TEXT_FIELDS:
        value = getattr(paper, name)
        if value:
            setattr(paper, name, strip_controls_deep(value))
    for name in URL_FIELDS:
        value = getattr(paper, name)
        if value and web_url(value) is None:
            raise RecordProblem(f"field {name!r}: {value[:80]!r} is not an http(s) URL")
    if not paper.title:
        raise RecordProblem("missing title")
    if len(paper.title) > max_title:
        raise RecordProblem(f"title is {len(paper.title):,} characters; the limit is {max_title:,}")
    if len(paper.abstract) > max_abstract:
        raise RecordProblem(
            f"abstract is {len(paper.abstract):,} characters; the limit is {max_abstract:,} "
            "(setting max_abstract_chars)"
        )


check_sizes = check_record  # the name ingest.py calls it by


def _get(obj: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        value: Any = obj
        for part in key.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        if value not in (None, "", []):
            return value
    return None


def _text(value: Any, name: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str | int | float):
        raise RecordProblem(f"field {name!r} should be text, got {type(value).__name__}")
    return clean_text(str(value))


def _authors(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [clean_text(a) for a in value.replace(" and ", ",").split(",") if a.strip()]
    if isinstance(value, list):
        names = [a.get("name", "") if isinstance(a, dict) else str(a) for a in value]
        return [clean_text(n) for n in names if n and n.strip()]
    raise RecordProblem(f"field 'authors' should be a list or text, got {type(value).__name__}")


def _date(value: Any, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise RecordProblem(f"field {name!r}: {value!r} is not an ISO date") from exc
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def _paper(obj: Mapping[str, Any], namespace: str, mapping: Mapping[str, tuple[str, ...]]) -> Paper:
    get = {name: _get(obj, keys) for name, keys in mapping.items()}
    paper = Paper(
        title=_text(get["title"], "title"),
        abstract=_text(get["abstract"], "abstract"),
        authors=_authors(get["authors"]),
        doi=_text(get["doi"], "doi") or None,
        published=_date(get["published"], "published"),
        updated=_date(get["updated"], "updated"),
        url_abs=_text(get["url_abs"], "url_abs") or None,
        url_pdf=_text(get["url_pdf"], "url_pdf") or None,
        url_code=_text(get["url_code"], "url_code") or None,
        url_project=_text(get["url_project"], "url_project") or None,
        sources=[SOURCE],
    )
    cats = get["categories"]
    paper.categories = cats.split() if isinstance(cats, str) else [str(c) for c in cats or []]
    arxiv = parse_arxiv_id(_text(get["arxiv_id"], "arxiv_id")) if get["arxiv_id"] else None
    if arxiv:
        paper.arxiv_id, paper.arxiv_version = arxiv
    if get["id"] is not None:
        paper.external_ids[namespace] = _text(get["id"], "id")
    return paper
