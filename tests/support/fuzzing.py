"""Hypothesis settings and query strategies shared by the fuzz tests:
sources/test_fuzzed_payloads.py, search/test_query_language.py, web/test_fuzzed_requests.py.

Example counts are kept small (each fuzz file runs in well under a minute on 2 loaded
cores); Hypothesis's database keeps any failure it found for the next run.
"""

from __future__ import annotations

import os
import string

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Locally every run explores new inputs; CI replays one fixed sequence (derandomize), so
# a submission's result does not depend on the draw. What a run finds is kept as a test.
FUZZ = settings(
    max_examples=25,
    deadline=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


QUERY_WORDS = st.sampled_from(
    [
        "attention",
        "author:",
        "title:",
        "before:",
        "after:",
        "cat:",
        "-",
        '"',
        "OR",
        "AND",
        "(",
        ")",
        "*",
        "%",
        "_",
        "'",
        "9999-12-31",
        "2024-13-45",
        "cs.CL",
        "\x00",
        "é",
        "“",
    ]
)


QUERIES = st.one_of(
    st.text(max_size=200),
    st.lists(st.one_of(QUERY_WORDS, st.text(string.printable, max_size=8)), max_size=12).map(
        lambda words: "".join(words) if len(words) % 2 else " ".join(words)
    ),
)
