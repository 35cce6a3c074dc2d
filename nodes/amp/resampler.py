"""Streaming rational resampling on the audio path (preallocated, numba, per sample).

:class:`StreamingResampler` converts by ``up/down`` with a polyphase Kaiser-windowed sinc
(``taps_per_phase`` taps per output sample, stop band about -90 dB). Output counts per
block vary; :class:`RateBridge` runs a model at its own rate between two resamplers and
hands back exactly ``n`` samples per block through a FIFO primed with a few samples, so
its output is identical at every block size. The bridge's latency (FIFO priming plus the
two filters' group delays, in graph samples) is :attr:`RateBridge.latency_samples`.
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from neuropatch.engine.jit import njit


@njit(cache=True, fastmath=False)
def resample_block(x, n, out, hist, state, phases, up, down):
    """Feed x[:n]; write outputs to out; return their count.

    hist: float32 [2*K] input history (the newest K samples live at state[1]..state[1]+K-1
    mirrored so a contiguous window exists); phases: float32 [up, K] (phase p, tap q applies
    to the input q samples back); state int64 [2]: [rel, write index]. rel is the position of
    the next output in the up-sampled grid relative to the current input sample.
    """
    k_taps = phases.shape[1]
    rel = state[0]
    w = state[1]
    count = 0
    for i in range(n):
        # ring with a mirrored copy: hist[w] and hist[w + K] both hold the newest sample
        w = w - 1
        if w < 0:
            w = k_taps - 1
        hist[w] = x[i]
        hist[w + k_taps] = x[i]
        while rel < up:
            acc = np.float32(0.0)
            for q in range(k_taps):
                acc += phases[rel, q] * hist[w + q]
            out[count] = acc
            count += 1
            rel += down
        rel -= up
    state[0] = rel
    state[1] = w
    return count


class StreamingResampler:
    """Rational resampler from ``from_sr`` to ``to_sr`` for blocks of up to ``max_in`` samples."""

    def __init__(self, from_sr: int, to_sr: int, max_in: int, taps_per_phase: int = 32):
        ratio = Fraction(int(to_sr), int(from_sr))
        self.up, self.down = ratio.numerator, ratio.denominator
        if self.up > 1000 or self.down > 1000:
            raise ValueError(f"resampling ratio {to_sr}/{from_sr} too complex")
        from scipy.signal import firwin  # scipy.signal takes about a second to import

        k = taps_per_phase
        numtaps = k * self.up
        cutoff = 0.92 / max(self.up, self.down)       # fraction of the up-sampled Nyquist
        proto = firwin(numtaps, cutoff, window=("kaiser", 8.6)) * self.up
        self.phases = np.ascontiguousarray(proto.reshape(k, self.up).T, dtype=np.float32)  # [up, K]
        self.k = k
        self.delay_in = (numtaps - 1) / 2.0 / self.up         # group delay in input samples
        self.max_out = int(math.ceil(max_in * self.up / self.down)) + 2
        self.hist = np.zeros(2 * k, np.float32)
        self.state = np.zeros(2, np.int64)
        self.reset()

    def reset(self) -> None:
        self.hist.fill(0.0)
        self.state[0] = 0
        self.state[1] = 0

    def process(self, x: np.ndarray, out: np.ndarray) -> int:
        """x: float32 [n]; out: float32 [>= max_out]; returns the number of samples written."""
        return resample_block(x, x.shape[0], out, self.hist, self.state, self.phases, self.up, self.down)


@njit(cache=True, fastmath=False)
def fifo_push(fifo, idx, data, count):
    """idx int64 [2]: read, write (monotonic); capacity = fifo.size."""
    cap = fifo.shape[0]
    w = idx[1]
    for i in range(count):
        fifo[(w + i) % cap] = data[i]
    idx[1] = w + count


@njit(cache=True, fastmath=False)
def fifo_pop(fifo, idx, out, count):
    cap = fifo.shape[0]
    r = idx[0]
    avail = idx[1] - r
    for i in range(count):
        out[i] = fifo[(r + i) % cap] if i < avail else np.float32(0.0)
    idx[0] = r + min(count, avail)


class RateBridge:
    """Runs ``process(x_model [k], y_model [k])`` at the model rate inside a graph at
    ``graph_sr``; ``process(x [n], y [n])`` always returns exactly n samples."""

    PRIME = 4  # samples of count slack: a round trip can come back up to 2 samples short

    def __init__(self, graph_sr: int, model_sr: int, max_block: int, model_process, model_max_block: int):
        self.to_model = StreamingResampler(graph_sr, model_sr, max_block)
        self.model_max_block = model_max_block
        self.from_model = StreamingResampler(model_sr, graph_sr, self.to_model.max_out)
        self.model_process = model_process
        self.m_in = np.zeros(self.to_model.max_out, np.float32)
        self.m_out = np.zeros(self.to_model.max_out, np.float32)
        self.g_out = np.zeros(self.from_model.max_out, np.float32)
        self.fifo = np.zeros(4 * max_block + 64, np.float32)
        self.idx = np.zeros(2, np.int64)
        delay = self.to_model.delay_in + self.from_model.delay_in * graph_sr / model_sr
        #: exact delay of the round trip in graph samples (fractional); latency_samples rounds it
        self.delay_samples = self.PRIME + delay
        self.latency_samples = int(round(self.delay_samples))
        self.reset()

    def reset(self) -> None:
        self.to_model.reset()
        self.from_model.reset()
        self.fifo.fill(0.0)
        self.idx[0] = 0
        self.idx[1] = self.PRIME

    def process(self, x: np.ndarray, y: np.ndarray, fast: bool) -> None:
        k = self.to_model.process(x, self.m_in)
        start = 0
        while start < k:
            stop = min(k, start + self.model_max_block)
            self.model_process(self.m_in[start:stop], self.m_out[start:stop], fast)
            start = stop
        m = self.from_model.process(self.m_out[:k], self.g_out)
        fifo_push(self.fifo, self.idx, self.g_out, m)
        fifo_pop(self.fifo, self.idx, y, y.shape[0])
