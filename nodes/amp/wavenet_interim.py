"""The WaveNet block in numpy: what ``amp.nam`` runs while its numba kernel compiles.

Same computation as :func:`.wavenet_kernels.wavenet_block`, on the same state (the
channel-major rings of :class:`.wavenet_kernels.WaveNetProgram` and its position), so a
node can switch from this path to the kernel between any two blocks and carry on where
it was. Each convolution is K copies of dilated ring slices into a gather matrix whose
first row is ones (and, for a layer, whose second row is the input, for the mix-in) and one
``np.matmul`` with the bias (and mix-in) weights as leading columns. numpy buffers a
ufunc whose operands are strided or broadcast (about 16 KB per call), so arithmetic runs
only on contiguous arrays of equal shape (ring slices are copied out and in), and every
result goes into preallocated scratch: a block allocates no arrays, only numpy views and
floats, as the node contract allows.

Differences from the kernel are float32 rounding: the exact tanh is numpy's (the kernel's
rational is within 4e-7 of it), the fast one the same rational as the kernel's, and sums
are associated differently. Speed: numpy's per-call overhead, about ten calls per layer: a
real-time factor of about 0.1 for a standard A1 model at block 256 (the kernel: about 0.03).
"""
from __future__ import annotations

import numpy as np

from .activations import (_F1, _F2, _F3, _F4, _F5, FASTTANH, HARDSWISH, HARDTANH, LEAKY_HARDTANH, LEAKY_RELU,
                          RELU, SIGMOID, SILU, SOFTSIGN, TANH)
from .wavenet_kernels import (A_B, A_C, A_FIRST, A_HEAD_B, A_HEAD_D, A_HEAD_W, A_HEAD_IN, A_HEAD_K, A_HEAD_RING,
                              A_HEAD_SIZE, A_IN, A_NL, A_RECH_W, L_ACT, L_ACTP, L_CONV_B, L_CONV_W, L_D,
                              L_GATE, L_H1_B, L_H1_OUT, L_H1_W, L_HAS_H1, L_HAS_L1, L_K, L_L1_B, L_L1_W,
                              L_MIX_W, L_RING, L_SEC, L_SECP, P_ACT, P_ACTP, P_B, P_CIN, P_COUT, P_K, P_RING,
                              P_W)

#: the numpy path takes blocks up to this size even when the program's are smaller (the
#: prewarm at prepare runs in blocks this long: fewer numpy calls)
PREWARM_BLOCK = 1024

_HALF = np.float32(0.5)
_ONE = np.float32(1.0)


def tanh_into(v, fast: bool, a, b, c) -> None:
    """In place on float32 ``v``: numpy's tanh, or with ``fast`` the reference core's
    ``fast_tanh`` rational (:func:`.activations.tanh_fast`). a, b, c: scratch of v's shape."""
    if not fast:
        np.tanh(v, out=v)
        return
    # x (F1 + F1|x| + (F2 + F3|x|) x^2) / (F4 + (F4 + x^2) |x + F5 x|x||)
    np.abs(v, out=a)
    np.multiply(v, v, out=b)
    np.multiply(a, _F3, out=c)
    c += _F2
    c *= b
    c += _F1
    np.multiply(a, _F1, out=b)
    c += b                      # numerator / x
    np.multiply(v, a, out=b)
    b *= _F5
    b += v
    np.abs(b, out=b)
    np.multiply(v, v, out=a)
    a += _F4
    a *= b
    a += _F4                    # denominator
    v *= c
    v /= a


def activate(v, code: int, params, fast: bool, scratch) -> None:
    """In place on the C-contiguous float32 array ``v`` (any shape), as
    :func:`.activations.apply_activation` with the same ``code``, ``params`` and tanh
    flavour. ``scratch``: four flat float32 buffers of at least v.size."""
    if code == 0:
        return
    v = v.reshape(-1)                  # contiguous: a flat view, and flat scratch views
    size = v.size
    if code in (TANH, FASTTANH):
        if code == FASTTANH or fast:
            tanh_into(v, True, scratch[1][:size], scratch[2][:size], scratch[3][:size])
        else:
            np.tanh(v, out=v)
        return
    s = scratch[0][:size]
    if code in (SIGMOID, SILU) and fast:
        a, b, c = scratch[1][:size], scratch[2][:size], scratch[3][:size]
    else:
        a = b = c = None               # not needed: numpy's tanh
    if code == HARDTANH:
        np.maximum(v, -_ONE, out=v)           # np.clip's wrapper allocates; two ufuncs do not
        np.minimum(v, _ONE, out=v)
    elif code == RELU:
        np.maximum(v, np.float32(0.0), out=v)
    elif code == LEAKY_RELU:            # max(v, 0) + slope * min(v, 0)
        np.minimum(v, np.float32(0.0), out=s)
        s *= params[0]
        np.maximum(v, np.float32(0.0), out=v)
        v += s
    elif code in (SIGMOID, SILU):       # sigmoid = 0.5 + 0.5 tanh(v / 2)
        np.multiply(v, _HALF, out=s)
        tanh_into(s, fast, a, b, c)
        s *= _HALF
        s += _HALF
        if code == SIGMOID:
            v[...] = s
        else:
            v *= s
    elif code == HARDSWISH:             # v * clip(v + 3, 0, 6) / 6
        np.add(v, np.float32(3.0), out=s)
        np.maximum(s, np.float32(0.0), out=s)
        np.minimum(s, np.float32(6.0), out=s)
        s *= np.float32(1.0 / 6.0)
        v *= s
    elif code == LEAKY_HARDTANH:        # slope p2 below p0, p3 above p1, identity between
        lo, hi, s_lo, s_hi = params[0], params[1], params[2], params[3]
        np.minimum(v, lo, out=s)
        s -= lo
        s *= s_lo - _ONE
        v += s
        np.maximum(v, hi, out=s)
        s -= hi
        s *= s_hi - _ONE
        v += s
    elif code == SOFTSIGN:
        np.abs(v, out=s)
        s += _ONE
        v /= s
    else:
        raise ValueError(f"unknown activation code {code}")


