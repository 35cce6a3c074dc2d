"""Streaming LSTM (NAM and GuitarML layouts) and the NAM ``Linear`` FIR, per sample in numba.

The gate matrix is stored transposed, ``wt [in+H, 4H]``, so the gate product runs as
``ifgo[:] += wt[j, :] * xh[j]``: the innermost loop walks 4H contiguous floats and
vectorises. Gate rows are i, f, g, o (PyTorch order); ``c = f*c + i*g``, ``h = o*tanh(c)``.
"""
from __future__ import annotations

import numpy as np
from numba import carray, types
from numba.core import cgutils
from numba.extending import intrinsic

from neuropatch.engine.jit import njit

from .activations import tanh_exact, tanh_fast
from .nam_format import LinearSpec, LSTMSpec


class LSTMProgram:
    """Flattened stacked LSTM with its state.

    Layer l owns ``rows = in_max + H`` rows of ``4H`` gate weights in the flat ``wt``
    (row-major ``[L, rows, 4H]``, rows past the layer's input size are zero), ``b [L*4H]`` and
    the step vector ``xh [L, rows]`` whose first ``in_size[l]`` entries are the layer input
    and the next ``H`` entries its hidden state ``h``; cell states ``c [L*H]``."""

    def __init__(self, spec: LSTMSpec):
        n_layers, hidden = len(spec.layers), spec.hidden_size
        self.hidden = hidden
        self.n_layers = n_layers
        self.in_size = np.array([spec.input_size if i == 0 else hidden for i in range(n_layers)], np.int64)
        rows = max(spec.input_size, hidden) + hidden
        self.rows = rows
        wt = np.zeros((n_layers, rows, 4 * hidden), np.float32)
        b = np.zeros((n_layers, 4 * hidden), np.float32)
        self.h0 = np.zeros((n_layers, hidden), np.float32)
        self.c0 = np.zeros((n_layers, hidden), np.float32)
        for i, (w, bias, h0, c0) in enumerate(spec.layers):
            nin = int(self.in_size[i])
            wt[i, :nin] = w[:, :nin].T
            wt[i, nin:nin + hidden] = w[:, nin:].T
            b[i], self.h0[i], self.c0[i] = bias, h0, c0
        self.wt = wt.ravel()
        self.b = b.ravel()
        self.head_w = np.ascontiguousarray(spec.head_w[0], np.float32)
        self.head_b = np.float32(spec.head_b[0])
        self.skip = bool(spec.skip)
        self.prewarm_samples = int(spec.prewarm_samples)
        self.xh = np.zeros(n_layers * rows, np.float32)
        self.c = np.zeros(n_layers * hidden, np.float32)
        self.ifgo = np.zeros(4 * hidden, np.float32)
        self._block = lstm_block_for(hidden)
        self._zeros = np.zeros(4096, np.float32)
        self._sink = np.zeros(4096, np.float32)

    @property
    def h(self) -> np.ndarray:
        """Hidden states, a copy ``[L, H]``."""
        return np.stack([self.xh[l * self.rows + self.in_size[l]:][:self.hidden] for l in range(self.n_layers)])

    def reset(self) -> None:
        """The file's initial state, then the reference core's prewarm silence (NAM: half a
        second at the model rate; GuitarML: none, the state starts at zero).

        The prewarm runs the kernel. When this process has not compiled it yet (a node's
        prepare on a cold start), the prewarm waits for the first :meth:`process` call, so
        prepare compiles nothing and a cold warm-up can compile this kernel in a child
        process alongside other nodes' (engine/warm_parallel.py); the output is the same."""
        self.xh.fill(0.0)
        for l in range(self.n_layers):
            s = l * self.rows + int(self.in_size[l])
            self.xh[s:s + self.hidden] = self.h0[l]
        self.c[:] = self.c0.ravel()
        self._prewarm_due = self.prewarm_samples > 0
        if self._prewarm_due and self._block.signatures:
            self._prewarm()

    def _prewarm(self) -> None:
        self._prewarm_due = False
        remaining = self.prewarm_samples
        while remaining > 0:
            n = min(remaining, self._zeros.size)
            self._run(self._zeros[:n], self._sink[:n], False)
            remaining -= n

    def process(self, x: np.ndarray, y: np.ndarray, fast: bool) -> None:
        """x: float32 [n] -> y: float32 [n]."""
        if self._prewarm_due:
            self._prewarm()
        self._run(x, y, fast)

    def _run(self, x, y, fast) -> None:
        self._block(x, y, x.shape[0], self.wt, self.b, self.in_size, self.n_layers, self.hidden,
                    self.rows, self.xh, self.c, self.head_w, self.head_b, self.ifgo, self.skip, fast)


#: widest gate vector (4H) kept in vector registers by :func:`lstm_block_for`: 16 zmm of float32
MAX_REGISTER_GATES = 256


@intrinsic
def _stack_f32(typingctx, size):
    """A float32 pointer to ``size`` (a compile-time constant) floats on the stack: scratch
    that provably aliases no argument array, so LLVM may keep it in registers."""
    if not isinstance(size, types.IntegerLiteral):
        return None
    n = size.literal_value

    def codegen(context, builder, sig, args):
        return cgutils.alloca_once(builder, context.get_value_type(types.float32), size=n)

    return types.CPointer(types.float32)(size), codegen


