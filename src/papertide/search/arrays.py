"""A numpy array that grows at its end, for indexes that append as papers arrive."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt


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
