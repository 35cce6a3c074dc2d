"""Real FFT kernels in numba, shared by the spectral nodes and fx.ir convolution.

A real transform of length ``n_fft`` (a power of two, >= 4) packs the signal into a
complex sequence of half length m = n_fft // 2 (even samples real, odd samples
imaginary), runs a Stockham FFT on it and untangles the halves. The complex FFT uses
radix-4 stages (half the passes over memory of radix 2, a quarter fewer twiddle
products) and one radix-2 stage when log2(m) is odd. Stockham is out of place between
the two halves of the scratch buffer, needs no bit reversal, and its inner loops run
over contiguous memory, so they vectorise.

Precision follows the arrays: a float64 plan and scratch give double-precision
transforms, float32 ones single precision.

Plan (from :func:`make_plan`): float [4, 2 * n_fft], rows

- 0, 1: real and imaginary radix-4 twiddles. The stage whose sub-sequences have 4q
  points reads w^(k p) = exp(-2 pi i k p / (4q)) for p < q at column k*m + q + p
  (k = 1, 2, 3), so its inner loop reads them contiguously;
- 2, 3: half untangling twiddles 0.5 * exp(-2 pi i k / n_fft) for k <= m in columns
  [0, m]. Column 0 is 0.5 in the plan's own precision, which the kernels use for their
  halvings (a float64 literal would promote float32 arithmetic and stop it vectorising).

Work (from :func:`make_work`): float [2, n_fft] scratch (real and imaginary rows).

Compile cost: :func:`rfft`, :func:`rfft_packed` and :func:`irfft` are inlined into the
kernels that call them (numba ``inline="always"``; every caller is ``fastmath=False`` like
them, so the arithmetic is the same). numba links a called kernel's machine code into each
caller and compiles it again there, so every wrapper level would add another compile of the
complex FFT; inlined, a calling kernel compiles it once.
"""
from __future__ import annotations

import numpy as np
from neuropatch.engine.jit import njit


def is_power_of_two(n: int) -> bool:
    return n >= 2 and (n & (n - 1)) == 0


def make_plan(n_fft: int, dtype=np.float64) -> np.ndarray:
    """Tables for :func:`rfft` / :func:`irfft` of length n_fft: float [4, 2 * n_fft]."""
    if not is_power_of_two(n_fft) or n_fft < 4:
        raise ValueError(f"n_fft must be a power of two >= 4, got {n_fft}")
    m = n_fft // 2
    plan = np.zeros((4, 2 * n_fft), np.float64)
    q = m // 4
    while q >= 1:
        p = np.arange(q)
        for k in (1, 2, 3):
            angle = -2.0 * np.pi * k * p / (4 * q)
            plan[0, k * m + q + p] = np.cos(angle)
            plan[1, k * m + q + p] = np.sin(angle)
        q //= 4
    k = np.arange(m + 1)
    plan[2, :m + 1] = 0.5 * np.cos(2.0 * np.pi * k / n_fft)
    plan[3, :m + 1] = -0.5 * np.sin(2.0 * np.pi * k / n_fft)
    return plan.astype(dtype)


def make_work(n_fft: int, dtype=np.float64) -> np.ndarray:
    """Scratch for :func:`rfft` / :func:`irfft`: zeroed float [2, n_fft]."""
    return np.zeros((2, n_fft), dtype)


# ---- complex FFT (Stockham autosort) -------------------------------------------------------


