"""Streaming WaveNet (NAM layout) as block-wise small GEMMs in one numba call per block.

Every convolution keeps the history of its input in a channel-major ring buffer
``[channels, L]`` (time contiguous): the current block lives at columns ``[pos, pos+n)``
and the ``hist = dilation * (K - 1)`` samples before it are the history. A conv gathers
its K dilated taps into one ``[K*C_in, n]`` matrix and runs a single contraction with the
folded weights ``[C_out, K*C_in]`` (column ``k*C_in + c``). When a ring fills up, the
last ``hist`` columns of each ring move to the front (every ``L - H_max`` samples).

The model is flattened into: ``weights`` float32 (folded matrices and biases),
``prog`` int64 (per array / per layer records of offsets and sizes, see ``A_*``/``L_*``),
``actp`` float32 activation params, ``rings`` int64 ``[n_rings, 3]`` (state offset,
channels, hist) and one flat ``state`` float32.
"""
from __future__ import annotations

import numba
import numpy as np
from neuropatch.engine.jit import njit

from .activations import apply_activation, sigmoid_mode
from .nam_format import WaveNetSpec

# per layer-array record
A_IN, A_C, A_B, A_HEAD_IN, A_HEAD_SIZE, A_HEAD_K, A_HEAD_D, A_NL, A_FIRST, A_RECH_W, A_HEAD_W, A_HEAD_B, \
    A_HEAD_RING, A_REC = range(14)
# per layer record
L_K, L_D, L_GATE, L_ACT, L_ACTP, L_SEC, L_SECP, L_HAS_L1, L_HAS_H1, L_H1_OUT, L_CONV_W, L_CONV_B, L_MIX_W, \
    L_L1_W, L_L1_B, L_H1_W, L_H1_B, L_RING, L_REC = range(19)
# per post-head stage record
P_ACT, P_ACTP, P_K, P_CIN, P_COUT, P_W, P_B, P_RING, P_REC = range(9)


