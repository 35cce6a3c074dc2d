"""Allocation-free block arithmetic for audio buffers.

numpy allocates an iteration buffer when a 1-D per-sample array is broadcast over a
[channels, n] view (about 1 KB per channel per 1024 samples), which the audio path must
not do; these loops write in place instead.
"""
from __future__ import annotations

from neuropatch.engine.jit import njit


@njit(cache=True, fastmath=True, error_model="numpy")
def multiply_by_ramp(x, ramp, out):
    """out[c, i] = x[c, i] * ramp[i]. x, out: float32 [channels, n]; ramp: float32 [n]."""
    channels, n = out.shape
    for c in range(channels):
        for i in range(n):
            out[c, i] = x[c, i] * ramp[i]


@njit(cache=True, fastmath=True, error_model="numpy")
def _add_into(acc, x, ramp, gain):
    channels, n = acc.shape
    mono = x.shape[0] == 1
    per_sample = ramp.shape[0] > 0
    for c in range(channels):
        src = 0 if mono else c
        if src >= x.shape[0]:
            continue
        if per_sample:
            for i in range(n):
                acc[c, i] += x[src, i] * ramp[i]
        else:
            for i in range(n):
                acc[c, i] += x[src, i] * gain


@njit(cache=True, fastmath=True, error_model="numpy")
def add_scaled_by_ramp(acc, x, ramp):
    """acc[c, i] += x[c', i] * ramp[i], with a mono x spread to every channel of acc.

    acc: float32 [channels, n]; x: float32 [1 or channels, n]; ramp: float32 [n]."""
    _add_into(acc, x, ramp, 1.0)


@njit(cache=True, fastmath=True, error_model="numpy")
def add_scaled(acc, x, gain):
    """acc[c, i] += x[c', i] * gain, a mono x spread to every channel.

    acc: float32 [channels, n]; x: float32 [1 or channels, n]; gain: float."""
    _add_into(acc, x, acc[0, :0], gain)


@njit(cache=True, fastmath=True, error_model="numpy")
def downmix_mean(x, out):
    """out[i] = mean over channels of x[:, i]. x: float32 [channels, n]; out: float32 [n]."""
    channels, n = x.shape
    scale = 1.0 / channels
    for i in range(n):
        out[i] = 0.0
    for c in range(channels):
        for i in range(n):
            out[i] += x[c, i]
    for i in range(n):
        out[i] *= scale
