"""Streaming framing shared by every frame-based analysis node.

Convention (checked against offline oracles): frame k analyses input samples
[k*hop - (n_fft - hop), k*hop + hop), zeros before the start - librosa's ``center=False``
frames of the input left-padded with n_fft - hop zeros. Frame k is complete, and emitted,
in the block that contains sample k*hop + hop - 1 (engine/testing.py delivers frames
streams the same way).

State: ``ring`` float64 [channels, 2 * n_fft] holds the newest n_fft samples twice
(circular, every sample written at p and p + n_fft), so that a frame is always the
contiguous slice ring[c, pos:pos + n_fft] and reading it needs no wrap-around;
``state`` int64 [2] = (write position pos in [0, n_fft), samples since the last frame).

A block kernel walks the frames a block completes with :func:`next_frame`::

    i = next_frame(x, ring, state, 0, hop)
    while i >= 0:
        ...  # read_frame(ring, state, c, window, frame) per channel
        i = next_frame(x, ring, state, i, hop)
"""
from __future__ import annotations

import numpy as np
from neuropatch.engine.jit import njit

from neuropatch.engine import Node
from neuropatch.engine.streams import StreamSpec

from ..dsp.fft import is_power_of_two


def check_fft_size(n_fft: int, hop: int) -> None:
    """Raise ValueError unless n_fft is a power of two and hop <= n_fft."""
    if not is_power_of_two(n_fft):
        raise ValueError(f"n_fft must be a power of two, got {n_fft}")
    if hop > n_fft:
        raise ValueError(f"hop ({hop}) must not exceed n_fft ({n_fft})")


def make_ring(channels: int, n_fft: int) -> tuple:
    """Zeroed (ring float64 [channels, 2 * n_fft], state int64 [2])."""
    return np.zeros((channels, 2 * n_fft), np.float64), np.zeros(2, np.int64)


@njit(cache=True, fastmath=False, inline="always")
def push_samples(x, ring, state, start, hop):
    """Write x[:, start:] into the ring until a frame completes.

    x: float32 [channels, n]. Returns the index after the last consumed sample; when it
    is reached because a frame completed, ``state[1]`` equals hop (:func:`next_frame`
    wraps this).
    """
    n_fft = ring.shape[1] // 2
    pos = state[0]
    since = state[1]
    take = min(x.shape[1] - start, hop - since)
    if take <= 0:
        return start
    # copy in runs up to the end of the ring (contiguous, so the copies vectorise)
    done = 0
    while done < take:
        run = min(take - done, n_fft - pos)
        for c in range(x.shape[0]):
            src = x[c, start + done:start + done + run]
            low = ring[c, pos:pos + run]
            high = ring[c, pos + n_fft:pos + n_fft + run]
            for j in range(run):
                v = src[j]
                low[j] = v
                high[j] = v
        done += run
        pos += run
        if pos == n_fft:
            pos = 0
    state[0] = pos
    state[1] = since + take
    return start + take


@njit(cache=True, fastmath=False, inline="always")
def next_frame(x, ring, state, start, hop):
    """Push x[:, start:] into the ring until the next frame completes.

    x: float32 [channels, n]. Returns the index after the consumed samples when a frame
    completed (read it now with :func:`read_frame`), or -1 when x ran out first.
    """
    i = push_samples(x, ring, state, start, hop)
    if state[1] < hop:
        return -1
    state[1] = 0
    return i


@njit(cache=True, fastmath=False, inline="always")
def read_frame(ring, state, c, window, out):
    """out [n_fft] = the newest n_fft samples of channel c (oldest first) * window."""
    pos = state[0]
    for j in range(out.shape[0]):
        out[j] = ring[c, pos + j] * window[j]


@njit(cache=True, fastmath=False, inline="always")
def read_frame_packed(ring, state, c, window, work):
    """The windowed frame of channel c packed for dsp.fft.rfft_packed: work [2, n_fft]
    gets the even samples in work[0, :n_fft // 2] and the odd ones in work[1, :n_fft // 2]."""
    pos = state[0]
    for j in range(work.shape[1] // 2):
        work[0, j] = ring[c, pos + 2 * j] * window[2 * j]
        work[1, j] = ring[c, pos + 2 * j + 1] * window[2 * j + 1]

class FramedAnalysis(Node):
    """Base of the nodes that frame their audio input ``in`` by the convention above.

    :meth:`prepare_framing` sets ``channels`` (of the connected input, else 1), the ring
    and state, and latency_samples: n_fft - hop (the samples a frame reaches behind its
    last hop, what an STFT -> ISTFT chain needs), or n_fft // 2 for nodes whose frames
    describe their window's centre (``latency_at_centre``: a pitch or loudness value is
    the window centre's, n_fft // 2 behind the newest sample); :meth:`reset` clears the ring;
    :meth:`input_audio` is the block's float32 [channels, n] input, silence when the
    input is unconnected or has another channel count; :meth:`frames_spec` the spec of a
    frames output (its lookahead: every frame reaches latency_samples ahead of its time).
    """

    latency_at_centre = False

    def prepare_framing(self, ctx, n_fft: int, hop: int) -> None:
        check_fft_size(n_fft, hop)
        spec = ctx.in_specs.get("in")
        self.channels = spec.channels if spec is not None else 1
        self._hop = hop
        self._ring, self._state = make_ring(self.channels, n_fft)
        self._zeros = np.zeros((self.channels, ctx.block_size), np.float32)
        self.latency_samples = n_fft // 2 if self.latency_at_centre else n_fft - hop

    def frames_spec(self, bins: int) -> StreamSpec:
        return StreamSpec("frames", channels=self.channels, bins=bins, hop=self._hop, lookahead=self.latency_samples)

    def reset(self):
        super().reset()
        self._ring.fill(0.0)
        self._state.fill(0)

    def input_audio(self, ins: dict, n: int) -> np.ndarray:
        x = ins.get("in")
        if x is None or x.shape[0] != self.channels:
            return self._zeros[:, :n]
        return x
