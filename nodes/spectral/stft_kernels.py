"""Block kernels of the streaming STFT and ISTFT (one compiled call per block)."""
from __future__ import annotations

import numpy as np
from neuropatch.engine.jit import njit

from ..dsp.fft import irfft, rfft_packed
from .framing import next_frame, read_frame_packed

MAGNITUDE, POWER, COMPLEX = 0, 1, 2

# ---- analysis ------------------------------------------------------------------------------


@njit(cache=True, fastmath=False)
def stft_block(x, ring, state, hop, window, mode, out, plan, spec_re, spec_im, work):
    """Frame and transform one block; returns the number of frames written to ``out``.

    x: float32 [channels, n] audio. out: float32 [max_frames, out_channels, bins] with
    out_channels = channels (magnitude, power) or 2*channels (complex: re of audio channel
    c at 2c, im at 2c+1). plan/work: dsp.fft tables and scratch (the window is applied
    while packing the frame into work); spec_re/spec_im [bins]: scratch of the plan's
    precision.
    """
    channels = x.shape[0]
    bins = spec_re.shape[0]
    count = 0
    i = next_frame(x, ring, state, 0, hop)
    while i >= 0:
        for c in range(channels):
            read_frame_packed(ring, state, c, window, work)
            rfft_packed(spec_re, spec_im, plan, work)
            if mode == COMPLEX:
                for b in range(bins):
                    out[count, 2 * c, b] = spec_re[b]
                    out[count, 2 * c + 1, b] = spec_im[b]
            elif mode == POWER:
                for b in range(bins):
                    out[count, c, b] = spec_re[b] * spec_re[b] + spec_im[b] * spec_im[b]
            else:
                for b in range(bins):
                    out[count, c, b] = np.sqrt(spec_re[b] * spec_re[b] + spec_im[b] * spec_im[b])
        count += 1
        i = next_frame(x, ring, state, i, hop)
    return count


# ---- synthesis -----------------------------------------------------------------------------


@njit(cache=True, fastmath=False)
def ola_add(acc, start, values):
    """acc float64 [cap] ring indexed by input time: acc[(start + j) % cap] += values[j]."""
    cap = acc.shape[0]
    p = start % cap
    for j in range(values.shape[0]):
        acc[p] += values[j]
        p += 1
        if p == cap:
            p = 0


@njit(cache=True, fastmath=False)
def ola_read(acc, first, y, inv_wss, n_fft, hop):
    """y float32 [n] = normalised acc for input times first..first+n-1, clearing what is read.

    Frame k starts at input time k*hop + hop - n_fft, so time u sits at offsets congruent
    to (u + n_fft) mod hop in every frame covering it; inv_wss float64 [hop] holds the
    reciprocal window-square sums per such phase. Times before the start read as silence
    (the padding frames wrote there; it is cleared too).
    """
    cap = acc.shape[0]
    for i in range(y.shape[0]):
        u = first + i
        p = u % cap
        if u < 0:
            y[i] = 0.0
        else:
            y[i] = acc[p] * inv_wss[(u + n_fft) % hop]
        acc[p] = 0.0


@njit(cache=True, fastmath=False)
def istft_block(frames, count, acc, frame_index, out_pos, latency, hop, window, inv_wss, y,
                plan, frame, spec_re, spec_im, work):
    """Overlap-add ``count`` complex frames, then write this block's audio.

    frames: float32 [>=count, 2*channels, bins] (re at 2c, im at 2c+1). acc: float64
    [channels, cap] overlap-add ring indexed by input time. frame_index: index of the next
    frame (frame k starts at input time k*hop + hop - n_fft). out_pos: host sample index of
    y[:, 0]; output sample s is input time s - latency. y: float32 [channels, n].
    """
    n_fft = window.shape[0]
    channels = y.shape[0]
    bins = spec_re.shape[0]
    for f in range(count):
        start = (frame_index + f) * hop + hop - n_fft
        for c in range(channels):
            for b in range(bins):
                spec_re[b] = frames[f, 2 * c, b]
                spec_im[b] = frames[f, 2 * c + 1, b]
            irfft(spec_re, spec_im, frame, plan, work)
            for j in range(n_fft):
                frame[j] *= window[j]
            ola_add(acc[c], start, frame)
    for c in range(channels):
        ola_read(acc[c], out_pos - latency, y[c], inv_wss, n_fft, hop)