class WaveNetProgram:
    """Flattened model plus preallocated state for blocks of up to ``max_block`` samples."""

    def __init__(self, spec: WaveNetSpec, max_block: int):
        self.max_block = int(max_block)
        weights: list = []
        offset = [0]

        def put(arr) -> int:
            arr = np.ascontiguousarray(arr, np.float32).ravel()
            start = offset[0]
            weights.append(arr)
            offset[0] += arr.size
            return start

        actp: list = []

        def put_act(act) -> int:
            actp.append(np.asarray(act.params, np.float32))
            return 4 * (len(actp) - 1)

        rings: list = []   # (channels, hist)

        def ring(channels, hist) -> int:
            rings.append((channels, hist))
            return len(rings) - 1

        def fold(w):  # [out, in, K] -> [out, K*in], column k*in + c
            return np.transpose(w, (0, 2, 1)).reshape(w.shape[0], -1)

        arrays, layers, posts = [], [], []
        max_kc, max_z, max_c = 1, 1, 1
        for a in spec.arrays:
            rec = np.zeros(A_REC, np.int64)
            rec[A_IN], rec[A_C], rec[A_B] = a.input_size, a.channels, a.bottleneck
            rec[A_HEAD_IN], rec[A_HEAD_SIZE] = a.head_in, a.head_size
            rec[A_HEAD_K], rec[A_HEAD_D] = a.head_w.shape[2], a.head_dilation
            rec[A_NL], rec[A_FIRST] = len(a.layers), len(layers)
            rec[A_RECH_W] = put(a.rechannel_w)
            rec[A_HEAD_W], rec[A_HEAD_B] = put(fold(a.head_w)), put(a.head_b)
            for layer in a.layers:
                r = np.zeros(L_REC, np.int64)
                r[L_K], r[L_D], r[L_GATE] = layer.kernel_size, layer.dilation, layer.gating
                r[L_ACT], r[L_ACTP] = layer.activation.code, put_act(layer.activation)
                r[L_SEC], r[L_SECP] = layer.secondary.code, put_act(layer.secondary)
                r[L_HAS_L1], r[L_HAS_H1] = layer.l1_w is not None, layer.h1_w is not None
                r[L_H1_OUT] = 0 if layer.h1_w is None else layer.h1_w.shape[0]
                r[L_CONV_W], r[L_CONV_B] = put(fold(layer.conv_w)), put(layer.conv_b)
                r[L_MIX_W] = put(layer.mixin_w)
                if layer.l1_w is not None:
                    r[L_L1_W], r[L_L1_B] = put(layer.l1_w), put(layer.l1_b)
                if layer.h1_w is not None:
                    r[L_H1_W], r[L_H1_B] = put(layer.h1_w), put(layer.h1_b)
                r[L_RING] = ring(a.channels, layer.dilation * (layer.kernel_size - 1))
                layers.append(r)
                max_kc = max(max_kc, layer.kernel_size * a.channels)
                max_z = max(max_z, layer.conv_w.shape[0], r[L_H1_OUT])
            rec[A_HEAD_RING] = ring(a.head_in, a.head_dilation * (a.head_w.shape[2] - 1))
            max_kc = max(max_kc, a.head_in * a.head_w.shape[2])
            max_c = max(max_c, a.channels, a.head_size, a.head_in, a.input_size)
            arrays.append(rec)
        for stage in spec.post_head:
            p = np.zeros(P_REC, np.int64)
            p[P_ACT], p[P_ACTP] = stage.activation.code, put_act(stage.activation)
            cout, cin, k = stage.w.shape
            p[P_K], p[P_CIN], p[P_COUT] = k, cin, cout
            p[P_W], p[P_B] = put(fold(stage.w)), put(stage.b)
            p[P_RING] = ring(cin, k - 1)
            max_kc = max(max_kc, k * cin)
            max_c = max(max_c, cin, cout)
            posts.append(p)
        self.weights = np.concatenate(weights) if weights else np.zeros(1, np.float32)
        self.arrays = np.stack(arrays)
        self.layers = np.stack(layers)
        self.posts = np.stack(posts) if posts else np.zeros((0, P_REC), np.int64)
        self.actp = np.concatenate(actp) if actp else np.zeros(4, np.float32)
        self.head_scale = np.float32(spec.head_scale)
        self.h_max = max(h for _, h in rings)
        self.length = self.h_max + max(4096, 2 * self.max_block)
        ring_tab = np.zeros((len(rings), 3), np.int64)
        off = 0
        for i, (ch, hist) in enumerate(rings):
            ring_tab[i] = (off, ch, hist)
            off += ch * self.length
        self.rings = ring_tab
        self.state = np.zeros(off, np.float32)
        b = self.max_block
        # scratch: gather G, Z, T (residual / 1x1 out), H (head1x1 out), IN (array input), HO (head out)
        self.scratch_g = np.zeros(max_kc * b, np.float32)
        self.scratch_z = np.zeros(max_z * b, np.float32)
        self.scratch_t = np.zeros(max(max_c, max_z) * b, np.float32)
        self.scratch_h = np.zeros(max(max_c, max_z) * b, np.float32)
        self.scratch_in = np.zeros(max_c * b, np.float32)
        self.scratch_ho = np.zeros(max_c * b, np.float32)
        self.pos = np.zeros(1, np.int64)
        self.receptive_field = spec.receptive_field
        #: what every kernel call passes after (x, y, n) and before ``fast``
        self._model_args = (self.weights, self.arrays, self.layers, self.posts, self.actp, self.rings,
                            self.state, self.length, self.pos, self.head_scale, self.scratch_g,
                            self.scratch_z, self.scratch_t, self.scratch_h, self.scratch_in, self.scratch_ho)
        from .wavenet_interim import WaveNetInterim

        #: the numpy twin on the same state; :attr:`interim` routes :meth:`process` to it
        self.numpy_path = WaveNetInterim(self)
        self.interim = False
        self._silent_state = self._prewarmed_state()

    def _prewarmed_state(self) -> np.ndarray:
        """The state after silence: rings cleared, then the receptive field of zeros run
        through the model (the reference core's prewarm), so biases settle exactly as in a
        model that has heard only silence. Run once, by the numpy path (no kernel compile
        needed to prepare), and kept for :meth:`reset`."""
        self.state.fill(0.0)
        self.pos[0] = self.h_max
        block = self.numpy_path.max_block       # at least 1024 samples (PREWARM_BLOCK)
        zeros = np.zeros(block, np.float32)
        sink = np.zeros(block, np.float32)
        remaining = self.receptive_field + 1
        while remaining > 0:
            n = min(block, remaining)
            self.numpy_path.process(zeros[:n], sink[:n])
            remaining -= n
        self._silent_pos = int(self.pos[0])
        return self.state.copy()

    def reset(self) -> None:
        """Back to the prewarmed silent state (a copy, no allocation)."""
        self.state[:] = self._silent_state
        self.pos[0] = self._silent_pos

    @staticmethod
    def kernel_loaded() -> bool:
        """Whether this process has the block kernel compiled or loaded from the cache."""
        return bool(wavenet_block.signatures)

    def process(self, x: np.ndarray, y: np.ndarray, fast: bool) -> None:
        """x: float32 [n] (n <= max_block) -> y: float32 [n]; advances the streaming state.
        With :attr:`interim` set, the numpy path runs instead of the kernel."""
        if self.interim:
            self.numpy_path.process(x, y, fast)
            return
        wavenet_block(x, y, x.shape[0], *self._model_args, fast)

    def compile_kernel(self) -> None:
        """Compile (or load from the cache) the block kernel for this program's argument
        types without running it: the state is untouched."""
        x = np.zeros(1, np.float32)       # process() gets contiguous float32 blocks
        args = (x, x, x.shape[0], *self._model_args, False)
        wavenet_block.compile(tuple(numba.typeof(a) for a in args))


