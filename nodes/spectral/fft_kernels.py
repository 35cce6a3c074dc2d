"""Real FFT kernels in numba (radix-2), so whole blocks run in one compiled call.

A real transform of length ``n_fft`` (a power of two) packs the signal into a complex
sequence of half length (even samples real, odd samples imaginary), runs a radix-2
Stockham FFT on it (out of place between the two halves of the scratch buffers, so the
inner loops run over contiguous memory and vectorise) and untangles the halves.
Everything is float64 inside. ``bitrev`` is kept in the plan for callers' signatures.

Plan (from :func:`make_plan`): ``bitrev`` int64 [m], ``tw_re``/``tw_im`` float64 [m]
(twiddles of the half-length FFT laid out per stage: the stage whose butterflies span
h = half its size reads entries [h, 2h), exp(-2 pi i j / (2h)) for j < h, so the inner
loop reads them contiguously), ``rt_re``/``rt_im`` float64 [m + 1] (untangling twiddles
exp(-2 pi i k / n_fft)), with m = n_fft // 2.
"""
from __future__ import annotations

import numpy as np
from numba import njit


def is_power_of_two(n: int) -> bool:
    return n >= 2 and (n & (n - 1)) == 0


def make_plan(n_fft: int, dtype=np.float64) -> tuple:
    """Tables for :func:`rfft` / :func:`irfft` of length n_fft (power of two, >= 4).

    dtype float32 gives single-precision transforms (pass float32 scratch too)."""
    if not is_power_of_two(n_fft) or n_fft < 4:
        raise ValueError(f"n_fft must be a power of two >= 4, got {n_fft}")
    m = n_fft // 2
    bits = m.bit_length() - 1
    idx = np.arange(m)
    bitrev = np.zeros(m, np.int64)
    for b in range(bits):
        bitrev |= ((idx >> b) & 1) << (bits - 1 - b)
    tw_re = np.zeros(max(m, 2))
    tw_im = np.zeros(max(m, 2))
    h = 1
    while h < m:
        j = np.arange(h)
        tw_re[h:2 * h] = np.cos(np.pi * j / h)
        tw_im[h:2 * h] = -np.sin(np.pi * j / h)
        h *= 2
    k = np.arange(m + 1)
    rt_re = np.cos(2.0 * np.pi * k / n_fft)
    rt_im = -np.sin(2.0 * np.pi * k / n_fft)
    return (bitrev, tw_re.astype(dtype), tw_im.astype(dtype), rt_re.astype(dtype),
            rt_im.astype(dtype))


@njit(cache=True, fastmath=True)
def _stage(sr, si, dr, di, m, s, tw_re, tw_im):
    """One radix-2 Stockham stage: n = 2m points per sub-sequence, stride s (src -> dst)."""
    if s < 4:
        for q in range(s):
            for p in range(m):
                wr = tw_re[m + p]
                wi = tw_im[m + p]
                a = q + s * p
                b = a + s * m
                ar = sr[a]
                ai = si[a]
                br = sr[b]
                bi = si[b]
                o = q + 2 * s * p
                dr[o] = ar + br
                di[o] = ai + bi
                xr = ar - br
                xi = ai - bi
                dr[o + s] = xr * wr - xi * wi
                di[o + s] = xr * wi + xi * wr
    else:
        for p in range(m):
            wr = tw_re[m + p]
            wi = tw_im[m + p]
            a0 = s * p
            b0 = a0 + s * m
            o0 = 2 * s * p
            for q in range(s):
                ar = sr[a0 + q]
                ai = si[a0 + q]
                br = sr[b0 + q]
                bi = si[b0 + q]
                dr[o0 + q] = ar + br
                di[o0 + q] = ai + bi
                xr = ar - br
                xi = ai - bi
                dr[o0 + s + q] = xr * wr - xi * wi
                di[o0 + s + q] = xr * wi + xi * wr


@njit(cache=True, fastmath=True)
def _complex_fft(zr, zi, tw_re, tw_im):
    """Forward FFT (Stockham autosort, no bit reversal) of zr[:m] + i zi[:m] in natural
    order, m = len(zr) // 2; zr[m:], zi[m:] are the ping-pong buffer. Returns the offset
    (0 or m) of the half that holds the result."""
    m_total = zr.shape[0] // 2
    a_r = zr[:m_total]
    a_i = zi[:m_total]
    b_r = zr[m_total:]
    b_i = zi[m_total:]
    n = m_total
    s = 1
    flip = False
    while n >= 2:
        half = n // 2
        if flip:
            _stage(b_r, b_i, a_r, a_i, half, s, tw_re, tw_im)
        else:
            _stage(a_r, a_i, b_r, b_i, half, s, tw_re, tw_im)
        flip = not flip
        n = half
        s *= 2
    return m_total if flip else 0


@njit(cache=True, fastmath=False)
def rfft(x, out_re, out_im, bitrev, tw_re, tw_im, rt_re, rt_im, zr, zi):
    """Forward real FFT (numpy's rfft convention, unnormalised).

    x: float64 [n_fft] time signal; out_re/out_im: float64 [n_fft // 2 + 1];
    zr/zi: float64 [n_fft] scratch.
    """
    m = zr.shape[0] // 2
    for n in range(m):
        zr[n] = x[2 * n]
        zi[n] = x[2 * n + 1]
    off = _complex_fft(zr, zi, tw_re, tw_im)
    for k in range(m + 1):
        a = k % m + off
        b = (m - k) % m + off
        er = 0.5 * (zr[a] + zr[b])
        ei = 0.5 * (zi[a] - zi[b])
        o_r = 0.5 * (zi[a] + zi[b])
        o_i = -0.5 * (zr[a] - zr[b])
        wr = rt_re[k]
        wi = rt_im[k]
        out_re[k] = er + wr * o_r - wi * o_i
        out_im[k] = ei + wr * o_i + wi * o_r


@njit(cache=True, fastmath=False)
def irfft(in_re, in_im, x, bitrev, tw_re, tw_im, rt_re, rt_im, zr, zi):
    """Inverse real FFT (numpy's irfft convention: 1 / n_fft; the imaginary parts of the
    DC and Nyquist bins are ignored).

    in_re/in_im: float64 [n_fft // 2 + 1]; x: float64 [n_fft] output; zr/zi scratch [n_fft].
    """
    m = zr.shape[0] // 2
    for k in range(m):
        ar = in_re[k]
        ai = in_im[k] if k != 0 else 0.0
        br = in_re[m - k]
        bi = -in_im[m - k] if k != 0 else 0.0  # conj(X[m - k]); X[m] is real
        er = 0.5 * (ar + br)
        ei = 0.5 * (ai + bi)
        dr = 0.5 * (ar - br)
        di = 0.5 * (ai - bi)
        # O = D * conj(W^k)
        wr = rt_re[k]
        wi = -rt_im[k]
        o_r = dr * wr - di * wi
        o_i = dr * wi + di * wr
        # Z = E + i O, conjugated for the inverse-by-forward trick
        zr[k] = er - o_i
        zi[k] = -(ei + o_r)
    off = _complex_fft(zr, zi, tw_re, tw_im)
    scale = 1.0 / m
    for n in range(m):
        x[2 * n] = zr[off + n] * scale
        x[2 * n + 1] = -zi[off + n] * scale
