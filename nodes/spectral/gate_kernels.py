"""Per-bin gate and gain kernels on frames streams."""
from __future__ import annotations

import numpy as np
from neuropatch.engine.jit import njit

MAGNITUDE, POWER, COMPLEX = 0, 1, 2


@njit(cache=True, fastmath=False)
def gate_block(frames, count, mode, threshold_db, floor_gain, out):
    """Attenuate every bin whose level is below threshold_db by floor_gain (amplitude).

    frames/out: float32 [>=count, channels, bins]. mode: magnitude (level 20*log10 v),
    power (10*log10 v; the gain is squared), complex (channel pairs re/im, level of |re+i im|).
    """
    channels = frames.shape[1]
    bins = frames.shape[2]
    thr_amp = 10.0 ** (threshold_db / 20.0)
    thr_pow = thr_amp * thr_amp
    for f in range(count):
        if mode == COMPLEX:
            for c in range(channels // 2):
                for b in range(bins):
                    re = frames[f, 2 * c, b]
                    im = frames[f, 2 * c + 1, b]
                    g = floor_gain if re * re + im * im < thr_pow else 1.0
                    out[f, 2 * c, b] = re * g
                    out[f, 2 * c + 1, b] = im * g
        else:
            for c in range(channels):
                for b in range(bins):
                    v = frames[f, c, b]
                    if mode == POWER:
                        out[f, c, b] = v * floor_gain * floor_gain if abs(v) < thr_pow else v
                    else:
                        out[f, c, b] = v * floor_gain if abs(v) < thr_amp else v


@njit(cache=True, fastmath=False)
def gain_block(frames, count, gain, mask, mask_count, use_mask, hold, pair, out):
    """out = frames * gain (* mask): per-bin gain with an optional mask stream.

    frames/out: float32 [>=count, channels, bins]; mask: float32 [>=mask_count, mask_channels,
    bins]; hold: float32 [mask_channels, bins], the latest mask frame (kept across blocks
    when the mask delivers fewer frames). Channel c uses mask channel 0 when there is one
    mask channel, c // 2 when pair (complex frames with a per-audio-channel mask), else c.
    """
    channels = frames.shape[1]
    bins = frames.shape[2]
    mc = hold.shape[0]
    for f in range(count):
        if use_mask and f < mask_count:
            for m in range(mc):
                for b in range(bins):
                    hold[m, b] = mask[f, m, b]
        for c in range(channels):
            m = 0 if mc == 1 else (c // 2 if pair else c)
            for b in range(bins):
                g = gain * hold[m, b] if use_mask else gain
                out[f, c, b] = frames[f, c, b] * g
