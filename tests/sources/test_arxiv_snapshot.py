"""The arXiv metadata snapshot parser, on a line in the published format."""

from __future__ import annotations

from datetime import datetime

import orjson

from papertide.bench.synth import SnapshotGenerator
from papertide.models import Record, RecordError
from papertide.sources.snapshot import parse_snapshot, snapshot_paper

# The first line of the public snapshot (arxiv-metadata-oai-snapshot.json), as published.
REAL_LINE = {
    "id": "0704.0001",
    "submitter": "Pavel Nadolsky",
    "authors": "C. Bal\\'azs, E. L. Berger, P. M. Nadolsky, C.-P. Yuan",
    "title": "Calculation of prompt diphoton production cross sections at Tevatron and"
    "\n  LHC energies",
    "comments": "37 pages, 15 figures; published version",
    "journal-ref": "Phys.Rev.D76:013009,2007",
    "doi": "10.1103/PhysRevD.76.013009",
    "report-no": "ANL-HEP-PR-07-12",
    "categories": "hep-ph",
    "license": None,
    "abstract": "  A fully differential calculation in perturbative quantum chromodynamics is\n"
    "presented for the production of massive photon pairs at hadron colliders.\n",
    "versions": [
        {"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"},
        {"version": "v2", "created": "Tue, 24 Jul 2007 20:10:27 GMT"},
    ],
    "update_date": "2008-11-13",
    "authors_parsed": [
        ["Balázs", "C.", ""],
        ["Berger", "E. L.", ""],
        ["Nadolsky", "P. M.", ""],
        ["Yuan", "C. -P.", ""],
    ],
}


def test_real_snapshot_line_becomes_a_full_paper() -> None:
    paper = snapshot_paper(dict(REAL_LINE))
    assert paper.arxiv_id == "0704.0001"
    assert paper.arxiv_version == 2
    assert paper.title == (
        "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
    )
    assert paper.abstract.startswith("A fully differential calculation in perturbative")
    assert paper.authors == ["C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C. -P. Yuan"]
    assert paper.categories == ["hep-ph"]
    assert paper.doi == "10.1103/PhysRevD.76.013009"
    assert paper.journal_ref == "Phys.Rev.D76:013009,2007"
    assert paper.published == datetime(2007, 4, 2, 19, 18, 42)
    assert paper.updated == datetime(2007, 7, 24, 20, 10, 27)
    assert paper.url_pdf == "https://arxiv.org/pdf/0704.0001"
    assert paper.sources == ["arxiv-snapshot"]


def test_dates_with_offsets_take_the_general_parser() -> None:
    created = "Mon, 2 Apr 2007 21:18:42 +0200"
    line = dict(REAL_LINE, versions=[{"version": "v1", "created": created}])
    assert snapshot_paper(line).published == datetime(2007, 4, 2, 19, 18, 42)


def test_bad_lines_are_reported_with_line_and_reason() -> None:
    good = orjson.dumps(REAL_LINE).decode()
    lines = [
        (1, good),
        (2, '{"id": "0704.0002", "title": "x"'),  # truncated
        (3, None),  # not UTF-8
        (4, orjson.dumps(dict(REAL_LINE, id="nonsense")).decode()),
        (5, orjson.dumps(dict(REAL_LINE, id="0704.0003", title="")).decode()),
        (6, orjson.dumps(dict(REAL_LINE, id="0704.0004", title=["x"])).decode()),
        (7, "[1, 2]"),
        (8, ""),
    ]
    items = list(parse_snapshot(lines, "snap.json", max_title=2000, max_abstract=100_000))
    assert isinstance(items[0], Record)
    errors = [(e.line, e.reason.split(" (")[0]) for e in items[1:] if isinstance(e, RecordError)]
    assert errors == [
        (2, "invalid or truncated JSON"),
        (3, "not valid UTF-8; record skipped"),
        (4, "field 'id': 'nonsense' is not an arXiv id"),
        (5, "missing title"),
        (6, "field 'title' should be text, got list"),
        (7, "expected a JSON object, got list"),
    ]


def test_generator_lines_parse_and_are_deterministic() -> None:
    a = list(SnapshotGenerator(seed=3).lines(50))
    b = list(SnapshotGenerator(seed=3).lines(50))
    assert a == b
    lines = [(i + 1, line.decode()) for i, line in enumerate(a)]
    items = list(parse_snapshot(lines, "gen", max_title=2000, max_abstract=100_000))
    papers = [i.paper for i in items if isinstance(i, Record)]
    assert len(papers) == 50
    assert len({p.arxiv_id for p in papers}) == 50
    lengths = sorted(len(p.abstract.split()) for p in papers)
    assert 60 <= lengths[len(lengths) // 2] <= 300  # abstracts about as long as real ones
