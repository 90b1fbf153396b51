"""Paper vectors inside PostgreSQL (pgvector): one table per embedding model, shared by
every node, searched with an HNSW index, so web nodes keep no vector files.

Vectors are stored as ``halfvec`` (16-bit floats, as in the local index files) minus a fixed
center ``c`` (half the mean vector, computed when the table is made) and searched by inner
product: for a unit query q, q.(d - c) = q.d - q.c ranks exactly as the cosine q.d does, and
q.c is added back to report cosines. Mean-pooled static embeddings share one dominant
direction, which makes every paper nearly as far from every other under plain cosine; HNSW
navigates the centred space far better (search/graph_params.py, new_ann, has the sweep).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, Engine, text

_LOCK = 0x70617065_72000003  # pg_advisory_xact_lock key for creating the tables
_CHUNK = 1_000
_CENTER_SHARE = 0.5
_CENTER_SAMPLE = 200_000  # stored vectors the center is computed from, at most


def table_name(model: str) -> str:
    """The table that holds ``model``'s vectors (a short, safe name per model)."""
    return "pgv_" + hashlib.sha1(model.encode("utf-8")).hexdigest()[:12]


def _literal(vector: npt.NDArray[Any]) -> str:
    return "[" + ",".join(f"{x:.6g}" for x in vector.tolist()) + "]"


