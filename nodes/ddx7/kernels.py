"""numba kernels of the DDX7 decoder: the causal dilated TCN stepped one frame at a time.

Each convolution keeps the last (K - 1) * dilation + 1 inputs it saw in a ring (zero
after reset, which is what the torch model's left zero-padding gives at the start of a
sequence), so frame-by-frame streaming equals the whole-sequence convolution.

theta: float32 [P], the tensors of :func:`..model.tensor_order` with convolution weights as
[K, C_in, C_out]; dims: int64 [3] = (blocks, channels, kernel_size); hist: float64
[hist_size(dims)] rings; pos: int64 [2 * blocks] ring write positions.
"""
from __future__ import annotations

import math

from neuropatch.engine.jit import njit

from ..ddsp.decoder_kernels import pop_pair

N_INPUTS = 2
N_OPERATORS = 6


def hist_size(blocks: int, channels: int, kernel_size: int) -> int:
    """Length of the ring buffer array for a TCN of this shape."""
    total = 0
    for b in range(blocks):
        rows = (kernel_size - 1) * 2 ** b + 1
        total += rows * ((N_INPUTS if b == 0 else channels) + channels)
    return total


@njit(cache=True, fastmath={"reassoc", "contract"})
def causal_conv_step(theta, c, x, c_in, c_out, k_size, dilation, hist, h0, pos, slot, y):
    """One output frame of a causal dilated convolution: push x [c_in] into its ring
    (hist[h0:], (K - 1) * dilation + 1 rows of c_in, write row pos[slot]) and write
    y[:c_out] = b + sum_k W[k] x[t - (K - 1 - k) * dilation]. Returns the cursor after b.

    Weights [K, C_in, C_out]: each input value scales one contiguous weight row into y
    (a vectorised multiply-add over the outputs, no per-output horizontal sum). The rows
    are read through slices indexed from 0: an index the compiler cannot prove
    non-negative gets numba's negative-index wraparound per element, which stops the
    vectorisation (8x slower here)."""
    rows = (k_size - 1) * dilation + 1
    w = pos[slot]
    base = h0 + w * c_in
    for i in range(c_in):
        hist[base + i] = x[i]
    bias = c + k_size * c_out * c_in
    b = theta[bias:bias + c_out]
    for o in range(c_out):
        y[o] = b[o]
    for k in range(k_size):
        r = w - (k_size - 1 - k) * dilation
        if r < 0:
            r += rows
        xs = hist[h0 + r * c_in:h0 + (r + 1) * c_in]
        wk = theta[c + k * c_in * c_out:c + (k + 1) * c_in * c_out]
        i = 0
        while i + 4 <= c_in:      # four weight rows per pass over y: a quarter of the y traffic
            x0, x1, x2, x3 = xs[i], xs[i + 1], xs[i + 2], xs[i + 3]
            t0 = wk[i * c_out:(i + 1) * c_out]
            t1 = wk[(i + 1) * c_out:(i + 2) * c_out]
            t2 = wk[(i + 2) * c_out:(i + 3) * c_out]
            t3 = wk[(i + 3) * c_out:(i + 4) * c_out]
            for o in range(c_out):
                y[o] += t0[o] * x0 + t1[o] * x1 + t2[o] * x2 + t3[o] * x3
            i += 4
        while i < c_in:
            xi = xs[i]
            t0 = wk[i * c_out:(i + 1) * c_out]
            for o in range(c_out):
                y[o] += t0[o] * xi
            i += 1
    pos[slot] = (w + 1) % rows
    return bias + c_out


@njit(cache=True, fastmath={"reassoc", "contract"})
def tcn_frame(theta, dims, hist, pos, f0_hz, loudness_db, max_level, x, h, y, levels):
    """One frame of the decoder: levels [6] = max_level * sigmoid(TCN(scaled f0, loudness)).

    f0_hz > 0; x, h, y: float64 [max(channels, 2)] scratch."""
    blocks, ch, k_size = dims[0], dims[1], dims[2]
    midi = 69.0 + 12.0 * math.log2(max(f0_hz, 20.0) / 440.0)
    x[0] = midi / 127.0
    x[1] = loudness_db / 80.0 + 1.0
    c = 0
    h0 = 0
    c_in = N_INPUTS
    for b in range(blocks):
        last = b == blocks - 1
        c_out = N_OPERATORS if last else ch
        dilation = 1 << b
        rows = (k_size - 1) * dilation + 1
        c = causal_conv_step(theta, c, x, c_in, ch, k_size, dilation, hist, h0, pos, 2 * b, h)
        h0 += rows * c_in
        for i in range(ch):
            if h[i] < 0.0:
                h[i] = 0.0
        c = causal_conv_step(theta, c, h, ch, c_out, k_size, dilation, hist, h0, pos, 2 * b + 1, y)
        h0 += rows * ch
        if not last:
            for o in range(c_out):
                if y[o] < 0.0:
                    y[o] = 0.0
        if c_in != c_out:       # 1x1 convolution on the residual path
            bias = c + c_out * c_in
            for o in range(c_out):
                y[o] += theta[bias + o]
            for i in range(c_in):
                xi = x[i]
                for o in range(c_out):
                    y[o] += theta[c + i * c_out + o] * xi
            c = bias + c_out
        else:
            for o in range(c_out):
                y[o] += x[o]
        for o in range(c_out):
            x[o] = y[o]
        c_in = c_out
    for o in range(N_OPERATORS):
        levels[o] = max_level / (1.0 + math.exp(-x[o]))


@njit(cache=True)
def decode_block(queue, qstate, held_f0, theta, dims, hist, pos, max_level, f0_ratio, loud_offset_db, x, h, y,
                 levels, out_f0, out_levels):
    """Decode every queued (f0, loudness) pair; returns the frames written to out_f0
    (float32 [max_frames, 1, 1] Hz: held, times f0_ratio) and out_levels ([max_frames, 1, 6]).
    Unvoiced frames (f0 <= 0) hold the last voiced f0 (the first voiced one is awaited
    at 0 Hz: the network sees 20 Hz)."""
    made = 0
    while qstate[0, 2] > 0 and qstate[1, 2] > 0 and made < out_f0.shape[0]:
        ld = pop_pair(queue, qstate, held_f0)
        hz = held_f0[0] * f0_ratio
        tcn_frame(theta, dims, hist, pos, hz, ld + loud_offset_db, max_level, x, h, y, levels)
        out_f0[made, 0, 0] = hz
        for o in range(N_OPERATORS):
            out_levels[made, 0, o] = levels[o]
        made += 1
    return made
