"""Passage vectors (MaxP): splitting, the passage index, and their part in hybrid search."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from papertide.config import Settings
from papertide.search import SearchService
from papertide.search import passages as ps
from papertide.search.embedders import load_embedder, normalize_rows
from papertide.store import Store
from tests.support.embedders import FakeEmbedder, needs_minilm
from tests.support.search_corpus import CORPUS, add_papers, paper, pk_of


def test_passages_are_the_title_and_each_sentence() -> None:
    abstract = (
        "We study sparse attention. It scales to 1M tokens (n = 12). "
        "Results: fast. [Code] is public at example.org."
    )
    assert ps.passage_texts("Sparse Attention", abstract) == [
        "Sparse Attention",
        "We study sparse attention.",
        "It scales to 1M tokens (n = 12).",
        # a piece under 20 characters joins the next one, so no text is dropped
        "Results: fast. [Code] is public at example.org.",
    ]
    assert ps.passage_texts("Only a title", "") == ["Only a title"]
    assert ps.passage_texts("T", "Tiny.") == ["T", "Tiny."]
    assert ps.passage_texts("T", "First sentence is long enough. Ok.") == [
        "T",
        "First sentence is long enough. Ok.",
    ]
    many = " ".join(f"Sentence number {i} is long enough." for i in range(100))
    split = ps.passage_texts("Title", many)
    assert len(split) == ps.SLOTS and split[-1].endswith("number 99 is long enough.")
    assert " ".join(split[1:]) == many


def test_passage_index_scores_the_best_passage(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    rows = normalize_rows(rng.normal(size=(6, 16)).astype(np.float32))
    index = ps.PassageIndex.open(tmp_path / "p", model="m", dim=16)
    index.upsert([7, 9], [4, 2], rows)
    best = index.best([7, 9, 11], rows[2])  # 11 has no passages: left out
    assert set(best) == {7, 9} and best[7] == pytest.approx(1.0, abs=1e-3)
    assert best[9] == pytest.approx(float(np.max(rows[4:6] @ rows[2])), abs=1e-2)
    # Replacing paper 7 with one passage drops its other three.
    index.upsert([7], [1], rows[5:6])
    assert len(index) == 3 and index.best([7], rows[2])[7] < 0.99
    index.delete([9])
    index.flush()
    index.close()
    again = ps.PassageIndex.open(tmp_path / "p", model="m", dim=16)
    assert len(again) == 1 and set(again.best([7, 9], rows[5])) == {7}
    assert not again.reset
    assert ps.PassageIndex.open(tmp_path / "p", model="other", dim=16).reset


def test_passages_follow_the_setting(
    settings: Settings, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("papertide.search.service.load_embedder", lambda *_, **__: FakeEmbedder())
    assert ps.enabled("auto", "st:all-MiniLM-L6-v2") and not ps.enabled("auto", "wordllama-256")
    assert ps.enabled("on", "wordllama-256") and not ps.enabled("off", "st:x")
    add_papers(store, settings, CORPUS)

    def service(passages: str) -> SearchService:
        search = settings.search.model_copy(update={"embedder": "st:fake-8", "passages": passages})
        return SearchService.open(settings.model_copy(update={"search": search}), store)

    svc = service("auto")
    assert svc.passages is not None
    counts = [len(ps.passage_texts(p.title, p.abstract)) for p in CORPUS]
    assert len(svc.passages) == sum(counts) and svc.state["passages"] is True
    hits = svc.search("dark matter halos", mode="hybrid").hits
    assert hits and all("passage" in h.scores for h in hits)
    dark = pk_of(store, "2401.00004")
    svc.remove([dark])
    assert len(svc.passages) == sum(counts) - counts[3]
    svc.close()
    # Turning passages off embeds every paper again and frees the passage files.
    off = service("off")
    assert off.passages is None and off.state["passages"] is False
    assert len(off._vector_index()) == len(CORPUS) and off.live is not None
    assert not (off.live.folder / "passages").exists()
    assert not any("passage" in h.scores for h in off.search("dark matter").hits)
    off.close()


@needs_minilm
def test_minilm_passages_see_past_the_model_window(
    settings: Settings, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    filler = " ".join(
        f"Section {i} of this survey reviews spectroscopy of distant quasars in detail."
        for i in range(30)
    )
    tail = "Drinking coffee every day lowers the risk of liver cirrhosis."
    long = paper(
        90, "A long survey of quasar spectra", f"{filler} {tail}", "Ana", "astro-ph", "2024-02-01"
    )
    assert (
        len(load_embedder("st:all-MiniLM-L6-v2").model.tokenizer(long.abstract)["input_ids"]) > 256
    )
    add_papers(store, settings, [*CORPUS, long])
    search = settings.search.model_copy(update={"embedder": "st:all-MiniLM-L6-v2"})
    svc = SearchService.open(settings.model_copy(update={"search": search}), store)
    assert svc.passages is not None
    hits = {h.paper_id: h for h in svc.search("coffee and liver cirrhosis", mode="hybrid").hits}
    scores = hits["2401.00090"].scores
    semantic, sentence = scores["cosine"], scores["passage"]
    # The paper's own vector stops at 256 word pieces, before the sentence; its passage
    # does not.
    assert sentence > 0.6 > semantic
    svc.close()


class CountingEmbedder(FakeEmbedder):
    """The fake embedder, keeping every batch of texts it was asked to embed."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return super().embed(texts)


