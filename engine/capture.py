"""Growing capture of a stream without per-block allocation (chunks of preallocated rows)."""
from __future__ import annotations

import numpy as np


class Capture:
    """Appends rows of shape `row_shape` (float32); allocates one chunk per `chunk_rows` rows.

    ``append(rows)``: rows float32 [k, *row_shape]. ``result()``: [total, *row_shape].
    """

    def __init__(self, row_shape: tuple, chunk_rows: int = 1 << 16):
        self.row_shape = tuple(row_shape)
        self.chunk_rows = chunk_rows
        self.clear()

    def clear(self) -> None:
        self._chunks = [np.zeros((self.chunk_rows,) + self.row_shape, np.float32)]
        self._fill = 0
        self.total = 0

    def append(self, rows: np.ndarray) -> None:
        k = rows.shape[0]
        done = 0
        while done < k:
            chunk = self._chunks[-1]
            take = min(k - done, self.chunk_rows - self._fill)
            chunk[self._fill:self._fill + take] = rows[done:done + take]
            self._fill += take
            done += take
            if self._fill == self.chunk_rows:
                self._chunks.append(np.zeros_like(chunk))
                self._fill = 0
        self.total += k

    def result(self) -> np.ndarray:
        parts = self._chunks[:-1] + [self._chunks[-1][: self._fill]]
        return np.concatenate(parts, axis=0)
