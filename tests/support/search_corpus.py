"""A tiny hand-made corpus for exact retrieval tests, and helpers to store papers."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from papertide.config import Settings
from papertide.ingest import import_items
from papertide.models import Paper, Record
from papertide.store import Store


def paper(
    n: int, title: str, abstract: str, author: str, cats: str, day: str, votes: int = 0
) -> Paper:
    """A paper with arXiv id 2401.0000n."""
    return Paper(
        title=title,
        abstract=abstract,
        authors=[author],
        arxiv_id=f"2401.{n:05d}",
        arxiv_version=1,
        categories=cats.split(),
        published=datetime.fromisoformat(day),
        upvotes_external=votes,
    )


CORPUS = [
    paper(
        1,
        "Sparse attention for long context transformers",
        "We make attention sparse so that transformers read long documents cheaply.",
        "Ada Lovelace",
        "cs.CL cs.LG",
        "2024-03-01",
        5,
    ),
    paper(
        2,
        "Running faster with quantized kernels",
        "Quantization of GPU kernels runs inference faster on small hardware.",
        "Alan Turing",
        "cs.LG",
        "2023-06-01",
        50,
    ),
    paper(
        3,
        "Graph neural networks for molecules",
        "Message passing networks predict molecular properties from graphs of atoms.",
        "Grace Hopper",
        "cs.LG q-bio.BM",
        "2024-08-01",
        1,
    ),
    paper(
        4,
        "Dark matter halos in dwarf galaxies",
        "Simulations of dwarf galaxies constrain the density profile of dark matter halos.",
        "Marie Curie",
        "astro-ph.GA",
        "2022-01-01",
        0,
    ),
    paper(
        5,
        "A survey of attention mechanisms",
        "We survey attention in neural networks, from additive attention to transformers.",
        "Yann LeCun",
        "cs.CL",
        "2024-05-01",
        100,
    ),
    paper(
        6,
        "Attention is all you need",
        "The transformer relies entirely on attention, dispensing with recurrence.",
        "Ashish Vaswani",
        "cs.CL",
        "2017-06-12",
        1000,
    ),
]


def add_papers(store: Store, settings: Settings, papers: list[Paper]) -> None:
    """Import papers through the normal merge path."""
    fresh = [replace(p, pk=None, id=None, authors=list(p.authors)) for p in papers]
    with store.write() as session:
        records = [Record(p, "test", i) for i, p in enumerate(fresh)]
        import_items(session, records, settings=settings)


def pk_of(store: Store, arxiv_id: str) -> int:
    """The stored pk of a paper."""
    found = store.get_paper(arxiv_id)
    assert found is not None and found.pk is not None
    return found.pk
