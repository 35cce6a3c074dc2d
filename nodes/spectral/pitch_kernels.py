"""YIN pitch kernels (de Cheveigne & Kawahara 2002), autocorrelation through the real FFT."""
from __future__ import annotations

import numpy as np
from neuropatch.engine.jit import njit

from ..dsp.fft import irfft, rfft
from .framing import next_frame, read_frame


@njit(cache=True, fastmath=False, inline="always")
def yin_frame(frame, sr, tau_min, tau_max, threshold, plan, work):
    """Estimate (f0_hz, confidence, voiced) of one frame.

    frame: float64 [N] (N = n_fft of the plan); integration window W = N // 2;
    lags tau_min..tau_max (tau_max <= N - W). plan: dsp.fft tables (float64). work: tuple
    of float64 scratch arrays (win [N], xr, xi, yr, yi [N//2+1], corr [N], cs [N+1],
    cmnd [N], fft_work [2, N]).
    Returns f0 in Hz (parabolically refined lag), confidence = 1 - d'(tau) in [0, 1],
    and voiced = d'(tau) < threshold.
    """
    win, xr, xi, yr, yi, corr, cs, cmnd, fft_work = work
    n = frame.shape[0]
    w = n // 2
    for j in range(n):
        win[j] = frame[j] if j < w else 0.0
    # one call site for both transforms: rfft is inlined, each site is another copy to compile
    for k in range(2):
        rfft(frame if k == 0 else win, xr if k == 0 else yr, xi if k == 0 else yi, plan, fft_work)
    # X * conj(Y): cross-correlation r[tau] = sum_{j<W} x[j] x[j + tau]
    for b in range(xr.shape[0]):
        re = xr[b] * yr[b] + xi[b] * yi[b]
        im = xi[b] * yr[b] - xr[b] * yi[b]
        xr[b] = re
        xi[b] = im
    irfft(xr, xi, corr, plan, fft_work)
    cs[0] = 0.0
    for j in range(n):
        cs[j + 1] = cs[j] + frame[j] * frame[j]
    e0 = cs[w]
    cmnd[0] = 1.0
    running = 0.0
    for tau in range(1, tau_max + 1):
        d = e0 + (cs[tau + w] - cs[tau]) - 2.0 * corr[tau]
        if d < 0.0:
            d = 0.0
        running += d
        cmnd[tau] = d * tau / running if running > 1e-12 * (e0 + 1e-30) and running > 0.0 else 1.0
    best = -1
    tau = tau_min
    while tau <= tau_max:
        if cmnd[tau] < threshold:
            while tau + 1 <= tau_max and cmnd[tau + 1] < cmnd[tau]:
                tau += 1
            best = tau
            break
        tau += 1
    voiced = best >= 0
    if not voiced:
        best = tau_min
        for t in range(tau_min, tau_max + 1):
            if cmnd[t] < cmnd[best]:
                best = t
    lag = float(best)
    if best > 1 and best < tau_max:
        a = cmnd[best - 1]
        b = cmnd[best]
        c = cmnd[best + 1]
        den = a - 2.0 * b + c
        if den > 0.0:
            shift = 0.5 * (a - c) / den
            if -1.0 < shift < 1.0:
                lag += shift
    conf = 1.0 - cmnd[best]
    if conf < 0.0:
        conf = 0.0
    if conf > 1.0:
        conf = 1.0
    return sr / lag, conf, voiced


@njit(cache=True, fastmath=False)
def pitch_block(x, ring, state, hop, ones, sr, tau_min, tau_max, threshold, plan, work,
                frame, f0_out, conf_out):
    """Frame one block and run YIN on every completed frame; returns the frame count.

    x: float32 [channels, n]; f0_out/conf_out: float32 [max_frames, channels, 1]
    (f0 in Hz, 0 for unvoiced frames; confidence in [0, 1]).
    """
    count = 0
    i = np.int64(0)
    while True:
        # one call site (next_frame is inlined)
        i = next_frame(x, ring, state, i, hop)
        if i < 0:
            break
        for c in range(x.shape[0]):
            read_frame(ring, state, c, ones, frame)
            f0, conf, voiced = yin_frame(frame, sr, tau_min, tau_max, threshold, plan, work)
            f0_out[count, c, 0] = f0 if voiced else 0.0
            conf_out[count, c, 0] = conf
        count += 1
    return count
