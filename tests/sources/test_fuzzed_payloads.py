"""Fuzzing the importers with Hypothesis: random bytes and mutated valid records through
every parser and through the whole file import. Properties: a clear error or a result,
never a crash, never a partial write. (The query parser's fuzz test is in
search/test_query_language.py, the site's in web/test_fuzzed_requests.py; the settings they
share are in tests/support/fuzzing.py.)
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from papertide.config import Settings
from papertide.ingest import ImportAborted, IngestOptions, ingest_paths
from papertide.models import Record, RecordError
from papertide.sources import arxiv_api, hf_daily, oai, pages
from papertide.sources.files import FormatError
from papertide.sources.http import BadBody, Refused
from papertide.store import Store
from tests.conftest import SEEDS
from tests.support.fuzzing import FUZZ

FIXTURES = Path(__file__).parents[1] / "fixtures"
LIMITS = {"max_title": 2000, "max_abstract": 100_000}


def _fixture(*parts: str) -> bytes:
    return FIXTURES.joinpath(*parts).read_bytes()


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A valid payload with a few bytes flipped, cut, duplicated or inserted."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["flip", "cut", "insert", "dup", "truncate"]))
        if op == "flip":
            data[at] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[at : at + draw(st.integers(1, 64))]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=32))
        elif op == "dup":
            data[at:at] = data[at : at + draw(st.integers(1, 200))]
        else:
            del data[at:]
    return bytes(data)


def _payloads(seeds: list[bytes]) -> st.SearchStrategy[bytes]:
    return st.one_of(st.binary(max_size=2000), mutated(seeds))


def _lines(body: bytes) -> list[tuple[int, str | None]]:
    out: list[tuple[int, str | None]] = []
    for number, raw in enumerate(body.split(b"\n"), start=1):
        try:
            out.append((number, raw.decode("utf-8")))
        except UnicodeDecodeError:
            out.append((number, None))
    return out


# --- the pure parsers ---------------------------------------------------------------------

ARXIV = [_fixture("arxiv", n) for n in ("page1.xml", "page2.xml", "id_list.xml", "error.xml")]
OAI = [_fixture("oai", n) for n in ("page1.xml", "raw.xml", "bad_token.xml", "no_records.xml")]
HF = [_fixture("hf", n) for n in ("date_2026-11-19.json", "week_2026-W47.json", "error.json")]
PAGES = [path.read_bytes() for path in SEEDS]


@FUZZ
@given(body=_payloads(ARXIV))
def test_arxiv_atom_parser_answers_or_says_why(body: bytes) -> None:
    """An arXiv API response parses to a page or raises BadBody/Refused, nothing else."""
    try:
        page = arxiv_api.parse_feed(body, "fuzz", expect_start=0, **LIMITS)
    except (BadBody, Refused):
        return
    assert all(isinstance(item, Record | RecordError) for item in page.items)


@FUZZ
@given(body=_payloads(OAI))
def test_oai_pmh_parser_answers_or_says_why(body: bytes) -> None:
    """An OAI-PMH response parses to a page or raises BadBody/Refused, nothing else."""
    for prefix in ("arXiv", "arXivRaw"):
        try:
            page = oai.parse_list_records(body, "fuzz", prefix=prefix, **LIMITS)
        except (BadBody, Refused):
            continue
        assert all(isinstance(item, Record | RecordError) for item in page.items)


@FUZZ
@given(body=_payloads(HF))
def test_hf_daily_parser_answers_or_says_why(body: bytes) -> None:
    """A daily_papers response parses to records and errors or raises BadBody/Refused."""
    try:
        items = hf_daily.parse_daily(body, "fuzz", listed_on=date(2026, 11, 19), **LIMITS)
    except (BadBody, Refused):
        return
    assert all(isinstance(item, Record | RecordError) for item in items)


@settings(FUZZ, max_examples=15)
@given(body=_payloads(PAGES))
def test_page_capture_parser_yields_records_or_errors(body: bytes) -> None:
    """A trending-page capture yields records, errors and listings, and never raises."""
    for item in pages.parse_page(_lines(body), "fuzz", year=2025):
        assert not isinstance(item, Exception)


# --- files through the whole import: store and count --------------------------------------

JSONL_SEED = b"\n".join(
    orjson.dumps(r)
    for r in [
        {
            "_id": "a1",
            "title": "Sparse attention",
            "text": "We study attention.",
            "url": "https://x.org/a",
        },
        {
            "_id": "a2",
            "title": "Dense retrieval",
            "text": "Retrieval.",
            "authors": ["Ada Lovelace"],
        },
    ]
)
SNAPSHOT_SEED = orjson.dumps(
    {
        "id": "2401.00001",
        "title": "A snapshot paper",
        "abstract": "Abstract text.",
        "authors": "Ada Lovelace and Alan Turing",
        "categories": "cs.CL cs.LG",
        "versions": [{"version": "v1", "created": "Mon, 1 Jan 2024 00:00:00 GMT"}],
        "update_date": "2024-01-02",
    }
)
FILE_KINDS = {
    "jsonl": ("fuzz.jsonl", [JSONL_SEED]),
    "snapshot": ("arxiv-metadata-oai-snapshot.json", [SNAPSHOT_SEED]),
    "page": ("capture.txt", PAGES),
}


@pytest.fixture
def import_store(tmp_path: Path) -> Iterator[tuple[Store, Settings, Path]]:
    """One store for every example of a test (Hypothesis reuses the fixture)."""
    local = Settings(data_dir=tmp_path / "data")
    store = Store.open(local.resolved_database_url)
    yield store, local, tmp_path
    store.close()


@pytest.mark.parametrize("kind", sorted(FILE_KINDS))
def test_a_file_import_reports_or_refuses_and_never_half_writes(
    import_store: tuple[Store, Settings, Path], kind: str
) -> None:
    """Any bytes as a file of each format: the report's count is what the store gained; a
    strict import that aborts, or a file that cannot be read, adds nothing."""
    store, local, folder = import_store
    name, seeds = FILE_KINDS[kind]

    @settings(FUZZ, max_examples=12)
    @given(body=_payloads(seeds), strict=st.booleans(), packed=st.booleans())
    def check(body: bytes, strict: bool, packed: bool) -> None:
        path = folder / (name + (".gz" if packed else ""))
        path.write_bytes(gzip.compress(body) if packed else body)
        before = store.count_papers()
        options = IngestOptions(fmt=kind, strict=strict, page_year=2025, namespace="fz")
        try:
            report = ingest_paths(store, [path], settings=local, options=options)
        except (ImportAborted, FormatError):
            assert store.count_papers() == before
            return
        assert store.count_papers() == before + report.added

    check()


# --- inputs the fuzzer found, kept as tests -----------------------------------------------


def test_an_xml_declaration_with_an_unknown_encoding_is_a_bad_body() -> None:
    """Found by the fuzzer: encoding="U-F-8" raised LookupError from the XML parser."""
    body = OAI[0].replace(b'encoding="UTF-8"', b'encoding="U-F-8"', 1)
    assert b"U-F-8" in body
    with pytest.raises(BadBody, match="unknown encoding"):
        oai.parse_list_records(body, "fuzz", prefix="arXiv", **LIMITS)


def test_a_response_date_that_is_no_date_is_a_bad_body() -> None:
    """Found by the fuzzer: a mangled <responseDate> raised ValueError."""
    body = OAI[0].replace(b"<responseDate>", b"<responseDate>responseDate>", 1)
    with pytest.raises(BadBody, match="responseDate"):
        oai.parse_list_records(body, "fuzz", prefix="arXiv", **LIMITS)
