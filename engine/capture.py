"""Growing capture of a stream without per-block allocation (chunks of preallocated rows)."""
from __future__ import annotations

import numpy as np


class Capture:
    """Appends rows of shape `row_shape` (float32) into chunks of `chunk_rows` rows.

    ``append(rows)``: rows float32 [k, *row_shape]. ``result()``: [total, *row_shape].
    The next chunk is kept ready as a spare: :meth:`refill` (called off the audio path,
    e.g. by the live engine's control loop through ``Node.housekeeping``) allocates it, so
    ``append`` on the audio path only allocates when no spare was prepared in time.
    """

    def __init__(self, row_shape: tuple, chunk_rows: int = 1 << 16):
        self.row_shape = tuple(row_shape)
        self.chunk_rows = chunk_rows
        self._spare = None
        self.clear()

    def clear(self) -> None:
        self._chunks = [self._new_chunk()]
        self._fill = 0
        self.total = 0
        self.refill()

    def _new_chunk(self) -> np.ndarray:
        return np.zeros((self.chunk_rows,) + self.row_shape, np.float32)

    def refill(self) -> None:
        """Prepare the spare chunk (not on the audio path)."""
        if self._spare is None:
            self._spare = self._new_chunk()

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
                spare, self._spare = self._spare, None
                self._chunks.append(spare if spare is not None else self._new_chunk())
                self._fill = 0
        self.total += k

    def result(self) -> np.ndarray:
        parts = self._chunks[:-1] + [self._chunks[-1][: self._fill]]
        return np.concatenate(parts, axis=0)
