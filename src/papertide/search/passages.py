"""Passage vectors: a paper's title and each abstract sentence embedded on their own, so a
query can be scored by the paper's best passage (MaxP; Dai & Callan 2019, "Deeper Text
Understanding for IR with Contextual Neural Language Modeling", SIGIR).

Why, and for which embedders: a sentence-transformers model sees a fixed window
(all-MiniLM-L6-v2: 256 word pieces, and 72% of SciFact abstracts are longer), and one vector
for a whole abstract blurs the one sentence that a short query or a claim is about. The best
passage cosine, added to the blend beside the paper's own cosine, lifts MiniLM's hybrid on
SciFact dev from 0.742 to 0.752 (docs/search.md, Quality). A static mean of token vectors has no
window and no context, and passages made it worse (0.723 -> 0.722 at best), so settings turn
passages on for 'st:' embedders only ('auto').

Passages only re-score the candidates that BM25 and the paper vectors retrieved (searching
the passages themselves added no relevant paper on SciFact), so they need no HNSW graph:
they are rows of a VectorIndex keyed ``pk * SLOTS + j``, passage j of paper pk, looked up
by key. The cost is the vectors (about ten a paper) and the embedding: the passages hold
about as many word pieces as the abstract, so embedding them costs about as much again.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt

from papertide.search.arrays import dot_rows
from papertide.search.embedders import Vectors
from papertide.search.vectors import VectorIndex

SLOTS = 64  # passages kept per paper at most: the title and 63 sentences
_MIN_CHARS = 20  # shorter pieces ("n = 12.", "(p < 0.05)") are folded into the next one
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[])")


def enabled(setting: str, embedder: str) -> bool:
    """Whether passages are in use: the ``passages`` setting, 'auto' meaning 'st:' models."""
    return setting == "on" or (setting == "auto" and embedder.startswith("st:"))


def passage_texts(title: str, abstract: str) -> list[str]:
    """The title, then the abstract's sentences (at most ``SLOTS`` passages)."""
    title = title.strip()
    passages = [title] if title else []
    carry = ""
    for piece in _SENTENCE_END.split(abstract.strip()):
        piece = f"{carry} {piece}".strip() if carry else piece.strip()
        if len(piece) < _MIN_CHARS:
            carry = piece
            continue
        passages.append(piece)
        carry = ""
    if carry:
        if len(passages) > (1 if title else 0):
            passages[-1] = f"{passages[-1]} {carry}"
        else:
            passages.append(carry)
    if len(passages) > SLOTS:  # the rest joins the last slot, so no text is dropped
        passages[SLOTS - 1 :] = [" ".join(passages[SLOTS - 1 :])]
    return passages


class PassageIndex:
    """Passage vectors by paper pk, and the best passage cosine of candidate papers."""

    def __init__(self, vectors: VectorIndex) -> None:
        self.vectors = vectors

    @classmethod
    def open(cls, folder: Path, *, model: str, dim: int) -> PassageIndex:
        """Open (or create) the passage vectors in ``folder``; another model empties it."""
        # Never searched, only looked up by key: no HNSW graph, whatever the count.
        return cls(VectorIndex.open(folder, model=model, dim=dim, ann_threshold=sys.maxsize))

    @property
    def reset(self) -> bool:
        """Whether opening found vectors of another model and emptied the folder."""
        return self.vectors.reset

    def __len__(self) -> int:
        return len(self.vectors)

    def upsert(self, pks: list[int], counts: list[int], vectors: Vectors) -> None:
        """Replace the passages of ``pks``: ``counts[i]`` rows of ``vectors`` each, in order."""
        self.delete(pks)
        keys = [pk * SLOTS + j for pk, count in zip(pks, counts, strict=True) for j in range(count)]
        self.vectors.upsert(keys, vectors)

    def delete(self, pks: list[int]) -> None:
        """Forget the passages of ``pks``."""
        self.vectors.delete(self._keys(pks).tolist())

    def clear(self) -> None:
        """Forget every passage."""
        self.vectors.clear()

    def flush(self) -> None:
        """Write the changes to disk."""
        self.vectors.flush()

    def close(self) -> None:
        """Let go of the vectors."""
        self.vectors.close()

    def best(self, pks: list[int], query: Vectors) -> dict[int, float]:
        """Each paper's best passage cosine with the unit ``query`` (papers with passages)."""
        keys = self._keys(pks)
        if not len(keys):
            return {}
        scores = dot_rows(self.vectors.get(keys.tolist()), query)
        owners = keys // SLOTS
        starts = np.r_[0, np.flatnonzero(np.diff(owners)) + 1]  # keys come grouped by paper
        best = np.maximum.reduceat(scores, starts)
        return dict(zip(owners[starts].tolist(), best.tolist(), strict=True))

    def _keys(self, pks: list[int]) -> npt.NDArray[np.int64]:
        """The stored passage keys of ``pks``, grouped by paper: every slot of every paper
        looked up at once (a key at a time in Python cost 8 ms CPU a query for 200
        candidates, a quarter of a MiniLM hybrid query)."""
        if not pks:
            return np.zeros(0, dtype=np.int64)
        slots = np.asarray(pks, dtype=np.int64)[:, None] * SLOTS + np.arange(SLOTS)
        keys = slots.ravel()
        return keys[self.vectors.present(keys)]
