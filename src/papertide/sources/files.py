"""Reading local files for the file sources: numbered lines, encodings, gzip, format sniffing."""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import orjson

from papertide.models import Listing, Record, RecordError
from papertide.sources.pages import find_date_line

FORMATS = ("page", "jsonl", "arxiv-snapshot")
Item = Record | RecordError | Listing

_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_UTF8_BOM = b"\xef\xbb\xbf"
_PAGE_MARKERS = ("get trending papers in your email inbox", "trending papers")


class FormatError(Exception):
    """The file is not of the format at all (or not readable text): nothing of it is read."""


def open_binary(path: Path) -> IO[bytes]:
    """Open a file for reading bytes, through gzip when its name ends in .gz."""
    if path.suffix == ".gz":
        return gzip.GzipFile(path, "rb")  # type: ignore[return-value]  # GzipFile is an IO
    return path.open("rb")


def numbered_lines(
    path: Path, *, on_bytes: Callable[[int], None] | None = None
) -> Iterator[tuple[int, str | None]]:
    """Yield (line number, text) for each line; text is None where it is not valid UTF-8.

    ``on_bytes`` is told how many bytes were read since its last call, every 4,096 lines.
    """
    read = 0
    with open_binary(path) as fh:
        for number, raw in enumerate(fh, start=1):
            read += len(raw)
            if on_bytes is not None and number % 4096 == 0:
                on_bytes(read)
                read = 0
            if number == 1 and raw.startswith(_UTF8_BOM):
                raw = raw[len(_UTF8_BOM) :]
            try:
                yield number, raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError:
                yield number, None
    if on_bytes is not None and read:
        on_bytes(read)


def _head(path: Path, size: int = 65536) -> bytes:
    try:
        with open_binary(path) as fh:
            return fh.read(size)
    except (OSError, EOFError) as exc:  # gzip raises BadGzipFile (an OSError) or EOFError
        raise FormatError(f"{path}: cannot read: {exc}") from exc


def is_empty(path: Path) -> bool:
    """True when the file holds nothing but white space."""
    return not _head(path).strip()


def detect_format(path: Path, requested: str = "auto") -> str:
    """Name the format of ``path`` (or check the requested one), or raise FormatError."""
    head = _head(path)
    if head.startswith(_UTF16_BOMS) or b"\x00" in head[:4096]:
        raise FormatError(
            f"{path}: looks like UTF-16 or binary data, not UTF-8 text; "
            "convert it first, e.g. `iconv -f UTF-16 -t UTF-8`"
        )
    text = head.removeprefix(_UTF8_BOM).decode("utf-8", errors="replace")
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    found = _sniff(first, text)
    if requested == "auto":
        if found is None:
            raise FormatError(
                f"{path}: not a format papertide reads (expected a trending-page capture, "
                f"JSON lines or the arXiv metadata snapshot); first line: {first[:80]!r}"
            )
        return found
    if requested not in FORMATS:
        raise FormatError(f"unknown format {requested!r}; choose one of auto, {', '.join(FORMATS)}")
    json_like = found in ("jsonl", "arxiv-snapshot")
    if (requested == "page" and found != "page") or (requested != "page" and not json_like):
        raise FormatError(
            f"{path}: is not {requested} data (it looks like {found or 'neither'}); "
            f"first line: {first[:80]!r}"
        )
    return requested


def _sniff(first: str, text: str) -> str | None:
    if first.startswith("{"):
        try:
            obj = orjson.loads(first)
        except orjson.JSONDecodeError:
            # A first line longer than the head, or broken: still JSON-shaped.
            return "jsonl" if '"_id"' in first or '"title"' in first else None
        if not isinstance(obj, dict):
            return None
        if "id" in obj and ("versions" in obj or "authors_parsed" in obj):
            return "arxiv-snapshot"
        return "jsonl"
    lowered = text[:2000].lower()
    if any(m in lowered for m in _PAGE_MARKERS) or find_date_line(text.splitlines()[:40]):
        return "page"
    return None