# ---- kernels ---------------------------------------------------------------------------------
# Offsets into the flat buffers are unsigned (``_u``): numba adds a negative-index fix-up to
# every signed index it cannot prove non-negative, and that select turns contiguous vector
# loads and stores into gathers and scatters.

_u = np.uint64


@njit(cache=True, fastmath=False, error_model="numpy")
def _rewind(state, rings, length, pos, n):
    """Move each ring's history to the front when the block would run past the end."""
    p = pos[0]
    if p + n <= length:
        return
    h_max = 0
    for r in range(rings.shape[0]):
        h_max = max(h_max, rings[r, 2])
    for r in range(rings.shape[0]):
        off, ch, hist = _u(rings[r, 0]), rings[r, 1], _u(rings[r, 2])
        for c in range(ch):
            base = off + _u(c) * _u(length)
            dst = base + _u(h_max) - hist
            src = base + _u(p) - hist
            for t in range(hist):
                state[dst + t] = state[src + t]
    pos[0] = h_max


@njit(cache=True, fastmath=False, error_model="numpy")
def _gather(state, ring_off, channels, length, p, k_size, dilation, g, n):
    """Taps of a dilated causal conv: g[(k*C + c)*n + t] = ring[c, p + t - d*(K-1-k)]."""
    nn = _u(n)
    for k in range(k_size):
        shift = _u(dilation * (k_size - 1 - k))
        for c in range(channels):
            src = _u(ring_off) + _u(c) * _u(length) + _u(p) - shift
            dst = _u(k * channels + c) * nn
            for t in range(nn):
                g[dst + t] = state[src + t]


@njit(cache=True, fastmath=False, error_model="numpy")
def _matmul(weights, w_off, rows, cols, src, n, out):
    """out[:rows*n] = W[rows, cols] @ src[cols, n] (flat, contiguous)."""
    a = weights[w_off:w_off + rows * cols].reshape((rows, cols))
    b = src[:cols * n].reshape((cols, n))
    o = out[:rows * n].reshape((rows, n))
    np.dot(a, b, o)


@njit(cache=True, fastmath=False, error_model="numpy")
def _add_bias(weights, b_off, rows, out, n):
    nn = _u(n)
    for r in range(rows):
        bv = weights[b_off + r]
        o = _u(r) * nn
        for t in range(nn):
            out[o + t] += bv


@njit(cache=True, fastmath=False, error_model="numpy")
def _to_ring(state, ring_off, length, p, src, rows, n):
    """ring[c, p:p+n] = src[c*n : (c+1)*n] for c < rows."""
    nn = _u(n)
    for c in range(rows):
        d = _u(ring_off) + _u(c) * _u(length) + _u(p)
        s = _u(c) * nn
        for t in range(nn):
            state[d + t] = src[s + t]