def _best_of(svc: SearchService, pk: int, text: str) -> float | None:
    assert svc.passages is not None
    return svc.passages.best([pk], FakeEmbedder().embed([text])[0]).get(pk)


def test_passages_are_embedded_once_and_follow_the_store(
    any_settings: Settings,
    any_store: Store,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Passage vectors are computed when a paper is indexed and kept beside its vector in
    the store; they follow the change feed (a paper added, its abstract changed, the paper
    deleted), a second node builds them from the store without embedding, and a hybrid
    query embeds only its own text."""
    from sqlalchemy import delete

    from papertide.search.follow import FollowMixin
    from papertide.store.schema import papers

    embedder = CountingEmbedder()
    monkeypatch.setattr("papertide.search.service.load_embedder", lambda *_, **__: embedder)
    search = any_settings.search.model_copy(update={"embedder": "st:fake-8"})
    node_a = any_settings.model_copy(update={"search": search})
    add_papers(any_store, node_a, CORPUS)
    svc = SearchService.open(node_a, any_store)
    assert svc.passages is not None
    before = len(svc.passages)

    first = "Photonic chips multiply matrices with light."
    added = paper(7, "Photonic chips", first, "Lise", "cs.ET", "2024-09-01")
    add_papers(any_store, node_a, [added])
    assert svc.refresh() == 1
    pk = pk_of(any_store, "2401.00007")
    assert len(svc.passages) == before + 2  # its title and its one sentence
    assert _best_of(svc, pk, first) == pytest.approx(1.0, abs=1e-3)

    embedder.calls.clear()
    hits = svc.search("photonic chips and light", mode="hybrid").hits
    assert hits and "passage" in hits[0].scores
    assert embedder.calls == [["photonic chips and light"]]  # the query, nothing else

    second = "Optical neurons replace electronic ones. They switch in picoseconds."
    changed = paper(7, "Photonic chips", second, "Lise", "cs.ET", "2024-09-01")
    changed.arxiv_version = 2
    add_papers(any_store, node_a, [changed])
    assert svc.refresh() == 1
    assert len(svc.passages) == before + 3  # the title and two sentences, the old one gone
    assert (_best_of(svc, pk, first) or 0.0) < 0.99
    assert _best_of(svc, pk, "They switch in picoseconds.") == pytest.approx(1.0, abs=1e-3)
    stored = any_store.load_embeddings([pk], model="st:fake-8")[pk]
    assert stored.passages is not None and len(stored.passages) == 3 * 8 * 2  # f16 rows

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("a paper was embedded again")

    # A second node with an empty data folder reads every passage from the store.
    monkeypatch.setattr(FollowMixin, "_embed_missing", refuse)
    node_b = node_a.model_copy(update={"data_dir": tmp_path / "node-b"})
    other = SearchService.open(node_b, any_store)
    assert other.embedded == 0 and other.passages is not None
    assert len(other.passages) == len(svc.passages)
    probe = FakeEmbedder().embed(["They switch in picoseconds."])[0]
    pks = [pk_of(any_store, f"2401.{i:05d}") for i in (1, 4, 7)]
    assert other.passages.best(pks, probe) == pytest.approx(svc.passages.best(pks, probe))

    with any_store.write() as session:
        session.conn.execute(delete(papers).where(papers.c.pk == pk))
    for node in (svc, other):
        assert node.refresh() == 1
        assert node.passages is not None and len(node.passages) == before
        assert _best_of(node, pk, second) is None
    svc.close()
    other.close()
