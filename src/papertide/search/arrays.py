"""A numpy array that grows at its end, for indexes that append as papers arrive."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt


def dot_rows(rows: npt.NDArray[Any], query: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
    """Each row's dot product with ``query``, on the calling thread.

    Why not ``rows @ query``: numpy hands a matrix-vector product to OpenBLAS, which splits
    it over every core and waits for all of them; on a busy host one descheduled thread
    holds the rest. 2,000 x 384 float32 rows (a MiniLM query's candidate passages), at load
    10 on the 2 shared cores: 20 ms wall, 8 ms CPU through BLAS, 0.16 ms either way with
    ``einsum``, which never calls BLAS (medians of 50; one-off timing, 2026-12-07)."""
    scores: npt.NDArray[np.float32] = np.einsum(
        "ij,j->i", rows, query.astype(np.float32, copy=False), dtype=np.float32
    )
    return scores


class GrowingArray:
    """Rows that append in amortised O(1): the buffer grows by half when full, so adding a
    batch copies only the batch (concatenating on every batch copies everything: O(N^2))."""

    def __init__(self, dtype: Any, row_shape: tuple[int, ...] = ()) -> None:
        self._buffer: npt.NDArray[Any] = np.zeros((0, *row_shape), dtype=dtype)
        self.size = 0

    @property
    def view(self) -> npt.NDArray[Any]:
        """The filled rows (a view: writes go through; valid until the next extend)."""
        return self._buffer[: self.size]

    def extend(self, values: npt.NDArray[Any]) -> None:
        """Append ``values`` (rows of the array's shape)."""
        end = self.size + len(values)
        if end > len(self._buffer):
            capacity = max(end, len(self._buffer) * 3 // 2, 1024)
            grown = np.empty((capacity, *self._buffer.shape[1:]), dtype=self._buffer.dtype)
            grown[: self.size] = self.view
            self._buffer = grown
        self._buffer[self.size : end] = values
        self.size = end

    def replace(self, values: npt.NDArray[Any]) -> None:
        """Make ``values`` the whole array (it becomes the buffer, not a copy)."""
        self._buffer, self.size = values, len(values)


class RowOfKey:
    """Which row holds each key (a paper's pk), as one int32 array indexed by the key: -1
    for none. Paper pks are a database sequence, dense from 1, so at 1M papers this is
    4 MB per process where a dict of Python ints took about 100 MB in every web worker."""

    def __init__(self) -> None:
        self._rows: npt.NDArray[np.int32] = np.full(0, -1, dtype=np.int32)
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def __contains__(self, key: int) -> bool:
        return 0 <= key < len(self._rows) and self._rows[key] >= 0

    def get(self, keys: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """The row of each key, -1 for keys without one."""
        keys = np.asarray(keys, dtype=np.int64)
        inside = (keys >= 0) & (keys < len(self._rows))
        out = np.full(len(keys), -1, dtype=np.int64)
        out[inside] = self._rows[keys[inside]]
        return out

    def set(self, keys: npt.NDArray[np.int64], rows: npt.NDArray[np.int64]) -> None:
        """Point each of ``keys`` (distinct, none present) at its row."""
        keys = np.asarray(keys, dtype=np.int64)
        if not len(keys):
            return
        if keys.min() < 0:
            raise ValueError("keys must not be negative")
        top = int(keys.max()) + 1
        if top > len(self._rows):
            grown = np.full(max(top, len(self._rows) * 3 // 2, 1024), -1, dtype=np.int32)
            grown[: len(self._rows)] = self._rows
            self._rows = grown
        self._rows[keys] = rows
        self._count += len(keys)

    def pop(self, keys: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Forget ``keys`` (distinct); the rows they had (absent keys are skipped)."""
        rows = self.get(keys)
        present = rows >= 0
        self._rows[np.asarray(keys, dtype=np.int64)[present]] = -1
        self._count -= int(present.sum())
        return rows[present]

    @classmethod
    def of(cls, keys: npt.NDArray[np.int64], rows: npt.NDArray[np.int64]) -> RowOfKey:
        """An index of ``keys`` at ``rows``."""
        index = cls()
        index.set(keys, rows)
        return index
