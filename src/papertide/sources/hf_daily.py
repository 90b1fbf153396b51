"""Hugging Face daily papers (``/api/daily_papers``): fetching (I/O) apart from parsing (pure).

The response is a JSON array; each item is the day's listing of one paper:
``{"paper": {"id", "title", "summary", "authors": [{"name"}], "publishedAt", "upvotes",
"ai_summary", "ai_keywords", "githubRepo", "githubStars", "projectPage",
"submittedOnDailyAt", "submittedOnDailyBy": {"user", "fullname"}}, "publishedAt",
"title", "summary", "thumbnail", "numComments", "submittedBy": {...}, ...}``.
``paper.publishedAt`` is the arXiv publication; the item's ``publishedAt`` is when it was
put on the daily list.

Query parameters: the Hub API page documents ``date=YYYY-MM-DD``. The week and month
views and paging are not in the official API docs; the Hub's own pages and its client
libraries use ``week=YYYY-Www`` (ISO week), ``month=YYYY-MM``, ``limit`` (at most 100) and
``p`` (page, from 0), which is what this module sends. A short page is the last one.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

import httpx
import orjson

from papertide.models import Paper, Record, RecordError
from papertide.normalize import clean_text, parse_arxiv_id
from papertide.sources.http import BadBody, PoliteClient, Refused, naive_utc
from papertide.sources.jsonl import RecordProblem, check_record

SOURCE = "hf-daily"
Period = Literal["date", "week", "month"]


@dataclass(slots=True)
class Span:
    """One unit the feed is asked for: a day, an ISO week or a month (first and last day)."""

    period: Period
    first: date
    last: date

    @property
    def param(self) -> tuple[str, str]:
        """The query parameter naming this span, e.g. ('week', '2026-W47')."""
        if self.period == "date":
            return "date", self.first.isoformat()
        if self.period == "week":
            year, week, _ = self.first.isocalendar()
            return "week", f"{year}-W{week:02d}"
        return "month", f"{self.first:%Y-%m}"


def span_of(period: Period, day: date) -> Span:
    """The day, ISO week (Monday to Sunday) or month that holds ``day``."""
    if period == "date":
        return Span(period, day, day)
    if period == "week":
        monday = day - timedelta(days=day.weekday())
        return Span(period, monday, monday + timedelta(days=6))
    last = calendar.monthrange(day.year, day.month)[1]
    return Span(period, day.replace(day=1), day.replace(day=last))


def spans_between(period: Period, first: date, last: date) -> list[Span]:
    """The spans covering ``first`` to ``last``, oldest first."""
    spans: list[Span] = []
    day = first
    while day <= last:
        span = span_of(period, day)
        spans.append(span)
        day = span.last + timedelta(days=1)
    return spans


def fetch_span(
    client: PoliteClient, url: str, span: Span, *, size: int, max_title: int, max_abstract: int
) -> list[Record | RecordError]:
    """Every item of one span, following pages until a short one."""
    items: list[Record | RecordError] = []
    name, value = span.param
    for page in range(1000):  # a bound, not a limit anyone reaches: 100,000 papers a span
        params: dict[str, str | int] = {name: value, "limit": size, "p": page}

        def parse(response: httpx.Response) -> list[Record | RecordError]:
            return parse_daily(
                response.content,
                str(response.url),
                listed_on=span.first if span.period == "date" else None,
                max_title=max_title,
                max_abstract=max_abstract,
            )

        found = client.fetch(url, params, parse)
        items.extend(found)
        if len(found) < size:
            break
    return items


def parse_daily(
    body: bytes,
    origin: str,
    *,
    listed_on: date | None,
    max_title: int,
    max_abstract: int,
) -> list[Record | RecordError]:
    """Parse a daily_papers response: a Record per item, a RecordError per unreadable one."""
    data = load_json_array(body)
    return list(_items(data, origin, listed_on, max_title, max_abstract))


def load_json_array(body: bytes) -> list[Any]:
    """A Hugging Face API answer that must be a JSON array: BadBody for an HTML page, an
    empty, malformed or cut body or another shape; Refused for the API's ``{"error"}``."""
    head = body[:100].lstrip().lower()
    if not head:
        raise BadBody("empty body instead of a JSON array")
    if head.startswith((b"<!doctype html", b"<html")):
        text = " ".join(body[:80].decode("utf-8", "replace").split())
        raise BadBody(f"an HTML page instead of JSON: {text!r}")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadBody(f"malformed or truncated JSON ({exc})") from exc
    if isinstance(data, dict) and "error" in data:
        raise Refused(f"Hugging Face API error: {data['error']}")
    if not isinstance(data, list):
        raise BadBody(f"expected a JSON array of papers, got {type(data).__name__}")
    return data