# A plain call, not inlined by numba: LLVM inlines it into each loop anyway (same code, same
# speed), while numba's own inlining typed and lowered the five call sites' copies one by one
# (the radix-4 stage's compile: about 1.7 -> 1.45 s).
@njit(cache=True, fastmath=True)
def _butterfly4(ar, ai, br, bi, cr, ci, xr, xi, w1r, w1i, w2r, w2i, w3r, w3i):
    """4-point DFT of (a, b, c, x), output r times w_r (w_0 = 1): 8 floats re, im, ..."""
    apc_r = ar + cr
    apc_i = ai + ci
    amc_r = ar - cr
    amc_i = ai - ci
    bpd_r = br + xr
    bpd_i = bi + xi
    bmd_r = br - xr
    bmd_i = bi - xi
    t1r = amc_r + bmd_i
    t1i = amc_i - bmd_r
    t2r = apc_r - bpd_r
    t2i = apc_i - bpd_i
    t3r = amc_r - bmd_i
    t3i = amc_i + bmd_r
    return (apc_r + bpd_r, apc_i + bpd_i,
            t1r * w1r - t1i * w1i, t1r * w1i + t1i * w1r,
            t2r * w2r - t2i * w2i, t2r * w2i + t2i * w2r,
            t3r * w3r - t3i * w3i, t3r * w3i + t3i * w3r)


@njit(cache=True, fastmath=True, inline="always")
def _short_runs(a_r, a_i, b_r, b_i, c_r, c_i, x_r, x_i, w1r, w1i, w2r, w2i, w3r, w3i, dr, di, q, s):
    """The radix-4 stage for a small stride s, from the quarter slices of the source."""
    for p in range(q):
        t1r, t1i, t2r, t2i, t3r, t3i = w1r[p], w1i[p], w2r[p], w2i[p], w3r[p], w3i[p]
        for j in range(s):
            t = s * p + j
            o = 4 * s * p + j
            (dr[o], di[o], dr[o + s], di[o + s], dr[o + 2 * s], di[o + 2 * s], dr[o + 3 * s],
             di[o + 3 * s]) = _butterfly4(a_r[t], a_i[t], b_r[t], b_i[t], c_r[t], c_i[t], x_r[t], x_i[t],
                                          t1r, t1i, t2r, t2i, t3r, t3i)


@njit(cache=True, fastmath=True)
def _radix4_stage(sr, si, dr, di, q, s, plan, m):
    """One radix-4 stage, src -> dst: sub-sequences of 4q points at stride s.

    Output r of the 4-point DFT of (a, b, c, d) = x[j + s*(p + k*q)], k = 0..3, is
    multiplied by w^(r p) and stored at j + s*(4p + r). Loop shapes that vectorise: over
    p for s == 1, unrolled runs for s == 4 and 16, contiguous runs over j beyond.
    """
    tw_re = plan[0]
    tw_im = plan[1]
    sq = s * q
    # quarter slices: indices into them are plain non-negative loop expressions, which
    # numba's negative-index handling cannot obscure from the vectoriser
    a_r = sr[0:sq]
    a_i = si[0:sq]
    b_r = sr[sq:2 * sq]
    b_i = si[sq:2 * sq]
    c_r = sr[2 * sq:3 * sq]
    c_i = si[2 * sq:3 * sq]
    x_r = sr[3 * sq:4 * sq]
    x_i = si[3 * sq:4 * sq]
    w1r = tw_re[m + q:m + 2 * q]
    w1i = tw_im[m + q:m + 2 * q]
    w2r = tw_re[2 * m + q:2 * m + 2 * q]
    w2i = tw_im[2 * m + q:2 * m + 2 * q]
    w3r = tw_re[3 * m + q:3 * m + 2 * q]
    w3i = tw_im[3 * m + q:3 * m + 2 * q]
    if s == 1:
        for p in range(q):
            o = 4 * p
            dr[o], di[o], dr[o + 1], di[o + 1], dr[o + 2], di[o + 2], dr[o + 3], di[o + 3] = _butterfly4(
                a_r[p], a_i[p], b_r[p], b_i[p], c_r[p], c_i[p], x_r[p], x_i[p],
                w1r[p], w1i[p], w2r[p], w2i[p], w3r[p], w3i[p])
        return
    if s == 4 or s == 16:
        # short runs: one flat loop per run length known to the compiler (unrolled)
        if s == 4:
            _short_runs(a_r, a_i, b_r, b_i, c_r, c_i, x_r, x_i, w1r, w1i, w2r, w2i, w3r, w3i, dr, di, q, 4)
        else:
            _short_runs(a_r, a_i, b_r, b_i, c_r, c_i, x_r, x_i, w1r, w1i, w2r, w2i, w3r, w3i, dr, di, q, 16)
        return
    for p in range(q):
        # per-p runs of s points, sliced for the same reason as above
        t1r, t1i, t2r, t2i, t3r, t3i = w1r[p], w1i[p], w2r[p], w2i[p], w3r[p], w3i[p]
        a = s * p
        o = 4 * s * p
        ar = sr[a:a + s]
        ai = si[a:a + s]
        br = sr[a + sq:a + sq + s]
        bi = si[a + sq:a + sq + s]
        cr = sr[a + 2 * sq:a + 2 * sq + s]
        ci = si[a + 2 * sq:a + 2 * sq + s]
        xr = sr[a + 3 * sq:a + 3 * sq + s]
        xi = si[a + 3 * sq:a + 3 * sq + s]
        y0r = dr[o:o + s]
        y0i = di[o:o + s]
        y1r = dr[o + s:o + 2 * s]
        y1i = di[o + s:o + 2 * s]
        y2r = dr[o + 2 * s:o + 3 * s]
        y2i = di[o + 2 * s:o + 3 * s]
        y3r = dr[o + 3 * s:o + 4 * s]
        y3i = di[o + 3 * s:o + 4 * s]
        for j in range(s):
            y0r[j], y0i[j], y1r[j], y1i[j], y2r[j], y2i[j], y3r[j], y3i[j] = _butterfly4(
                ar[j], ai[j], br[j], bi[j], cr[j], ci[j], xr[j], xi[j], t1r, t1i, t2r, t2i, t3r, t3i)


