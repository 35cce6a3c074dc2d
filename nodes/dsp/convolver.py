"""Zero-latency convolution of a fixed impulse response: direct form for short responses,
uniformly partitioned FFT convolution beyond.

:func:`make_convolver` picks one; every node that convolves (fx.ir, ddsp.reverb) builds its
state through it. The partitioned kernels live in :mod:`neuropatch.nodes.effects`
(``ir_process``), the direct form in :mod:`.fir`.
"""
from __future__ import annotations

import math

import numpy as np

from .fft import make_plan, make_work
from .fir import DIRECT_MAX_TAPS, DirectConvolver


def make_convolver(ir: np.ndarray, channels: int, block_size: int):
    """The convolver for ``ir`` (float [taps]): :class:`DirectConvolver` up to
    :data:`DIRECT_MAX_TAPS` taps, :class:`Convolver` beyond. Both convolve float32
    [channels, n] into float32 [channels, n] with no latency (``process``, ``reset``) and
    declare ``compile_seconds``."""
    ir = np.asarray(ir)
    if ir.size <= DIRECT_MAX_TAPS:
        return DirectConvolver(ir, channels)
    return Convolver(ir, channels, block_size)


def partition_size(taps: int, block_size: int) -> int:
    """Partition length P (a power of two >= 8) of the convolution.

    Per sample the direct-form head costs P multiply-adds and the FFT part about
    4 * taps / P (one complex product per bin and later partition, spread over P
    samples), so the work is least near P = 2 * sqrt(taps); the head's loop vectorises
    better than the short FFTs, so that is rounded up to a power of two (2048 taps:
    P = 128). P is capped at the block size rounded up to a power of two, so that every
    block does its share of FFT work (no block waits for a larger partition to fill and
    then pays for it at once).
    """
    cap = max(8, 1 << max(0, (block_size - 1).bit_length()))
    best = 1 << max(0, math.ceil(math.log2(max(2.0 * math.sqrt(taps), 1.0))))
    return int(min(cap, max(8, best)))


class Convolver:
    """State of a partitioned convolution of ``channels`` channels with ``ir``.

    ir: float64 [taps]. :meth:`process` convolves float32 [channels, n] into float32
    [channels, n] (n <= any size: the kernel walks partitions), allocation-free.
    """

    #: rough seconds its kernels (with the FFT they link in) take to compile on a first run
    compile_seconds = 6.0

    def __init__(self, ir: np.ndarray, channels: int, block_size: int):
        ir = np.ascontiguousarray(ir, np.float64)
        p_len = partition_size(ir.size, block_size)
        n2 = 2 * p_len
        self.partition = p_len
        self.head = np.zeros(p_len, np.float64)
        k = min(p_len, ir.size)
        self.head[:k] = ir[:k]
        rest = ir[p_len:]
        m = int(math.ceil(rest.size / p_len))
        self.spec = np.zeros((m, 2, p_len + 1), np.float64)
        for j in range(m):
            spectrum = np.fft.rfft(rest[j * p_len:(j + 1) * p_len], n2)
            self.spec[j, 0] = spectrum.real
            self.spec[j, 1] = spectrum.imag
        self.plan = make_plan(n2)
        self.work = make_work(n2)
        self.seq = np.zeros((channels, n2))
        self.tail = np.zeros((channels, p_len))
        self.fdl = np.zeros((channels, max(m, 1), 2, p_len + 1), np.float64)
        self.idx = np.zeros((channels, 2), np.int64)   # partition pos, fdl pos
        self.acc = np.zeros((2, p_len + 1), np.float64)
        self.frame = np.zeros(n2, np.float64)
        self.head_out = np.zeros(p_len, np.float64)

    def reset(self) -> None:
        for arr in (self.seq, self.tail, self.fdl, self.idx):
            arr.fill(0)

    def process(self, x: np.ndarray, y: np.ndarray) -> None:
        from ..effects import ir_process

        ir_process(x, y, self.seq, self.idx, self.spec, self.fdl, self.tail, self.head, self.acc,
                   self.frame, self.plan, self.work, self.head_out)
