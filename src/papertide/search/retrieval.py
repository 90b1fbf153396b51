"""How SearchService (service.py) answers a parsed query: the candidates of the lexical and
dense indexes (with the filters of the query), fused by RRF or by blending scores, sorted by
date or trending when asked, and each hit explained (the words it holds, its cosine, its best
sentence). Mixed into SearchService, which provides the indexes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from papertide.clock import utcnow
from papertide.config import Settings
from papertide.models import Hit
from papertide.ranking.trending import paper_trending
from papertide.search import filters as fq
from papertide.search.embedders import Embedder, Vectors, default_dense_floor, default_dense_weight
from papertide.search.hybrid import Ranked, blend, rrf
from papertide.search.lexical import LexicalIndex, pk_query
from papertide.search.passages import PassageIndex
from papertide.search.pgvector_index import PgVectorIndex
from papertide.search.query import MatchRule, ParsedQuery, content_terms
from papertide.search.settings import SearchSettings
from papertide.search.snippets import passage_and_reasons
from papertide.search.tokenize import analyze, stem, words
from papertide.search.vectors import VectorIndex
from papertide.store import Store


@dataclass(slots=True)
class _Found:
    """What retrieval hands on: the ranking, how many matched, the cosine of the paper and
    of its best passage for the candidates that have one, and the papers BM25 matched."""

    ranked: Ranked
    total: int
    cosine: dict[int, float] = field(default_factory=dict)
    passage: dict[int, float] = field(default_factory=dict)
    matched: set[int] = field(default_factory=set)


class RetrievalMixin:
    """_retrieve(), _sort() and _explain() for SearchService._search."""

    settings: Settings
    config: SearchSettings
    store: Store

    if TYPE_CHECKING:

        @property
        def lexical(self) -> LexicalIndex: ...
        @property
        def embedder(self) -> Embedder: ...
        @property
        def passages(self) -> PassageIndex | None: ...
        def _vector_index(self) -> VectorIndex | PgVectorIndex: ...

    def _retrieve(self, parsed: ParsedQuery, mode: str, depth: int, dense_depth: int) -> _Found:
        """Ranked candidates, how many matched, their semantic scores, the lexical matches.

        A paper matches by its words when it holds enough of the query's content words
        (``filters.text_query``: all of one or two, ``match_share`` of longer queries) or, by
        meaning alone, when it is among the ``dense_depth`` nearest with a cosine of at least
        the floor (``default_dense_floor``); the total counts both, each paper once."""
        schema, cfg = self.lexical.schema, self.config
        filters = fq.filter_clauses(schema, parsed)
        if not parsed.text:  # filters only: every paper that passes them, newest first
            found, total = self.lexical.search(fq.combine([], filters), depth, order_by="day")
            return _Found(found, total)
        lexical: Ranked = []
        total = 0
        if mode != "dense":
            scored = fq.text_query(schema, parsed, cfg.author_boost, self._rule(parsed))
            lexical, total = self.lexical.search(fq.restrict(scored, filters), depth)
        matched = {pk for pk, _ in lexical}
        if mode == "bm25":
            return _Found(lexical, total, matched=matched)
        vector = self.embedder.embed([parsed.text])[0]
        vectors = self._vector_index()
        dense = vectors.search(vector, dense_depth * (5 if filters else 1))
        if filters and dense:
            allowed, _ = self.lexical.search(
                fq.restrict_to(schema, [p for p, _ in dense], filters), len(dense), count=False
            )
            keep = {pk for pk, _ in allowed}
            dense = [(pk, c) for pk, c in dense if pk in keep]
        floor = self._dense_floor()
        dense = [(pk, c) for pk, c in dense[:dense_depth] if c >= floor]
        cosine = dict(dense)
        if mode == "dense":
            return _Found(dense, len(dense), cosine, matched=set(cosine))
        others = [pk for pk in cosine if pk not in matched]
        # Dense hits beyond BM25's candidates: those that match by their words are counted
        # already; every one is ranked by its BM25 over any query word (a paper holding one
        # rare query word and close in meaning ranks as it did before the rule), with its real
        # BM25 score (a rank paging cannot move).
        by_rule = self._among(parsed, filters, others, self._rule(parsed))
        by_words = 0 if by_rule is None else self.lexical.count(by_rule)
        total += len(cosine) - len(matched & cosine.keys()) - by_words  # meaning alone
        by_any = self._among(parsed, filters, others, None)
        if by_any is not None:
            lexical = lexical + self.lexical.search(by_any, len(others), count=False)[0]
        self._add_cosines(cosine, [pk for pk, _ in lexical], vector)
        # Every candidate of either side, scored by its best passage too (when in use).
        passage = self.passages.best(list(cosine), vector) if self.passages is not None else {}
        if cfg.fusion == "rrf":
            fused = rrf([[p for p, _ in lexical], [p for p, _ in dense]], k=cfg.rrf_k)
        else:
            weight = cfg.dense_weight
            if weight is None:
                weight = default_dense_weight(cfg.embedder)
            fused = blend(
                lexical, cosine, weight=weight, passage=passage, passage_weight=cfg.passage_weight
            )
        return _Found(fused[:depth], total, cosine, passage, matched | {pk for pk, _ in dense})

    def _rule(self, parsed: ParsedQuery) -> tuple[dict[str, int], int]:
        """The query's content words' weights and the weight a match needs (MatchRule)."""
        cfg, lexical = self.config, self.lexical
        rule = MatchRule(
            cfg.match_all_up_to, cfg.match_share, cfg.match_most_up_to, cfg.match_weight_share
        )
        return rule.weigh(content_terms(parsed), lexical.doc_freq, lexical.num_docs())

    def _dense_floor(self) -> float:
        floor = self.config.dense_floor
        return default_dense_floor(self.config.embedder) if floor is None else floor

    def _among(
        self,
        parsed: ParsedQuery,
        filters: list[fq.Clause],
        pks: list[int],
        rule: tuple[dict[str, int], int] | None,
    ) -> fq.Query | None:
        """The query's words under ``rule`` (None: any of them) and ``filters``, over the
        papers ``pks`` only; None when there is nothing to ask."""
        scored = fq.text_query(self.lexical.schema, parsed, self.config.author_boost, rule)
        if not pks or scored is None:
            return None
        only = fq.Query.const_score_query(pk_query(self.lexical.schema, pks), 0.0)
        return fq.restrict(scored, [*filters, (fq.Occur.Must, only)])

    def _add_cosines(self, cosine: dict[int, float], pks: list[int], vector: Vectors) -> None:
        missing = [pk for pk in pks if pk not in cosine]
        if missing:
            cosine.update(zip(missing, self._vector_index().cosines(missing, vector), strict=True))

    def _sort(self, ranked: Ranked, sort: str) -> Ranked:
        pks = [pk for pk, _ in ranked]
        if sort == "date":  # the paper's day (what its card shows), newest first
            day = self.lexical.fast_values(pks, "day")
            return sorted(ranked, key=lambda item: -day.get(item[0], 0))
        # Votes change without re-indexing (site votes): score from the store's current rows,
        # with the one trending formula the whole site uses.
        now, params = utcnow(), self.settings.trending
        scores = {p.pk: paper_trending(p, now, params) for p in self.store.papers_by_pk(pks)}
        return sorted(((pk, scores.get(pk, 0.0)) for pk in pks), key=lambda item: -item[1])

    def _explain(self, page: Ranked, parsed: ParsedQuery, found: _Found) -> list[Hit]:
        # The store's rows, not the index's copies: what the page shows (votes, links) is
        # the store's now, and the page reads no paper twice (web/display.hits_to_views).
        papers = {p.pk: p for p in self.store.papers_by_pk([pk for pk, _ in page])}
        wanted = {stem(w): w for w in words(parsed.text) if analyze(w)}
        floor = self._dense_floor()
        hits = []
        for pk, score in page:
            paper = papers.get(pk)
            if paper is None or paper.id is None:
                continue
            scores = {"cosine": found.cosine[pk]} if pk in found.cosine else {}
            if pk in found.passage:
                scores["passage"] = found.passage[pk]
            close = max(scores.values(), default=-1.0) >= floor
            snippet, why = passage_and_reasons(paper, wanted, close=close, authors=parsed.authors)
            hits.append(Hit(paper.id, round(score, 6), why, paper, snippet, scores))
        return hits