@njit(cache=True, fastmath=True)
def _radix2_last(sr, si, dr, di, s):
    """The final radix-2 stage (sub-sequences of 2 points, twiddle 1), src -> dst."""
    for j in range(s):
        ar = sr[j]
        ai = si[j]
        br = sr[s + j]
        bi = si[s + j]
        dr[j] = ar + br
        di[j] = ai + bi
        dr[s + j] = ar - br
        di[s + j] = ai - bi


@njit(cache=True, fastmath=True)
def _complex_fft(work, plan):
    """Forward FFT of work[0, :m] + i work[1, :m] in natural order, m = n_fft // 2;
    work[:, m:] is the ping-pong buffer. Returns the offset (0 or m) of the result."""
    m = work.shape[1] // 2
    src_r = work[0, :m]
    src_i = work[1, :m]
    dst_r = work[0, m:]
    dst_i = work[1, m:]
    n = m
    s = np.int64(1)   # not the literal 1: a literal argument would compile a second signature
    flip = False
    while n >= 4:
        q = n // 4
        _radix4_stage(src_r, src_i, dst_r, dst_i, q, s, plan, m)
        src_r, src_i, dst_r, dst_i = dst_r, dst_i, src_r, src_i
        flip = not flip
        n = q
        s *= 4
    if n == 2:
        _radix2_last(src_r, src_i, dst_r, dst_i, s)
        flip = not flip
    return m if flip else 0


# ---- real transforms -----------------------------------------------------------------------


@njit(cache=True, fastmath=False, inline="always")
def rfft(x, out_re, out_im, plan, work):
    """Forward real FFT (numpy's rfft convention, unnormalised).

    x: float [n_fft] time signal; out_re/out_im: float [n_fft // 2 + 1];
    plan: :func:`make_plan` (n_fft); work: float [2, n_fft] scratch.
    """
    m = work.shape[1] // 2
    for n in range(m):
        work[0, n] = x[2 * n]
        work[1, n] = x[2 * n + 1]
    rfft_packed(out_re, out_im, plan, work)


