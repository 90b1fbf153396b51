"""The HNSW graph's tuned parameters, as measured: the usearch index a graph is built in
(new_ann: inner product, half precision, M and ef on insert; its docstring has the sweeps
over them and over the center's share), the share of the mean vector the graph is centred
on, and the depth of a few-word query when none is configured (auto_ef)."""

from __future__ import annotations

import math
from typing import Any

# The graph's center is this share of the mean vector (see vectors.py's docstring).
CENTER_SHARE = 0.5
# The depth of few-word queries when none is configured: AUTO_EF_AT_1M at 1M vectors,
# scaled by the square root of the graph's size, never below AUTO_EF_FLOOR (see auto_ef).
AUTO_EF_AT_1M = 1024
AUTO_EF_FLOOR = 256


def auto_ef(size: int) -> int:
    """The HNSW depth a few-word query needs over ``size`` vectors for recall@10 of about
    0.95 against exact search: 1024 at 1M, scaled by the square root of the size, at least
    256. Measured on generated papers (`bench search`): 3-word queries at 1M reach 0.947-0.956
    at 1024; at 100k, 0.948 at 256, 0.968 at 384 and 0.993 at 1024, whose 10 ms a query was
    most of a search's cost. Small graphs of hard queries (6,000 random 64-d vectors, queries
    pushed off them by noise: tests/search/test_vector_index.py) need the floor: 0.91 at 128.
    Deeper search costs about in proportion to the depth."""
    return max(AUTO_EF_FLOOR, math.ceil(AUTO_EF_AT_1M * math.sqrt(size / 1_000_000)))


def new_ann(dim: int, ef_search: int, *, connectivity: int = 32, expansion_add: int = 48) -> Any:
    """An empty HNSW index: inner product (of centred vectors), half precision, M=32, ef 48
    on insert.

    Recall@10 against exact search (bench search's generated papers, default embedder;
    one-off sweeps over the same vectors), 3-word queries / papers as queries, at ef 1024:
    - 200k, M=32, ef 64 on insert, center = share x mean: share 0 (a plain cosine graph)
      0.923 / 0.995; 0.25: 0.978 / 0.998; 0.5: 0.992 / 0.997; 0.75: 0.995 / 0.992;
      0.9: 0.992 / 0.970; 1 (the whole mean): 0.984 / 0.929. With share 0.5, ef 48 on
      insert: 0.988 / 0.996.
    - 1M, cosine graph, M=32 ef 128 on insert: 0.875 / 0.998; whole mean, ef 64: 0.964
      (ef 128: 0.980) for 3-word queries, 0.815 for papers.
    ef on insert bounds the ingest rate on two cores (inserts cost about in proportion);
    48 keeps both kinds of query well above 0.95.
    """
    from usearch.index import Index

    return Index(
        ndim=dim,
        metric="ip",
        dtype="f16",
        connectivity=connectivity,
        expansion_add=expansion_add,
        expansion_search=ef_search,
    )
