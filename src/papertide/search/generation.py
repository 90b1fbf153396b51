"""One generation of index files, and the folder that holds the generations.

    DATA_DIR/index/
      CURRENT            the name of the generation searches read ("000003")
      gens/000003/       lexical/ (tantivy), vectors/, passages/ (when in use), state.json
      gens/000004/       a rebuild in progress: written beside the live one
      .lock, .build      flock files: the folder lock (shared to read files, exclusive to
                         write them) and the one-builder-at-a-time lock

A generation's state.json records the change-feed position it has applied
(store/changes.py), the settings it was built with, a commit counter, and while it is being
built, where the build stands (``build``: the feed position it started at and the last pk it
read). Every commit writes the index files first and state.json last (replaced atomically),
so a process killed at any instruction leaves files that are at least as new as their state:
re-applying changes from the recorded position is harmless, and nothing is ever skipped. A
rebuild becomes live only when complete, by replacing CURRENT: killing it leaves the previous
generation serving, and the next build resumes from its recorded pk.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from papertide.search import passages as ps
from papertide.search.lexical import SCHEMA_VERSION as LEXICAL_SCHEMA
from papertide.search.lexical import LexicalIndex
from papertide.search.passages import PassageIndex
from papertide.search.pgvector_index import PgVectorIndex
from papertide.search.settings import SearchSettings
from papertide.search.vectors import VectorIndex
from papertide.store import FeedPosition

LAYOUT = 3  # 3: the HNSW graph saved in versions and mapped read-only (graph.py)
# Files of layout 1 (one set of files straight under index/), removed by the first build.
_OLD_LAYOUT = ("lexical", "vectors", "passages", "state.json", "state.json.tmp")


def wanted_state(config: SearchSettings) -> dict[str, Any]:
    """What a generation must have been built with to serve ``config``."""
    return {
        "layout": LAYOUT,
        "lexical_schema": LEXICAL_SCHEMA,
        "title_repeat": config.title_repeat,
        "embedder": config.embedder,
        "passages": ps.enabled(config.passages, config.embedder),
        "vector_backend": config.vector_backend,
    }


class Generation:
    """The lexical index, vectors and passages of one generation, and its state."""

    def __init__(
        self, folder: Path, config: SearchSettings, state: dict[str, Any], engine: Any = None
    ) -> None:
        self.folder = folder
        self.config = config
        self.state = state
        self.engine = engine  # the store's, for the pgvector backend
        self.lexical = LexicalIndex(folder / "lexical", title_repeat=config.title_repeat)
        self.vectors: VectorIndex | PgVectorIndex | None = None
        self.passages: PassageIndex | None = None

    @property
    def name(self) -> str:
        """The generation's folder name."""
        return self.folder.name

    @property
    def position(self) -> FeedPosition | None:
        """The feed position applied (None while a build has not finished)."""
        if "build" in self.state:
            return None
        return FeedPosition.from_json(self.state.get("position"))

    @property
    def use_passages(self) -> bool:
        """Whether this generation keeps passage vectors."""
        return bool(self.state.get("passages"))

    def open_vectors(self, dim: int) -> VectorIndex | PgVectorIndex:
        """The vector files (and passages, when in use) as they are on disk; callers hold
        the folder lock, so files are never read mid-write. With the pgvector backend the
        vectors are PostgreSQL's (no files)."""
        if self.vectors is None:
            name = self.config.embedder
            self.state["dim"] = int(self.state.get("dim") or dim)
            if self.config.vector_backend == "pgvector":
                from papertide.search.pgvector_index import open_pg_index

                self.vectors = open_pg_index(
                    self.engine,
                    model=name,
                    dim=self.state["dim"],
                    config=self.config,
                )
            else:
                self.vectors = VectorIndex.open(
                    self.folder / "vectors",
                    model=name,
                    dim=self.state["dim"],
                    ann_threshold=self.config.ann_threshold,
                    ef_search=self.config.ann_ef_search,
                    ef_search_papers=self.config.ann_ef_search_papers,
                )
                self.vectors.deferred = True  # the service builds the graph: build_graph
            if self.use_passages:
                self.passages = PassageIndex.open(
                    self.folder / "passages", model=name, dim=self.state["dim"]
                )
        return self.vectors

    def commit(self) -> None:
        """Index files first, then state.json (atomically): see the module docstring."""
        self.lexical.commit()
        if self.vectors is not None:
            self.vectors.flush()
        if self.passages is not None:
            self.passages.flush()
        self.state["generation"] = int(self.state.get("generation", 0)) + 1
        write_json(self.folder / "state.json", self.state)

    def close(self) -> None:
        """Let go of the vectors (the lexical index closes with the object)."""
        if self.vectors is not None:
            self.vectors.close()
        if self.passages is not None:
            self.passages.close()
        self.vectors = self.passages = None