@njit(cache=True, fastmath=False, inline="always")
def rfft_packed(out_re, out_im, plan, work):
    """:func:`rfft` of a signal already packed into work: even samples in work[0, :m],
    odd samples in work[1, :m] (m = n_fft // 2), e.g. while windowing it."""
    m = work.shape[1] // 2
    off = _complex_fft(work, plan)
    # the half holding Z, sliced so that indices stay plain loop expressions (vectorises)
    zr = work[0, off:off + m]
    zi = work[1, off:off + m]
    hw_re = plan[2]
    hw_im = plan[3]
    # DC and Nyquist are real: the sum and difference of the even and odd halves
    out_re[0] = zr[0] + zi[0]
    out_im[0] = 0.0
    out_re[m] = zr[0] - zi[0]
    out_im[m] = 0.0
    # X[k] = E[k] + W^k O[k], E = (Z[k] + conj Z[m-k]) / 2, O = -i (Z[k] - conj Z[m-k]) / 2
    half = hw_re[0]
    for k in range(1, m):
        b = m - k
        sum_r = zr[k] + zr[b]
        dif_r = zr[k] - zr[b]
        sum_i = zi[k] + zi[b]
        dif_i = zi[k] - zi[b]
        hr = hw_re[k]
        hi = hw_im[k]
        out_re[k] = half * sum_r + hr * sum_i + hi * dif_r
        out_im[k] = half * dif_i - hr * dif_r + hi * sum_i


@njit(cache=True, fastmath=False, inline="always")
def irfft(in_re, in_im, x, plan, work):
    """Inverse real FFT (numpy's irfft convention: 1 / n_fft; the imaginary parts of the
    DC and Nyquist bins are ignored).

    in_re/in_im: float [n_fft // 2 + 1]; x: float [n_fft] output; plan as for rfft;
    work: float [2, n_fft] scratch.
    """
    m = work.shape[1] // 2
    zr = work[0]
    zi = work[1]
    hw_re = plan[2]
    hw_im = plan[3]
    half = hw_re[0]
    for k in range(m):
        ar = in_re[k]
        ai = in_im[k] if k != 0 else 0.0
        br = in_re[m - k]
        bi = -in_im[m - k] if k != 0 else 0.0  # conj(X[m - k]); X[m] is real
        # E = (A + B) / 2; O = (A - B) / 2 * conj(W^k) = (A - B) * conj(H), H = W^k / 2
        dr = ar - br
        di = ai - bi
        hr = hw_re[k]
        hi = hw_im[k]
        o_r = dr * hr + di * hi
        o_i = di * hr - dr * hi
        # Z = E + i O, conjugated for the inverse-by-forward trick
        zr[k] = half * (ar + br) - o_i
        zi[k] = -(half * (ai + bi) + o_r)
    off = _complex_fft(work, plan)
    zr = work[0, off:off + m]
    zi = work[1, off:off + m]
    scale = half / (0.5 * m)  # 1 / m in the plan's precision
    for n in range(m):
        x[2 * n] = zr[n] * scale
        x[2 * n + 1] = -zi[n] * scale


class FFTScratch:
    """Plan and preallocated work buffers for transforms of length n_fft (float64, or
    float32 where single precision is enough): frame [n_fft], spec_re/spec_im
    [n_fft // 2 + 1], work [2, n_fft]."""

    def __init__(self, n_fft: int, dtype=np.float64):
        self.plan = make_plan(n_fft, dtype)
        bins = n_fft // 2 + 1
        self.frame = np.zeros(n_fft, dtype)
        self.spec_re = np.zeros(bins, dtype)
        self.spec_im = np.zeros(bins, dtype)
        self.work = make_work(n_fft, dtype)

    def args(self) -> tuple:
        """(plan, frame, spec_re, spec_im, work), the order the block kernels take them."""
        return (self.plan, self.frame, self.spec_re, self.spec_im, self.work)