class PgVectorTable:
    """The vectors of one model in PostgreSQL, with exact and HNSW top-k by cosine."""

    def __init__(
        self, engine: Engine, *, model: str, dim: int, m: int, ef_construction: int
    ) -> None:
        if engine.dialect.name != "postgresql":
            raise ValueError(
                "search.vector_backend = 'pgvector' needs a PostgreSQL database_url "
                f"(this one is {engine.dialect.name})"
            )
        self.engine = engine
        self.model = model
        self.dim = dim
        self.table = table_name(model)
        self.m, self.ef_construction = m, ef_construction
        # The index's name carries its knobs: other knobs make another index (built, then
        # the old one dropped), never an old graph taken for the one asked for.
        self.index = f"{self.table}_hnsw_m{m}_ef{ef_construction}"
        self.center = np.zeros(dim, dtype=np.float32)
        self._center_text = _literal(self.center)  # the center as a halfvec literal

    def ensure(self) -> None:
        """Create the extension, the table and its HNSW index when missing (under a lock,
        so that nodes starting together do it once); read the table's center."""
        with self.engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK})
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
            conn.execute(
                text(
                    "CREATE TABLE IF NOT EXISTS pgv_meta (name text PRIMARY KEY, model text "
                    "NOT NULL, dim integer NOT NULL, center bytea NOT NULL)"
                )
            )
            row = conn.execute(
                text("SELECT dim, center FROM pgv_meta WHERE name = :n"), {"n": self.table}
            ).first()
            if row is not None and row.dim == self.dim:
                self.center = np.frombuffer(bytes(row.center), dtype=np.float32).copy()
                self._center_text = _literal(self.center)
                return
            self.center = self._new_center(conn)
            self._center_text = _literal(self.center)
            conn.execute(text(f"DROP TABLE IF EXISTS {self.table}"))
            conn.execute(
                text(
                    f"CREATE TABLE {self.table} (paper_pk integer PRIMARY KEY REFERENCES "
                    f"papers(pk) ON DELETE CASCADE, embedding halfvec({self.dim}) NOT NULL)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO pgv_meta (name, model, dim, center) VALUES (:n, :m, :d, :c) "
                    "ON CONFLICT (name) DO UPDATE SET dim = :d, center = :c"
                ),
                {"n": self.table, "m": self.model, "d": self.dim, "c": self.center.tobytes()},
            )

    def has_index(self) -> bool:
        """Whether the table has an HNSW index, built with this node's knobs or another's
        (a first load runs without one, then builds it)."""
        with self.engine.connect() as conn:
            return bool(self._hnsw_indexes(conn))

    def index_in_use(self) -> str | None:
        """The name of the HNSW index searches use: this node's when it exists, else the
        one another node built (None when there is none)."""
        with self.engine.connect() as conn:
            names = self._hnsw_indexes(conn)
        return self.index if self.index in names else (names[0] if names else None)

    def ensure_index(self, *, replace: bool = False) -> bool:
        """Build the HNSW index (``m`` links, ``ef_construction`` on insert) when the table
        has none; returns True when this call built one. Built once over a full table it
        costs a fraction of maintaining it row by row during the first load.

        An index another node built with other knobs is kept: nodes configured apart must
        not take turns dropping each other's (minutes at 1M vectors, each time). Only
        ``replace`` (``papertide reindex``) builds this node's and then drops the others."""
        with self.engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK})
            existing = self._hnsw_indexes(conn)
            if self.index in existing and existing == [self.index]:
                return False
            if existing and not replace:
                return False
            # The graph is built in memory when it fits (1M halfvec(256) at m = 24: ~2 GB);
            # beyond, pgvector goes on on disk, many times slower.
            conn.execute(text("SELECT set_config('maintenance_work_mem', '3GB', true)"))
            conn.execute(
                text(
                    f"CREATE INDEX IF NOT EXISTS {self.index} ON {self.table} USING hnsw "
                    f"(embedding halfvec_ip_ops) WITH (m = {int(self.m)}, "
                    f"ef_construction = {int(self.ef_construction)})"
                )
            )
            for name in existing:
                if name != self.index:
                    conn.execute(text(f'DROP INDEX IF EXISTS "{name}"'))
            return self.index not in existing

    def _hnsw_indexes(self, conn: Connection) -> list[str]:
        rows = conn.execute(
            text(
                "SELECT indexname FROM pg_indexes WHERE tablename = :t "
                "AND indexdef ILIKE '%USING hnsw%' ORDER BY indexname"
            ),
            {"t": self.table},
        )
        return [name for (name,) in rows]

    def _new_center(self, conn: Any) -> npt.NDArray[np.float32]:
        """Half the mean of the stored embeddings of this model (zeros when none yet)."""
        total = np.zeros(self.dim, dtype=np.float64)
        count = 0
        rows = conn.execute(
            text("SELECT vector FROM paper_embeddings WHERE model = :m AND dim = :d LIMIT :n"),
            {"m": self.model, "d": self.dim, "n": _CENTER_SAMPLE},
        )
        for (raw,) in rows:
            total += np.frombuffer(bytes(raw), dtype=np.float16)
            count += 1
        return (_CENTER_SHARE * total / max(count, 1)).astype(np.float32)

    def upsert(self, pks: Sequence[int], vectors: npt.NDArray[Any]) -> None:
        """Add or replace vectors (unit rows) that this process embedded; rows already
        equal are left untouched."""
        self._write(
            pks,
            vectors,
            "DO UPDATE SET embedding = excluded.embedding "
            f"WHERE {self.table}.embedding IS DISTINCT FROM excluded.embedding",
        )

    def add_missing(self, pks: Sequence[int], vectors: npt.NDArray[Any]) -> int:
        """Add the vectors of ``pks`` the table lacks (a node catching up with embeddings
        another process computed and wrote); returns how many were added.

        The rows present are found by a plain read, which takes no lock, and left alone:
        an upsert of them would lock each one (ON CONFLICT DO UPDATE locks the row even
        when its WHERE skips the update), and every node would queue on the rows of every
        other. A row another node adds meanwhile is skipped (DO NOTHING waits for no lock
        on a committed row)."""
        if not len(pks):
            return 0
        with self.engine.connect() as conn:
            present = set(
                conn.scalars(
                    text(f"SELECT paper_pk FROM {self.table} WHERE paper_pk = ANY(:pks)"),
                    {"pks": [int(pk) for pk in pks]},
                )
            )
        wanted = [i for i, pk in enumerate(pks) if int(pk) not in present]
        if wanted:
            rows = np.asarray(vectors)[wanted]
            self._write([int(pks[i]) for i in wanted], rows, "DO NOTHING")
        return len(wanted)

    def _write(self, pks: Sequence[int], vectors: npt.NDArray[Any], on_conflict: str) -> None:
        """Insert rows, ``on_conflict`` deciding what happens to those present.

        The rows travel by binary COPY into a session's temporary table (pgvector's psycopg
        adapter writes halfvec's binary form), then one INSERT .. ON CONFLICT moves them, so
        a first load of 100k vectors is a few seconds, not minutes of text literals."""
        if not len(pks):
            return
        from pgvector import HalfVector  # the postgres extra, only needed on this path

        last = {int(pk): i for i, pk in enumerate(pks)}  # a pk given twice: its last row
        centred = (np.asarray(vectors, dtype=np.float32) - self.center).astype(np.float16)
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    "CREATE TEMP TABLE IF NOT EXISTS pgv_incoming (paper_pk integer NOT NULL, "
                    "embedding halfvec NOT NULL) ON COMMIT DELETE ROWS"
                )
            )
            raw = _driver(conn)
            with raw.cursor() as cursor:
                copy_sql = "COPY pgv_incoming (paper_pk, embedding) FROM STDIN (FORMAT BINARY)"
                with cursor.copy(copy_sql) as copy:
                    copy.set_types(["int4", "halfvec"])
                    for pk, row in last.items():
                        copy.write_row((pk, HalfVector(centred[row])))
            conn.execute(
                text(
                    f"INSERT INTO {self.table} (paper_pk, embedding) "
                    f"SELECT i.paper_pk, CAST(i.embedding AS halfvec({self.dim})) "
                    "FROM pgv_incoming i JOIN papers p ON p.pk = i.paper_pk "
                    f"ON CONFLICT (paper_pk) {on_conflict}"
                )
            )

    def delete(self, pks: Sequence[int]) -> None:
        """Forget the vectors of ``pks``."""
        if pks:
            with self.engine.begin() as conn:
                conn.execute(
                    text(f"DELETE FROM {self.table} WHERE paper_pk = ANY(:pks)"),
                    {"pks": list(pks)},
                )

    def count(self) -> int:
        """How many vectors the table holds."""
        with self.engine.connect() as conn:
            return int(conn.scalar(text(f"SELECT count(*) FROM {self.table}")) or 0)

    def has(self, pk: int) -> bool:
        """Whether ``pk`` has a vector."""
        query = text(f"SELECT 1 FROM {self.table} WHERE paper_pk = :pk")
        with self.engine.connect() as conn:
            return conn.execute(query, {"pk": pk}).first() is not None

    def search(
        self, query: npt.NDArray[Any], k: int, *, ef_search: int, exact: bool = False
    ) -> list[tuple[int, float]]:
        """The ``k`` nearest pks to a unit query, with their cosines (HNSW unless exact)."""
        q = np.asarray(query, dtype=np.float32)
        shift = float(q @ self.center)
        with self.engine.connect() as conn, conn.begin():
            if exact:
                conn.execute(text("SELECT set_config('enable_indexscan', 'off', true)"))
            else:
                ef = _depth(ef_search, k)
                conn.execute(text("SELECT set_config('hnsw.ef_search', :ef, true)"), {"ef": ef})
            rows = conn.execute(
                text(
                    f"SELECT paper_pk, (embedding <#> CAST(:q AS halfvec({self.dim}))) AS d "
                    f"FROM {self.table} ORDER BY d LIMIT :k"
                ),
                {"q": _literal(q), "k": k},
            ).all()
        # <#> is the negative inner product: cosine = q.(d - c) + q.c.
        return [(int(pk), -float(d) + shift) for pk, d in rows]

    def near_paper(
        self, pk: int, k: int, also: Sequence[int], *, ef_search: int
    ) -> tuple[list[tuple[int, float]], dict[int, float]] | None:
        """A stored paper's ``k`` nearest pks by HNSW and the cosines of ``also`` with it,
        in one statement (a first view's similar list made four round trips for these: the
        paper's vector, the search, the cosines, and the query vector sent back as text);
        None when ``pk`` has no vector.

        The query is the paper's own unit vector, its stored row plus the center; its
        cosine with a stored row d - c is q.(d - c) + q.c, as in ``search``."""
        ef = _depth(ef_search, k)
        vector = f"CAST(:center AS halfvec({self.dim}))"
        query = text(
            f"WITH q AS MATERIALIZED (SELECT embedding + {vector} AS v FROM {self.table} "
            "WHERE paper_pk = :pk) "
            f"SELECT 0 AS part, 0 AS paper_pk, (SELECT v FROM q) <#> {vector} AS d "
            f"UNION ALL (SELECT 1, paper_pk, embedding <#> (SELECT v FROM q) FROM {self.table}"
            " WHERE EXISTS (SELECT FROM q) ORDER BY embedding <#> (SELECT v FROM q) LIMIT :k) "
            f"UNION ALL SELECT 2, paper_pk, embedding <#> (SELECT v FROM q) FROM {self.table} "
            "WHERE paper_pk = ANY(:also)"
        )
        with self.engine.connect() as conn, conn.begin():
            conn.execute(text("SELECT set_config('hnsw.ef_search', :ef, true)"), {"ef": ef})
            rows = conn.execute(
                query,
                {
                    "center": self._center_text,
                    "pk": int(pk),
                    "k": k,
                    "also": [int(p) for p in also],
                },
            ).all()
        shift = next((-float(d) for part, _, d in rows if part == 0 and d is not None), None)
        if shift is None:
            return None
        # <#> is the negative inner product.
        near = sorted((float(d), int(p)) for part, p, d in rows if part == 1)
        found = {p for _, p in near}
        cosines = {int(p): -float(d) + shift for part, p, d in rows if part == 2}
        return [(p, -d + shift) for d, p in near], {
            p: c for p, c in cosines.items() if p not in found
        }

    def cosines(self, pks: Sequence[int], query: npt.NDArray[Any]) -> list[float]:
        """The cosine of each of ``pks`` with a unit query (0 for pks without a vector)."""
        if not len(pks):
            return []
        q = np.asarray(query, dtype=np.float32)
        shift = float(q @ self.center)
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    f"SELECT paper_pk, (embedding <#> CAST(:q AS halfvec({self.dim}))) "
                    f"FROM {self.table} WHERE paper_pk = ANY(:pks)"
                ),
                {"q": _literal(q), "pks": [int(pk) for pk in pks]},
            )
            found = {int(pk): -float(d) + shift for pk, d in rows}
        return [found.get(int(pk), 0.0) for pk in pks]

    def get(self, pks: Sequence[int]) -> npt.NDArray[np.float32]:
        """The vectors of ``pks`` as float32 rows (zeros for unknown pks)."""
        out = np.zeros((len(pks), self.dim), dtype=np.float32)
        if not len(pks):
            return out
        where = {int(pk): i for i, pk in enumerate(pks)}
        with self.engine.connect() as conn:
            raw = _driver(conn)
            with raw.cursor(binary=True) as cursor:
                cursor.execute(
                    f"SELECT paper_pk, embedding FROM {self.table} WHERE paper_pk = ANY(%s)",
                    (list(where),),
                )
                for pk, vector in cursor:
                    out[where[pk]] = vector.to_numpy()
        out[[i for i in range(len(pks)) if out[i].any()]] += self.center
        return out


def _depth(ef_search: int, k: int) -> str:
    """hnsw.ef_search for a top-``k``: the asked depth within pgvector's bounds (10-1000), at
    least ``k`` (pgvector returns at most ef_search rows)."""
    return str(max(min(ef_search, 1000), k, 10))


def _driver(conn: Connection) -> Any:
    """The psycopg connection under ``conn``, with pgvector's types registered (binary
    halfvec in and out)."""
    from pgvector.psycopg import register_vector

    raw: Any = conn.connection.driver_connection
    if not getattr(raw, "_papertide_vectors", False):
        register_vector(raw)
        raw._papertide_vectors = True
    return raw
