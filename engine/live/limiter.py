"""Output safety: NaN/Inf zeroing and a peak limiter, in place and allocation-free (numba)."""
from __future__ import annotations

import math

import numpy as np
from ..jit import njit

DEFAULT_CEILING_DB = -0.3
DEFAULT_RELEASE_MS = 50.0


@njit(cache=True, fastmath=False, nogil=True)
def safety_kernel(y, n, state, ceiling, release, enabled):
    """Zero non-finite samples, then limit peaks, in place.

    y: float32 [channels, >= n] host output (linear full scale); n: samples this block.
    state: float64 [2]: [gain (linear), non-finite samples seen (count)].
    ceiling: linear peak ceiling; release: per-sample coefficient of the gain's return to 1.
    enabled: 0 = only zero NaN/Inf. Attack is instant, so |y| <= ceiling always holds.
    """
    g = state[0]
    bad = 0
    ch = y.shape[0]
    for i in range(n):
        peak = 0.0
        for c in range(ch):
            v = y[c, i]
            if not math.isfinite(v):
                y[c, i] = 0.0
                bad += 1
                v = 0.0
            a = abs(v)
            if a > peak:
                peak = a
        if enabled == 0:
            continue
        target = 1.0
        if peak > ceiling:
            target = ceiling / peak
        if target < g:
            g = target
        else:
            g += (target - g) * release
            if g > 0.99999:
                g = 1.0
        if g != 1.0:
            for c in range(ch):
                y[c, i] = y[c, i] * g
    state[0] = g
    state[1] += bad


class SafetyLimiter:
    """Guards the host output: NaN/Inf -> 0 always; a -0.3 dBFS peak limiter when enabled.

    Below the ceiling the signal passes bit-exactly (gain stays exactly 1.0).
    """

    def __init__(self, sample_rate: int, ceiling_db: float = DEFAULT_CEILING_DB,
                 release_ms: float = DEFAULT_RELEASE_MS, enabled: bool = True):
        self.ceiling = float(10.0 ** (ceiling_db / 20.0))
        self.release = float(1.0 - math.exp(-1.0 / (release_ms * 1e-3 * sample_rate)))
        self.enabled = bool(enabled)
        self.state = np.array([1.0, 0.0])
        warm = np.zeros((1, 4), np.float32)
        safety_kernel(warm, 4, self.state, self.ceiling, self.release, 1)       # C layout
        safety_kernel(warm[:, :2], 2, self.state, self.ceiling, self.release, 1)  # strided

    @property
    def gain_reduction_db(self) -> float:
        """Current gain reduction (dB, >= 0)."""
        return -20.0 * math.log10(max(self.state[0], 1e-12))

    @property
    def nonfinite_samples(self) -> int:
        """NaN/Inf samples zeroed so far."""
        return int(self.state[1])

    def set_enabled(self, enabled: bool) -> None:
        self.enabled = bool(enabled)
        if not self.enabled:
            self.state[0] = 1.0

    def process(self, y: np.ndarray, n: int) -> None:
        """y: float32 [channels, >= n], modified in place."""
        safety_kernel(y, n, self.state, self.ceiling, self.release, 1 if self.enabled else 0)
