"""Streaming framing shared by every frame-based analysis node.

Convention (checked against offline oracles): frame k analyses input samples
[k*hop - (n_fft - hop), k*hop + hop), zeros before the start - librosa's ``center=False``
frames of the input left-padded with n_fft - hop zeros. Frame k is complete, and emitted,
in the block that contains sample k*hop + hop - 1 (engine/testing.py delivers frames
streams the same way).

State: ``ring`` float64 [channels, n_fft] holds the newest n_fft samples (circular);
``state`` int64 [2] = (write position in ring, samples since the last frame).
"""
from __future__ import annotations

import numpy as np
from numba import njit


def make_ring(channels: int, n_fft: int) -> tuple:
    """Zeroed (ring float64 [channels, n_fft], state int64 [2])."""
    return np.zeros((channels, n_fft), np.float64), np.zeros(2, np.int64)


@njit(cache=True, fastmath=False)
def push_samples(x, ring, state, start, hop):
    """Write x[:, start:] into the ring until a frame completes.

    x: float32 [channels, n]. Returns the index after the last consumed sample; when it
    is reached because a frame completed, ``state[1]`` equals hop (caller reads the frame
    with :func:`read_frame`, then calls :func:`frame_done`).
    """
    n = x.shape[1]
    n_fft = ring.shape[1]
    pos = state[0]
    since = state[1]
    i = start
    while i < n and since < hop:
        for c in range(x.shape[0]):
            ring[c, pos] = x[c, i]
        pos += 1
        if pos == n_fft:
            pos = 0
        since += 1
        i += 1
    state[0] = pos
    state[1] = since
    return i


@njit(cache=True, fastmath=False)
def frame_done(state):
    state[1] = 0


@njit(cache=True, fastmath=False)
def read_frame(ring, state, c, window, out):
    """out float64 [n_fft] = the newest n_fft samples of channel c (oldest first) * window."""
    n_fft = ring.shape[1]
    pos = state[0]
    for j in range(n_fft):
        p = pos + j
        if p >= n_fft:
            p -= n_fft
        out[j] = ring[c, p] * window[j]
