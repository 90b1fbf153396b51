"""Generated papers shaped like the arXiv metadata snapshot, for tests and benchmarks.

Lengths follow real abstracts (titles ~10 words, abstracts ~120-250 words) and words follow
a Zipf law (frequency ~ 1/rank, Zipf 1949), over a vocabulary of common scientific words
topped up with made-up rarer ones, so that indexes see a realistic long tail.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import orjson

_COMMON = """
model models learning neural network networks data training method methods results show
propose proposed approach performance task tasks language large deep based using paper
new state art framework problem two first also can both which these our we study analysis
graph image images video text speech representation representations attention transformer
transformers inference efficient efficiency scale scaling benchmark benchmarks evaluation
accuracy robust robustness generalization optimization gradient stochastic convex bound
bounds theory theorem algorithm algorithms quantum field energy spin magnetic phase
temperature density dynamics equation equations solution solutions numerical simulation
simulations galaxy galaxies star stars cosmic dark matter black hole gravitational wave
waves measurement observed observations experiment experimental protein cell cells gene
genes expression clinical patients disease treatment risk cancer tumor brain neurons
signal noise channel control system systems distributed privacy security attack attacks
adversarial agent agents reinforcement reward policy planning retrieval search query
queries embedding embeddings sparse dense sequence sequences long context memory cache
latency throughput hardware gpu kernel compression quantization pruning distillation
diffusion generative generation sampling prior posterior bayesian uncertainty causal
estimation estimator regression classification clustering detection segmentation
""".split()
_SYLLABLES = "ka ri to mel an vor sek qui lum dra pen tor zi fa ne ul bri cos mon gal".split()
_CATEGORIES = (
    "cs.LG cs.CL cs.CV cs.AI cs.IR cs.DS cs.CR stat.ML math.OC math.PR hep-th hep-ph "
    "astro-ph.GA astro-ph.CO quant-ph cond-mat.str-el cond-mat.mtrl-sci q-bio.NC physics.optics"
).split()
_FIRST = "Ada Alan Grace Emmy Kurt Lise Niels Marie Paul Sofia Yann Fei Kaiming Jia Li".split()
_LAST = "Lovelace Turing Hopper Noether Godel Meitner Bohr Curie Dirac Lecun Chen".split()


def _vocabulary(size: int, rng: random.Random) -> list[str]:
    words = list(_COMMON)
    made: set[str] = set(words)
    while len(words) < size:
        word = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))
        if word not in made:
            made.add(word)
            words.append(word)
    return words


class SnapshotGenerator:
    """Deterministic generator of arXiv-snapshot-shaped records (same seed, same lines)."""

    def __init__(self, *, seed: int = 0, vocabulary: int = 30_000) -> None:
        self.rng = random.Random(seed)
        self.words = _vocabulary(vocabulary, self.rng)
        weights = (1.0 / rank**1.07 for rank in range(1, vocabulary + 1))
        self.cum_weights = list(itertools.accumulate(weights))

    def _words(self, n: int) -> list[str]:
        return self.rng.choices(self.words, cum_weights=self.cum_weights, k=n)

    def record(self, index: int) -> dict[str, Any]:
        """The snapshot object for the ``index``-th paper."""
        rng = self.rng
        month = 1 + index // 20_000  # ~20k papers a month, like arXiv today
        arxiv_id = f"{24 + (month - 1) // 12:02d}{(month - 1) % 12 + 1:02d}.{index % 20_000:05d}"
        title = " ".join(self._words(rng.randint(6, 14))).capitalize()
        sentences = []
        for _ in range(rng.randint(5, 10)):
            sentences.append(" ".join(self._words(rng.randint(14, 30))).capitalize() + ".")
        authors = [(rng.choice(_LAST), rng.choice(_FIRST), "") for _ in range(rng.randint(1, 8))]
        created = datetime(2024, 1, 1) + timedelta(days=30 * (month - 1), minutes=index % 40_000)
        versions = [
            {"version": f"v{v + 1}", "created": _gmt(created + timedelta(days=9 * v))}
            for v in range(rng.choice((1, 1, 1, 2, 2, 3)))
        ]
        cats = rng.sample(_CATEGORIES, rng.randint(1, 3))
        return {
            "id": arxiv_id,
            "submitter": f"{authors[0][1]} {authors[0][0]}",
            "authors": ", ".join(f"{f} {last}" for last, f, _ in authors),
            "title": title,
            "comments": f"{rng.randint(4, 40)} pages",
            "journal-ref": None,
            "doi": f"10.5555/pt.{index}" if index % 5 == 0 else None,
            "report-no": None,
            "categories": " ".join(cats),
            "license": None,
            "abstract": "  " + " ".join(sentences) + "\n",
            "versions": versions,
            "update_date": created.date().isoformat(),
            "authors_parsed": [list(a) for a in authors],
        }

    def lines(self, count: int, *, start: int = 0) -> Iterator[bytes]:
        """``count`` snapshot lines (JSON, newline-terminated)."""
        for index in range(start, start + count):
            yield orjson.dumps(self.record(index)) + b"\n"


def _gmt(moment: datetime) -> str:
    """The snapshot's version-date form: 'Mon, 2 Apr 2007 19:18:42 GMT'."""
    return format_datetime(moment.replace(tzinfo=UTC), usegmt=True)


def write_snapshot(path: Path, count: int, *, seed: int = 0) -> Path:
    """Write ``count`` generated snapshot lines to ``path``."""
    with path.open("wb") as fh:
        fh.writelines(SnapshotGenerator(seed=seed).lines(count))
    return path