class IndexRoot:
    """DATA_DIR/index: which generation is live, new ones beside it, and the locks."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "gens").mkdir(exist_ok=True)
        self.folder = folder

    def current(self) -> str | None:
        """The live generation's name, if there is one."""
        try:
            name = (self.folder / "CURRENT").read_text().strip()
        except FileNotFoundError:
            return None
        return name if (self.folder / "gens" / name / "state.json").is_file() else None

    def stamp(self) -> tuple[Any, ...]:
        """Changes whenever CURRENT or the live state.json is replaced (two stats)."""
        name = self.current()
        parts: list[Any] = [name]
        for path in (self.folder / "CURRENT", self.folder / "gens" / str(name) / "state.json"):
            try:
                found = path.stat()
                parts += [found.st_ino, found.st_mtime_ns]
            except FileNotFoundError:
                parts += [None, None]
        return tuple(parts)

    def state_of(self, name: str) -> dict[str, Any]:
        """A generation's state.json ({} when missing)."""
        path = self.folder / "gens" / name / "state.json"
        return dict(json.loads(path.read_text())) if path.is_file() else {}

    def open(self, name: str, config: SearchSettings, engine: Any = None) -> Generation:
        """A generation's files (its lexical index opened; vectors on first use)."""
        return Generation(self.folder / "gens" / name, config, self.state_of(name), engine)

    def unfinished(self, config: SearchSettings) -> str | None:
        """A build newer than the live generation, for the same settings, to resume."""
        current = self.current() or ""
        for folder in sorted((self.folder / "gens").iterdir(), reverse=True):
            state = self.state_of(folder.name)
            if folder.name > current and "build" in state:
                same = all(state.get(k) == v for k, v in wanted_state(config).items())
                return folder.name if same else None
        return None

    def create(self) -> str:
        """A new, empty generation folder, numbered after every existing one."""
        names = [int(p.name) for p in (self.folder / "gens").iterdir() if p.name.isdigit()]
        name = f"{max(names, default=0) + 1:06d}"
        (self.folder / "gens" / name).mkdir()
        return name

    def make_current(self, name: str) -> None:
        """Point searches at ``name`` (atomic); drop generations older than the one before."""
        previous = self.current()
        temporary = self.folder / "CURRENT.tmp"
        temporary.write_text(name)
        temporary.replace(self.folder / "CURRENT")
        keep = {name, previous}
        for folder in (self.folder / "gens").iterdir():
            if folder.name not in keep and folder.name < name:
                shutil.rmtree(folder, ignore_errors=True)
        for stale in _OLD_LAYOUT:
            path = self.folder / stale
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)

    @contextmanager
    def lock(self, *, shared: bool = False, wait: bool = True) -> Iterator[bool]:
        """The folder lock; yields False (not held) when ``wait`` is off and it is taken."""
        with _flock(self.folder / ".lock", shared=shared, wait=wait) as held:
            yield held

    @contextmanager
    def build_lock(self, *, wait: bool = True) -> Iterator[bool]:
        """One builder at a time per index folder (yields whether it is held)."""
        with _flock(self.folder / ".build", shared=False, wait=wait) as held:
            yield held


@contextmanager
def _flock(path: Path, *, shared: bool, wait: bool) -> Iterator[bool]:
    with path.open("a") as handle:
        mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        try:
            fcntl.flock(handle, mode if wait else mode | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            with contextlib.suppress(OSError):
                fcntl.flock(handle, fcntl.LOCK_UN)


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Replace ``path`` atomically (readers see the old file or the new one, whole)."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(data))
    temporary.replace(path)
