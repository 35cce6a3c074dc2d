"""Real FFT kernels in numba (radix-2), so whole blocks run in one compiled call.

A real transform of length ``n_fft`` (a power of two) packs the signal into a complex
sequence of half length (even samples real, odd samples imaginary), runs an iterative
radix-2 FFT on it and untangles the halves. Everything is float64 inside.

Plan (from :func:`make_plan`): ``bitrev`` int64 [m], ``tw_re``/``tw_im`` float64 [m // 2]
(twiddles of the half-length FFT), ``rt_re``/``rt_im`` float64 [m + 1] (untangling
twiddles exp(-2 pi i k / n_fft)), with m = n_fft // 2.
"""
from __future__ import annotations

import numpy as np
from numba import njit


def is_power_of_two(n: int) -> bool:
    return n >= 2 and (n & (n - 1)) == 0


def make_plan(n_fft: int) -> tuple:
    """Tables for :func:`rfft` / :func:`irfft` of length n_fft (power of two, >= 4)."""
    if not is_power_of_two(n_fft) or n_fft < 4:
        raise ValueError(f"n_fft must be a power of two >= 4, got {n_fft}")
    m = n_fft // 2
    bits = m.bit_length() - 1
    idx = np.arange(m)
    bitrev = np.zeros(m, np.int64)
    for b in range(bits):
        bitrev |= ((idx >> b) & 1) << (bits - 1 - b)
    j = np.arange(max(m // 2, 1))
    tw_re = np.cos(2.0 * np.pi * j / m)
    tw_im = -np.sin(2.0 * np.pi * j / m)
    k = np.arange(m + 1)
    rt_re = np.cos(2.0 * np.pi * k / n_fft)
    rt_im = -np.sin(2.0 * np.pi * k / n_fft)
    return bitrev, tw_re, tw_im, rt_re, rt_im


@njit(cache=True, fastmath=False)
def _complex_fft(zr, zi, tw_re, tw_im):
    """In-place forward FFT of bit-reversed input zr/zi float64 [m]."""
    m = zr.shape[0]
    size = 2
    while size <= m:
        half = size // 2
        step = m // size
        for start in range(0, m, size):
            for j in range(half):
                wr = tw_re[j * step]
                wi = tw_im[j * step]
                a = start + j
                b = a + half
                tr = zr[b] * wr - zi[b] * wi
                ti = zr[b] * wi + zi[b] * wr
                zr[b] = zr[a] - tr
                zi[b] = zi[a] - ti
                zr[a] += tr
                zi[a] += ti
        size *= 2


@njit(cache=True, fastmath=False)
def rfft(x, out_re, out_im, bitrev, tw_re, tw_im, rt_re, rt_im, zr, zi):
    """Forward real FFT (numpy's rfft convention, unnormalised).

    x: float64 [n_fft] time signal; out_re/out_im: float64 [n_fft // 2 + 1];
    zr/zi: float64 [n_fft // 2] scratch.
    """
    m = zr.shape[0]
    for n in range(m):
        r = bitrev[n]
        zr[r] = x[2 * n]
        zi[r] = x[2 * n + 1]
    _complex_fft(zr, zi, tw_re, tw_im)
    for k in range(m + 1):
        a = k % m
        b = (m - k) % m
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

    in_re/in_im: float64 [n_fft // 2 + 1]; x: float64 [n_fft] output; zr/zi scratch [n_fft // 2].
    """
    m = zr.shape[0]
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
        r = bitrev[k]
        zr[r] = er - o_i
        zi[r] = -(ei + o_r)
    _complex_fft(zr, zi, tw_re, tw_im)
    scale = 1.0 / m
    for n in range(m):
        x[2 * n] = zr[n] * scale
        x[2 * n + 1] = -zi[n] * scale