def _items(
    data: list[Any], origin: str, listed_on: date | None, max_title: int, max_abstract: int
) -> Iterator[Record | RecordError]:
    for number, item in enumerate(data, 1):
        try:
            if not isinstance(item, dict):
                raise RecordProblem(f"expected an object, got {type(item).__name__}")
            paper = item_paper(item, listed_on=listed_on)
            check_record(paper, max_title=max_title, max_abstract=max_abstract)
        except (RecordProblem, ValueError) as exc:
            yield RecordError(origin, number, f"item {number}: {exc}")
            continue
        yield Record(paper=paper, origin=origin, line=number)


def item_paper(item: dict[str, Any], *, listed_on: date | None) -> Paper:
    """Turn one daily_papers item into a Paper with its community fields."""
    paper = item.get("paper")
    if not isinstance(paper, dict):
        raise RecordProblem("item has no 'paper' object")
    ident = _str(paper, "id")
    if not ident:
        raise RecordProblem("paper has no 'id'")
    parsed = parse_arxiv_id(ident)
    submitter = paper.get("submittedOnDailyBy") or item.get("submittedBy") or {}
    on_daily = naive_utc(_str(paper, "submittedOnDailyAt") or _str(item, "publishedAt"))
    result = Paper(
        title=clean_text(_str(paper, "title") or _str(item, "title")),
        abstract=clean_text(_str(paper, "summary") or _str(item, "summary")),
        authors=_authors(paper.get("authors")),
        arxiv_id=parsed[0] if parsed else None,
        # No ``updated``: a community listing is not a newer version of the paper, so it
        # fills gaps and refreshes counters but never replaces arXiv's own metadata.
        published=naive_utc(_str(paper, "publishedAt")),
        listed_on=listed_on or (on_daily.date() if on_daily else None),
        url_abs=f"https://arxiv.org/abs/{parsed[0]}" if parsed else None,
        url_pdf=f"https://arxiv.org/pdf/{parsed[0]}" if parsed else None,
        url_code=_str(paper, "githubRepo") or None,
        url_project=_str(paper, "projectPage") or None,
        upvotes_external=_count(paper, "upvotes"),
        github_stars=_count(paper, "githubStars"),
        comments_count=_count(item, "numComments"),
        submitted_by=_submitter(submitter),
        sources=[SOURCE],
        external_ids={} if parsed else {"hf": ident},
    )
    _add_extra(result, paper)
    thumbnail = item.get("thumbnail")
    # Kept only as an https address (the worker fetches it, from the one host it trusts); a
    # missing or odd one costs the paper its thumbnail, not its record.
    if (
        isinstance(thumbnail, str)
        and thumbnail.startswith("https://")
        and len(thumbnail) <= 500
        and not any(c.isspace() for c in thumbnail)
    ):
        result.extra["thumbnail"] = thumbnail
    return result


def _add_extra(result: Paper, paper: dict[str, Any]) -> None:
    summary = clean_text(_str(paper, "ai_summary"))
    if summary:
        result.extra["ai_summary"] = summary
    keywords = paper.get("ai_keywords")
    if isinstance(keywords, list) and keywords:
        result.extra["ai_keywords"] = [clean_text(str(k)) for k in keywords if str(k).strip()]


def _authors(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise RecordProblem("'authors' should be a list")
    names = []
    for author in value:
        name = author.get("name") if isinstance(author, dict) else author
        if isinstance(name, str) and name.strip():
            names.append(clean_text(name))
    return names


def _submitter(value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    for key in ("user", "name", "fullname"):
        found = value.get(key)
        if isinstance(found, str) and found.strip():
            return found.strip()
    return None


def _str(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise RecordProblem(f"{key!r} should be text, got {type(value).__name__}")
    return value


def _count(obj: dict[str, Any], key: str) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RecordProblem(f"{key!r} should be a count, got {value!r}")
    return value