@njit(cache=True, fastmath=False, error_model="numpy")
def wavenet_block(x, y, n, weights, arrays, layers, posts, actp, rings, state, length, pos, head_scale,
                  g, z, tbuf, hbuf, inbuf, ho, fast):
    """One block of the WaveNet. x, y: float32 [n]; everything else as built by WaveNetProgram."""
    _rewind(state, rings, length, pos, n)
    p = pos[0]
    nn = _u(n)
    pu = _u(p)
    lu = _u(length)
    n_arrays = arrays.shape[0]
    for i in range(nn):
        inbuf[i] = x[i]
    for ai in range(n_arrays):
        a = arrays[ai]
        c_ch, b_ch = a[A_C], a[A_B]
        head_in = a[A_HEAD_IN]
        head_ring = _u(rings[a[A_HEAD_RING], 0])
        # rechannel: array input [in, n] -> first layer's ring
        _matmul(weights, a[A_RECH_W], c_ch, a[A_IN], inbuf, n, tbuf)
        _to_ring(state, rings[layers[a[A_FIRST], L_RING], 0], length, p, tbuf, c_ch, n)
        # head accumulator: zero (first array) or the previous array's head output
        for c in range(head_in):
            base = head_ring + _u(c) * lu + pu
            if ai == 0:
                for t in range(nn):
                    state[base + t] = 0.0
            else:
                src = _u(c) * nn
                for t in range(nn):
                    state[base + t] = ho[src + t]
        for li in range(a[A_NL]):
            lr = layers[a[A_FIRST] + li]
            k_size, dil, gate = lr[L_K], lr[L_D], lr[L_GATE]
            zc = 2 * b_ch if gate != 0 else b_ch
            bz = _u(b_ch) * nn
            ring = _u(rings[lr[L_RING], 0])
            # dilated conv as one contraction over all taps
            _gather(state, ring, c_ch, length, p, k_size, dil, g, n)
            _matmul(weights, lr[L_CONV_W], zc, k_size * c_ch, g, n, z)
            # bias + input mixin (condition = the model input, mono)
            mix = lr[L_MIX_W]
            for r in range(zc):
                bv = weights[lr[L_CONV_B] + r]
                mv = weights[mix + r]
                o = _u(r) * nn
                for t in range(nn):
                    z[o + t] += bv + mv * x[t]
            # activation / gating into z[:B]
            if gate == 0:
                apply_activation(z, b_ch * n, lr[L_ACT], actp[lr[L_ACTP]:lr[L_ACTP] + 4], fast)
            else:
                secp = actp[lr[L_SECP]:lr[L_SECP] + 4]
                apply_activation(z[b_ch * n:], b_ch * n, lr[L_SEC], secp, fast)
                if gate == 1:
                    apply_activation(z, b_ch * n, lr[L_ACT], actp[lr[L_ACTP]:lr[L_ACTP] + 4], fast)
                    for i in range(bz):
                        z[i] *= z[bz + i]
                else:
                    for i in range(bz):
                        hbuf[i] = z[i]
                    apply_activation(z, b_ch * n, lr[L_ACT], actp[lr[L_ACTP]:lr[L_ACTP] + 4], fast)
                    for i in range(bz):
                        alpha = z[bz + i]
                        z[i] = alpha * z[i] + (np.float32(1.0) - alpha) * hbuf[i]
            # residual: next input = input (+ layer1x1(z))
            if lr[L_HAS_L1]:
                _matmul(weights, lr[L_L1_W], c_ch, b_ch, z, n, tbuf)
                l1b = lr[L_L1_B]
                for c in range(c_ch):
                    src = ring + _u(c) * lu + pu
                    o = _u(c) * nn
                    bv = weights[l1b + c]
                    for t in range(nn):
                        tbuf[o + t] = (tbuf[o + t] + bv) + state[src + t]
            else:
                for c in range(c_ch):
                    src = ring + _u(c) * lu + pu
                    o = _u(c) * nn
                    for t in range(nn):
                        tbuf[o + t] = state[src + t]
            if li + 1 < a[A_NL]:
                _to_ring(state, rings[layers[a[A_FIRST] + li + 1, L_RING], 0], length, p, tbuf, c_ch, n)
            else:
                for i in range(_u(c_ch) * nn):
                    inbuf[i] = tbuf[i]
            # skip to the head
            if lr[L_HAS_H1]:
                h1 = lr[L_H1_OUT]
                _matmul(weights, lr[L_H1_W], h1, b_ch, z, n, hbuf)
                _add_bias(weights, lr[L_H1_B], h1, hbuf, n)
                skip, rows = hbuf, h1
            else:
                skip, rows = z, b_ch
            for c in range(rows):
                base = head_ring + _u(c) * lu + pu
                o = _u(c) * nn
                for t in range(nn):
                    state[base + t] += skip[o + t]
        # head rechannel (causal conv, kernel A_HEAD_K, dilation A_HEAD_D)
        _gather(state, head_ring, head_in, length, p, a[A_HEAD_K], a[A_HEAD_D], g, n)
        _matmul(weights, a[A_HEAD_W], a[A_HEAD_SIZE], a[A_HEAD_K] * head_in, g, n, ho)
        _add_bias(weights, a[A_HEAD_B], a[A_HEAD_SIZE], ho, n)
    # output: head_scale * head, or through the post-stack head
    if posts.shape[0] == 0:
        for t in range(nn):
            y[t] = head_scale * ho[t]
    else:
        for i in range(_u(arrays[n_arrays - 1, A_HEAD_SIZE]) * nn):
            ho[i] *= head_scale
        for si in range(posts.shape[0]):
            st = posts[si]
            cin, cout = st[P_CIN], st[P_COUT]
            apply_activation(ho, cin * n, st[P_ACT], actp[st[P_ACTP]:st[P_ACTP] + 4], fast)
            _to_ring(state, rings[st[P_RING], 0], length, p, ho, cin, n)
            # argument types as at the other call sites: one compiled signature of _gather
            _gather(state, _u(rings[st[P_RING], 0]), cin, length, p, st[P_K], np.int64(1), g, n)
            _matmul(weights, st[P_W], cout, st[P_K] * cin, g, n, ho)
            _add_bias(weights, st[P_B], cout, ho, n)
        for t in range(nn):
            y[t] = ho[t]
    pos[0] = p + n
