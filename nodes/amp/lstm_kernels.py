"""Streaming LSTM (NAM and GuitarML layouts) and the NAM ``Linear`` FIR, per sample in numba.

The gate matrix is stored transposed, ``wt [in+H, 4H]``, so the gate product runs as
``ifgo[:] += wt[j, :] * xh[j]``: the innermost loop walks 4H contiguous floats and
vectorises. Gate rows are i, f, g, o (PyTorch order); ``c = f*c + i*g``, ``h = o*tanh(c)``.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .activations import sigmoid_mode, tanh_mode
from .nam_format import LinearSpec, LSTMSpec


class LSTMProgram:
    """Flattened stacked LSTM with its state. Layer l: ``wt[l] [in_max+H, 4H]`` (rows past the
    layer's input size are zero), ``b [L, 4H]``, state ``h, c [L, H]``."""

    def __init__(self, spec: LSTMSpec):
        n_layers, hidden = len(spec.layers), spec.hidden_size
        self.hidden = hidden
        self.in_size = np.array([spec.input_size if i == 0 else hidden for i in range(n_layers)], np.int64)
        rows = max(spec.input_size, hidden) + hidden
        self.wt = np.zeros((n_layers, rows, 4 * hidden), np.float32)
        self.b = np.zeros((n_layers, 4 * hidden), np.float32)
        self.h0 = np.zeros((n_layers, hidden), np.float32)
        self.c0 = np.zeros((n_layers, hidden), np.float32)
        for i, (w, b, h0, c0) in enumerate(spec.layers):
            nin = int(self.in_size[i])
            self.wt[i, :nin] = w[:, :nin].T
            self.wt[i, nin:nin + hidden] = w[:, nin:].T
            self.b[i], self.h0[i], self.c0[i] = b, h0, c0
        self.head_w = np.ascontiguousarray(spec.head_w[0], np.float32)
        self.head_b = np.float32(spec.head_b[0])
        self.skip = bool(spec.skip)
        self.prewarm_samples = int(spec.prewarm_samples)
        self.h = np.zeros_like(self.h0)
        self.c = np.zeros_like(self.c0)
        self.xh = np.zeros(rows, np.float32)
        self.ifgo = np.zeros(4 * hidden, np.float32)
        self._zeros = np.zeros(4096, np.float32)
        self._sink = np.zeros(4096, np.float32)

    def reset(self) -> None:
        """The file's initial state, then the reference core's prewarm silence (NAM: half a
        second at the model rate; GuitarML: none, the state starts at zero)."""
        self.h[:] = self.h0
        self.c[:] = self.c0
        remaining = self.prewarm_samples
        while remaining > 0:
            n = min(remaining, self._zeros.size)
            self.process(self._zeros[:n], self._sink[:n], False)
            remaining -= n

    def process(self, x: np.ndarray, y: np.ndarray, fast: bool) -> None:
        """x: float32 [n] -> y: float32 [n]."""
        lstm_block(x, y, x.shape[0], self.wt, self.b, self.in_size, self.h, self.c, self.head_w,
                   self.head_b, self.xh, self.ifgo, self.skip, fast)


@njit(cache=True, fastmath=False)
def _gates(ifgo, c_row, h_row, hidden, fast):
    """Activations of one step, each loop over contiguous gates (vectorises)."""
    g2, g3 = 2 * hidden, 3 * hidden
    if fast:
        for r in range(g2):
            ifgo[r] = sigmoid_mode(ifgo[r], True)
        for r in range(g2, g3):
            ifgo[r] = tanh_mode(ifgo[r], True)
        for r in range(g3, 4 * hidden):
            ifgo[r] = sigmoid_mode(ifgo[r], True)
    else:
        for r in range(g2):
            ifgo[r] = sigmoid_mode(ifgo[r], False)
        for r in range(g2, g3):
            ifgo[r] = tanh_mode(ifgo[r], False)
        for r in range(g3, 4 * hidden):
            ifgo[r] = sigmoid_mode(ifgo[r], False)
    for k in range(hidden):
        c_row[k] = ifgo[hidden + k] * c_row[k] + ifgo[k] * ifgo[g2 + k]
    if fast:
        for k in range(hidden):
            h_row[k] = ifgo[g3 + k] * tanh_mode(c_row[k], True)
    else:
        for k in range(hidden):
            h_row[k] = ifgo[g3 + k] * tanh_mode(c_row[k], False)


@njit(cache=True, fastmath=False)
def lstm_block(x, y, n, wt, b, in_size, h, c, head_w, head_b, xh, ifgo, skip, fast):
    """Run n samples. wt [L, rows, 4H], b [L, 4H], h/c [L, H] updated in place."""
    n_layers, hidden = h.shape[0], h.shape[1]
    g4 = 4 * hidden
    for t in range(n):
        for layer in range(n_layers):
            nin = in_size[layer]
            wl = wt[layer]
            if layer == 0:
                xh[0] = x[t]
            else:
                for j in range(hidden):
                    xh[j] = h[layer - 1, j]
            for j in range(hidden):
                xh[nin + j] = h[layer, j]
            for r in range(g4):
                ifgo[r] = b[layer, r]
            for j in range(nin + hidden):
                v = xh[j]
                row = wl[j]
                for r in range(g4):
                    ifgo[r] += row[r] * v
            _gates(ifgo, c[layer], h[layer], hidden, fast)
        acc = head_b
        last = n_layers - 1
        for k in range(hidden):
            acc += head_w[k] * h[last, k]
        if skip:
            acc += x[t]
        y[t] = acc


class LinearProgram:
    """Causal FIR ``y[t] = bias + sum_k taps[k] x[t-k]`` with a history ring."""

    def __init__(self, spec: LinearSpec, max_block: int):
        self.taps = np.ascontiguousarray(spec.taps, np.float32)
        self.bias = np.float32(spec.bias)
        k = self.taps.size
        self.length = k - 1 + max(4096, 2 * max_block)
        self.buf = np.zeros(self.length, np.float32)
        self.pos = np.zeros(1, np.int64)
        self.reset()

    def reset(self) -> None:
        self.buf.fill(0.0)
        self.pos[0] = self.taps.size - 1

    def process(self, x: np.ndarray, y: np.ndarray, fast: bool) -> None:
        fir_block(x, y, x.shape[0], self.taps, self.bias, self.buf, self.pos)


@njit(cache=True, fastmath=False)
def fir_block(x, y, n, taps, bias, buf, pos):
    k_size = taps.shape[0]
    p = pos[0]
    if p + n > buf.shape[0]:
        for i in range(k_size - 1):
            buf[i] = buf[p - (k_size - 1) + i]
        p = k_size - 1
    for t in range(n):
        buf[p + t] = x[t]
    for t in range(n):
        acc = bias
        base = p + t
        for k in range(k_size):
            acc += taps[k] * buf[base - k]
        y[t] = acc
    pos[0] = p + n