@njit(cache=True, fastmath={"contract"}, error_model="numpy", inline="always")
def _cell_update(ifgo, c, xh, hid, co, ho, tanh):
    """One loop over the H units of a layer: gates from ``ifgo`` (i, f, g, o; sigmoid as
    0.5 + 0.5 tanh(x / 2)), ``c[co + k] = f*c + i*g`` and ``xh[ho + k] = o*tanh(c)``, with
    ``tanh`` the exact or the fast flavour (each call site compiles its own loop)."""
    half = np.float32(0.5)
    g2, g3 = np.uint64(2) * hid, np.uint64(3) * hid
    for k in range(hid):
        ig = half + half * tanh(half * ifgo[k])
        fg = half + half * tanh(half * ifgo[hid + k])
        gg = tanh(ifgo[g2 + k])
        og = half + half * tanh(half * ifgo[g3 + k])
        cv = fg * c[co + k] + ig * gg
        c[co + k] = cv
        xh[ho + k] = og * tanh(cv)


def _make_lstm_block(G4: int):
    """The LSTM block kernel; ``G4`` = 4H fixed at compile time (0: any H)."""
    SCRATCH = max(G4, 1)

    @njit(cache=True, fastmath={"contract"}, error_model="numpy")
    def kernel(x, y, n, wt, b, in_size, n_layers, hidden, rows, xh, c, head_w, head_b, ifgo, skip, fast):
        """Run n samples (all arrays flat float32, layout as in :class:`LSTMProgram`).

        Per step and layer: ``ifgo = b + sum_j xh[j] * wt[j, :]`` (rows in order, the inner
        loop over 4H contiguous gates), then one loop over the H units computes the four gate
        activations, ``c = f*c + i*g`` and ``h = o*tanh(c)`` (written into ``xh`` of this
        layer and of the next). Offsets are unsigned so that numba emits no negative-index
        fix-up (which would turn contiguous loads into gathers); multiply-adds may fuse (FMA).

        With a fixed width (``G4`` > 0) the gate sums accumulate in stack scratch of that
        many floats: LLVM unrolls the gate loop and keeps all 4H sums in vector registers
        across the rows (loads of weights only). With ``G4`` = 0 they accumulate in
        ``ifgo``, which may alias the weights as far as LLVM knows, so every group of four
        rows loads and stores the sums. Both add the rows in the same order."""
        g4 = np.uint64(4 * hidden)
        hid = np.uint64(hidden)
        one, two, three, four = np.uint64(1), np.uint64(2), np.uint64(3), np.uint64(4)
        nrows = np.uint64(rows)
        if G4 > 0:
            acc = carray(_stack_f32(SCRATCH), SCRATCH)
        for t in range(n):
            xh[0] = x[t]
            for li in range(n_layers):
                layer = np.uint64(li)
                nin = np.uint64(in_size[li])
                xo = layer * nrows
                wo = layer * nrows * g4
                bo = layer * g4
                m = nin + hid
                if G4 > 0:
                    for r in range(G4):
                        acc[r] = b[bo + np.uint64(r)]
                    for j in range(m):
                        v = xh[xo + np.uint64(j)]
                        w0 = wo + np.uint64(j) * g4
                        for r in range(G4):
                            acc[r] += wt[w0 + np.uint64(r)] * v
                    for r in range(G4):
                        ifgo[r] = acc[r]
                else:
                    j = np.uint64(0)
                    if m >= four:  # the first four rows start from the bias (no separate init pass)
                        v0, v1, v2, v3 = xh[xo], xh[xo + one], xh[xo + two], xh[xo + three]
                        w1 = wo + g4
                        w2 = w1 + g4
                        w3 = w2 + g4
                        for r in range(g4):
                            a = b[bo + r]
                            a += wt[wo + r] * v0
                            a += wt[w1 + r] * v1
                            a += wt[w2 + r] * v2
                            a += wt[w3 + r] * v3
                            ifgo[r] = a
                        j = four
                    else:
                        for r in range(g4):
                            ifgo[r] = b[bo + r]
                    while j + four <= m:
                        v0, v1, v2, v3 = xh[xo + j], xh[xo + j + one], xh[xo + j + two], xh[xo + j + three]
                        w0 = wo + j * g4
                        w1 = w0 + g4
                        w2 = w1 + g4
                        w3 = w2 + g4
                        for r in range(g4):
                            a = ifgo[r]
                            a += wt[w0 + r] * v0
                            a += wt[w1 + r] * v1
                            a += wt[w2 + r] * v2
                            a += wt[w3 + r] * v3
                            ifgo[r] = a
                        j += four
                    while j < m:
                        v0 = xh[xo + j]
                        w0 = wo + j * g4
                        for r in range(g4):
                            ifgo[r] += wt[w0 + r] * v0
                        j += one
                co = layer * hid
                ho = xo + nin
                if fast:
                    _cell_update(ifgo, c, xh, hid, co, ho, tanh_fast)
                else:
                    _cell_update(ifgo, c, xh, hid, co, ho, tanh_exact)
                if li + 1 < n_layers:
                    nxt = (layer + one) * nrows
                    for k in range(hid):
                        xh[nxt + k] = xh[ho + k]
            last = np.uint64(n_layers - 1) * nrows + np.uint64(in_size[n_layers - 1])
            s = head_b
            for k in range(hid):
                s += head_w[k] * xh[last + k]
            if skip:
                s += x[t]
            y[t] = s

    return kernel


lstm_block = _make_lstm_block(0)
_FIXED_BLOCKS: dict = {}


def lstm_block_for(hidden: int):
    """The block kernel for hidden size ``hidden``: compiled for that gate width (sums in
    registers) when 4H <= MAX_REGISTER_GATES, else the any-width :data:`lstm_block`. Each
    width is its own cached kernel, compiled on first use."""
    g4 = 4 * int(hidden)
    if g4 > MAX_REGISTER_GATES:
        return lstm_block
    if g4 not in _FIXED_BLOCKS:
        _FIXED_BLOCKS[g4] = _make_lstm_block(g4)
    return _FIXED_BLOCKS[g4]


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


@njit(cache=True, fastmath=False, error_model="numpy")
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
