"""Direct-form convolution of a short fixed impulse response (a guitar cabinet), float32.

Every output sample is one dot product of the taps with the newest input samples, so there
is no latency and no FFT. Per sample it costs one multiply-add per tap, against the
partitioned FFT convolution's (:mod:`.convolver`) roughly constant cost, so it only pays for
short responses: measured on one thread (bench/spectral.py), 512 taps run in about 0.4x the
partitioned kernel's time and 2048 taps in about 1.35x. Up to :data:`DIRECT_MAX_TAPS` taps it
is still the better choice: its kernel compiles in about 0.3 s on a first run, the
partitioned kernel and the FFT it links in about 5 s, and a cabinet is usually at most
2048 taps (43 ms at 48 kHz).

Layout: the input history of a channel is a ring of R = taps + :data:`TILE` samples stored
twice (ring[p] and ring[p + R]), newest first, so the window of any output is one contiguous
ascending slice, the same direction as the taps. Outputs are computed :data:`TILE` at a
time: the tile shares each tap's load across its eight dot products (eight independent
float32 accumulations, which LLVM vectorises over taps). A tile with fewer than eight new
samples (the end of an odd-sized block) runs the same loop with its spare accumulators on
the last window, so every output sums its products in the same order whatever the block
size (block-size invariant to the bit).
"""
from __future__ import annotations

import numpy as np

from neuropatch.engine.jit import njit

#: outputs computed together (accumulators in registers; fir_process unrolls exactly eight)
TILE = 8
#: longest response convolved in direct form (see the module docstring)
DIRECT_MAX_TAPS = 2048


@njit(cache=True, fastmath={"reassoc", "contract"})
def fir_process(x, y, taps, ring, pos):
    """y = x convolved with taps, per channel, continuing from the stored history.

    x, y: float32 [channels, n]; taps: float32 [L]; ring: float32 [channels, 2 * (L + TILE)]
    (history, newest first, stored twice); pos: int64 [channels] (ring position of the
    newest sample).
    """
    n_taps = taps.shape[0]
    period = ring.shape[1] // 2
    n = x.shape[1]
    for ch in range(x.shape[0]):
        hist = ring[ch]
        src = x[ch]
        dst = y[ch]
        p = pos[ch]
        t = 0
        while t < n:
            m = min(TILE, n - t)
            for j in range(m):
                p -= 1
                if p < 0:
                    p = period - 1
                v = src[t + j]
                hist[p] = v
                hist[p + period] = v
            # window of output t + j starts at the slot of input t + j: p + m - 1 - j
            # (spare accumulators j >= m repeat the newest window)
            w0 = hist[p + m - 1:]
            w1 = hist[p + max(m - 2, 0):]
            w2 = hist[p + max(m - 3, 0):]
            w3 = hist[p + max(m - 4, 0):]
            w4 = hist[p + max(m - 5, 0):]
            w5 = hist[p + max(m - 6, 0):]
            w6 = hist[p + max(m - 7, 0):]
            w7 = hist[p + max(m - 8, 0):]
            a0 = np.float32(0.0)
            a1 = a0
            a2 = a0
            a3 = a0
            a4 = a0
            a5 = a0
            a6 = a0
            a7 = a0
            for k in range(n_taps):
                h = taps[k]
                a0 += h * w0[k]
                a1 += h * w1[k]
                a2 += h * w2[k]
                a3 += h * w3[k]
                a4 += h * w4[k]
                a5 += h * w5[k]
                a6 += h * w6[k]
                a7 += h * w7[k]
            dst[t] = a0
            if m > 1:
                dst[t + 1] = a1
            if m > 2:
                dst[t + 2] = a2
            if m > 3:
                dst[t + 3] = a3
            if m > 4:
                dst[t + 4] = a4
            if m > 5:
                dst[t + 5] = a5
            if m > 6:
                dst[t + 6] = a6
            if m > 7:
                dst[t + 7] = a7
            t += m
        pos[ch] = p


class DirectConvolver:
    """State of a direct-form convolution of ``channels`` channels with ``ir``.

    ir: float [taps], at most :data:`DIRECT_MAX_TAPS` (computed in float32). :meth:`process`
    convolves float32 [channels, n] into float32 [channels, n], any n, allocation-free.
    """

    #: rough seconds its kernel takes to compile on a first run (see Node.compile_seconds)
    compile_seconds = 0.3

    def __init__(self, ir: np.ndarray, channels: int):
        ir = np.asarray(ir)
        if ir.ndim != 1 or not 1 <= ir.size <= DIRECT_MAX_TAPS:
            raise ValueError(f"direct-form convolution takes 1 to {DIRECT_MAX_TAPS} taps, got shape {ir.shape}")
        self.taps = np.ascontiguousarray(ir, np.float32)
        self.ring = np.zeros((channels, 2 * (ir.size + TILE)), np.float32)
        self.pos = np.zeros(channels, np.int64)

    def reset(self) -> None:
        self.ring.fill(0.0)
        self.pos.fill(0)

    def process(self, x: np.ndarray, y: np.ndarray) -> None:
        fir_process(x, y, self.taps, self.ring, self.pos)