class WaveNetInterim:
    """numpy twin of the WaveNet kernel for one :class:`.wavenet_kernels.WaveNetProgram`."""

    def __init__(self, program):
        pr = self.program = program
        w, length = pr.weights, pr.length

        def mat(off, rows, cols):
            return w[off:off + rows * cols].reshape(rows, cols)

        def col(off, rows):
            return w[off:off + rows].reshape(rows, 1)

        def with_bias(bias, *mats):
            """[bias | mats...] float32, C order: the matrix for a gather with a ones row first."""
            return np.ascontiguousarray(np.hstack((bias,) + mats), np.float32)

        def ring(r):
            off, ch = int(pr.rings[r, 0]), int(pr.rings[r, 1])
            return pr.state[off:off + ch * length].reshape(ch, length)

        def act(code, p_off):
            return int(code), tuple(pr.actp[p_off:p_off + 4])     # float32 scalars

        rows_g, rows_z, rows_c = 2, 2, 1
        self.arrays = []
        for a in pr.arrays:
            c, b = int(a[A_C]), int(a[A_B])
            layers = []
            for li in range(int(a[A_NL])):
                lr = pr.layers[int(a[A_FIRST]) + li]
                k, d, gate = int(lr[L_K]), int(lr[L_D]), int(lr[L_GATE])
                zc = 2 * b if gate else b
                h1 = int(lr[L_H1_OUT])
                layers.append(dict(
                    shifts=[d * (k - 1 - j) for j in range(k)], gate=gate, zc=zc, ring=ring(int(lr[L_RING])),
                    conv=with_bias(col(int(lr[L_CONV_B]), zc), col(int(lr[L_MIX_W]), zc),
                                   mat(int(lr[L_CONV_W]), zc, k * c)),
                    act=act(lr[L_ACT], int(lr[L_ACTP])), sec=act(lr[L_SEC], int(lr[L_SECP])),
                    l1=with_bias(col(int(lr[L_L1_B]), c), mat(int(lr[L_L1_W]), c, b)) if lr[L_HAS_L1] else None,
                    h1=with_bias(col(int(lr[L_H1_B]), h1), mat(int(lr[L_H1_W]), h1, b)) if lr[L_HAS_H1] else None))
                rows_g = max(rows_g, 2 + k * c)
                rows_z = max(rows_z, 1 + zc)
                rows_c = max(rows_c, c, zc, h1)
            hk, hin, hsize = int(a[A_HEAD_K]), int(a[A_HEAD_IN]), int(a[A_HEAD_SIZE])
            self.arrays.append(dict(
                c=c, b=b, cin=int(a[A_IN]), rech=np.ascontiguousarray(mat(int(a[A_RECH_W]), c, int(a[A_IN]))),
                layers=layers, head_ring=ring(int(a[A_HEAD_RING])), head_in=hin, head_size=hsize,
                head_shifts=[int(a[A_HEAD_D]) * (hk - 1 - j) for j in range(hk)],
                head=with_bias(col(int(a[A_HEAD_B]), hsize), mat(int(a[A_HEAD_W]), hsize, hk * hin))))
            rows_g = max(rows_g, 1 + hk * hin)
            rows_c = max(rows_c, c, hin, hsize, int(a[A_IN]))
        self.posts = []
        for st in pr.posts:
            k, cin, cout = int(st[P_K]), int(st[P_CIN]), int(st[P_COUT])
            self.posts.append(dict(cin=cin, cout=cout, ring=ring(int(st[P_RING])),
                                   shifts=[k - 1 - j for j in range(k)], act=act(st[P_ACT], int(st[P_ACTP])),
                                   w=with_bias(col(int(st[P_B]), cout), mat(int(st[P_W]), cout, k * cin))))
            rows_g = max(rows_g, 1 + k * cin)
            rows_c = max(rows_c, cin, cout)
        mb = self.max_block = max(pr.max_block, PREWARM_BLOCK)

        def buf(rows):
            return np.zeros(rows * mb, np.float32)

        # scratch, flat, viewed as [rows, n] per block: g gather (row 0 ones), z conv out (row 0
        # ones, so [1; activated] feeds the 1x1s with their biases), t the layer's input and
        # output, m a 1x1's product, acc the head accumulator, ho a head output, a2 a copy
        self.g, self.z = buf(rows_g), buf(rows_z)
        self.t, self.m, self.acc, self.ho, self.a2 = (buf(rows_c) for _ in range(5))
        #: activation temporaries (:func:`activate`)
        self.scratch = [buf(rows_c) for _ in range(4)]

    def _rewind(self, n: int) -> None:
        pr = self.program
        p = int(pr.pos[0])
        if p + n <= pr.length:
            return
        h = pr.h_max
        for r in range(pr.rings.shape[0]):
            off, ch, hist = (int(v) for v in pr.rings[r])
            if hist:
                rv = pr.state[off:off + ch * pr.length].reshape(ch, pr.length)
                rv[:, h - hist:h] = rv[:, p - hist:p]
        pr.pos[0] = h

    def _gather(self, ring, shifts, lead, p, n):
        """[lead + K*C, n] view of the gather scratch: row 0 ones, then (``lead`` 2) a row
        left to the caller, then the dilated taps ring[c, p - shift_k + t] per tap k."""
        rows = ring.shape[0]
        g = self.g[:(lead + len(shifts) * rows) * n].reshape(lead + len(shifts) * rows, n)
        g[0].fill(1.0)
        for k, s in enumerate(shifts):
            g[lead + k * rows:lead + (k + 1) * rows] = ring[:, p - s:p - s + n]
        return g

    def process(self, x: np.ndarray, y: np.ndarray, fast: bool = False) -> None:
        """x: float32 [n] -> y: float32 [n]; advances the program's state like the kernel
        (``fast``: the tanh flavour, as the kernel's)."""
        pr = self.program
        sc = self.scratch
        n = x.shape[0]
        self._rewind(n)
        p = int(pr.pos[0])
        src = x.reshape(1, n)
        ho = None
        for ai, a in enumerate(self.arrays):
            c, b = a["c"], a["b"]
            t = self.t[:c * n].reshape(c, n)
            np.matmul(a["rech"], src, out=t)
            acc = self.acc[:a["head_in"] * n].reshape(a["head_in"], n)
            if ai == 0:
                acc.fill(0.0)
            else:
                acc[...] = ho
            for li, lay in enumerate(a["layers"]):
                lay["ring"][:, p:p + n] = t
                zc = lay["zc"]
                g = self._gather(lay["ring"], lay["shifts"], 2, p, n)
                g[1] = x
                z1 = self.z[:(1 + zc) * n].reshape(1 + zc, n)       # [ones; conv + bias + mix-in]
                z1[0].fill(1.0)
                z = z1[1:]
                np.matmul(lay["conv"], g, out=z)
                top = z[:b]
                if lay["gate"] == 0:
                    activate(top, *lay["act"], fast, sc)
                else:
                    activate(z[b:], *lay["sec"], fast, sc)
                    if lay["gate"] == 1:
                        activate(top, *lay["act"], fast, sc)
                        top *= z[b:]
                    else:           # blended: raw + alpha * (act(raw) - raw)
                        raw = self.a2[:b * n].reshape(b, n)
                        raw[...] = top
                        activate(top, *lay["act"], fast, sc)
                        top -= raw
                        top *= z[b:]
                        top += raw
                if lay["l1"] is not None:                           # residual: t += l1 [1; top]
                    m = self.m[:c * n].reshape(c, n)
                    np.matmul(lay["l1"], z1[:b + 1], out=m)
                    t += m
                if lay["h1"] is not None:
                    rows = lay["h1"].shape[0]
                    m = self.m[:rows * n].reshape(rows, n)
                    np.matmul(lay["h1"], z1[:b + 1], out=m)
                    acc[:rows] += m
                else:
                    acc[:b] += top
            src = self.a2[:c * n].reshape(c, n)     # the next array's input (t is its rechannel out)
            src[...] = t
            a["head_ring"][:, p:p + n] = acc
            g = self._gather(a["head_ring"], a["head_shifts"], 1, p, n)
            ho = self.ho[:a["head_size"] * n].reshape(a["head_size"], n)
            np.matmul(a["head"], g, out=ho)
        ho *= pr.head_scale
        for st in self.posts:
            activate(ho, *st["act"], fast, sc)
            st["ring"][:, p:p + n] = ho
            g = self._gather(st["ring"], st["shifts"], 1, p, n)
            ho = self.ho[:st["cout"] * n].reshape(st["cout"], n)
            np.matmul(st["w"], g, out=ho)
        y[:] = ho[0]
        pr.pos[0] = p + n
