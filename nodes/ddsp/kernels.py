"""numba kernels of the DDSP synths: additive harmonic bank and filtered noise.

Layout after DDSP's ``core.py``: pure functions grouped under banner comments; every
array documents its shape and unit. Frame controls are placed on a grid of ``hop``
samples and interpolated linearly per sample. Streaming: frames wait in a queue (ring
float64 [cap, width], qstate int64 [3]: nodes/dsp/frame_queue.py); output segment s (samples
[s*hop, (s+1)*hop)) glides from the controls of frame s-2 to those of frame s-1, so a
frame takes effect ``hop`` samples after it arrives (latency = hop); a segment pops one
queued frame and holds the last one when none is queued.
"""
from __future__ import annotations

import math

import numpy as np
from neuropatch.engine.jit import njit

from ..dsp.frame_queue import queue_pop, queue_push, queue_slot

# segment state (int64 [2]): position in the current segment, segments started
SEG_POS, SEGMENTS = 0, 1


# ---- harmonic oscillator bank -----------------------------------------------------------

@njit(cache=True)
def harmonic_amplitudes(f0_hz, amplitude, dist, sample_rate, gain, amps):
    """amps [K] (linear) = amplitude * gain * dist with harmonics at or above Nyquist removed
    and the rest renormalised to sum to one (DDSP's harmonic synth)."""
    nyquist = 0.5 * sample_rate
    kept = 0.0
    for k in range(amps.shape[0]):
        amps[k] = 0.0 if (k + 1) * f0_hz >= nyquist else dist[k]
        kept += amps[k]
    scale = amplitude * gain / max(kept, 1e-7)
    for k in range(amps.shape[0]):
        amps[k] *= scale


@njit(cache=True)
def harmonic_segment(out, start, count, alpha0, inv_hop, f0_a, f0_b, amps_a, amps_b, phase, sample_rate):
    """Add ``count`` samples of the additive synth into ``out[start:start + count]``.

    f0 and the harmonic amplitudes glide linearly from (f0_a, amps_a) to (f0_b, amps_b):
    sample i uses weight ``alpha0 + i * inv_hop``. amps_*: [K] linear; harmonic k (1-based)
    sounds sin(k * theta) where theta accumulates 2*pi*f0/sr per sample (DDSP's
    cumsum convention: the first sample already advanced). Harmonics at or above Nyquist
    are silent. phase: float64 [1], the fundamental's phase in cycles, carried across calls.
    """
    n_harm = amps_a.shape[0]
    nyquist = 0.5 * sample_rate
    ph = phase[0]
    for i in range(count):
        a = alpha0 + i * inv_hop
        f0 = f0_a + (f0_b - f0_a) * a
        ph += f0 / sample_rate
        ph -= math.floor(ph)
        theta = 2.0 * math.pi * ph
        s1 = math.sin(theta)
        c2 = 2.0 * math.cos(theta)
        s_prev = 0.0
        s_k = s1
        acc = 0.0
        for k in range(n_harm):
            if (k + 1) * f0 >= nyquist:
                break
            amp = amps_a[k] + (amps_b[k] - amps_a[k]) * a
            acc += amp * s_k
            s_next = c2 * s_k - s_prev  # sin((k+2) theta) by the Chebyshev recurrence
            s_prev = s_k
            s_k = s_next
        out[start + i] += acc
    phase[0] = ph


@njit(cache=True)
def harmonic_block(f0_frames, amp_frames, dist_frames, count, out, n, hop, sample_rate, ring, qstate, seg,
                   fstate, amps_prev, amps_next, phase, gain):
    """One block of the streaming harmonic synth into out (float32 [n], overwritten).

    Frames (float32 [max_frames, 1, bins], ``count`` new): f0 in Hz (<= 0: the last
    positive f0 is held), amplitude (linear), harmonic distribution [K]. ring float64
    [cap, 2 + K] queues (f0, amplitude, distribution). fstate float64 [3] = (f0 of the
    segment start, f0 of its end, held f0); amps_prev / amps_next [K]; phase [1].
    gain: linear.
    """
    n_harm = amps_next.shape[0]
    for k in range(count):
        w = queue_slot(qstate, ring.shape[0])
        ring[w, 0] = f0_frames[k, 0, 0]
        ring[w, 1] = amp_frames[k, 0, 0]
        for j in range(n_harm):
            ring[w, 2 + j] = dist_frames[k, 0, j]
    for i in range(n):
        out[i] = 0.0
    t = 0
    inv_hop = 1.0 / hop
    while t < n:
        pos = seg[SEG_POS]
        if pos == 0:
            if seg[SEGMENTS] >= 1:
                for k in range(n_harm):
                    amps_prev[k] = amps_next[k]
                fstate[0] = fstate[1]
                r = queue_pop(qstate, ring.shape[0])
                if r >= 0:
                    if ring[r, 0] > 0.0:
                        fstate[2] = ring[r, 0]
                    harmonic_amplitudes(fstate[2], ring[r, 1], ring[r, 2:], sample_rate, gain, amps_next)
                fstate[1] = fstate[2]
            seg[SEGMENTS] += 1
        count_s = min(hop - pos, n - t)
        harmonic_segment(out, t, count_s, pos * inv_hop, inv_hop, fstate[0], fstate[1], amps_prev, amps_next,
                         phase, sample_rate)
        seg[SEG_POS] = (pos + count_s) % hop
        t += count_s


@njit(cache=True)
def harmonic_frames(f0_frames, amp_frames, hop, sample_rate, out):
    """Whole-signal additive synth from frame controls (offline reference of the streaming path).

    f0_frames: [F] Hz, amp_frames: [F, K] linear, frame j sits at sample j * hop; samples
    after the last frame hold it. out: float64 [n] (overwritten).
    """
    out[:] = 0.0
    phase = np.zeros(1)
    n = out.shape[0]
    n_frames = f0_frames.shape[0]
    t = 0
    j = 0
    while t < n:
        a = min(j, n_frames - 1)
        b = min(j + 1, n_frames - 1)
        count = min(hop, n - t)
        harmonic_segment(out, t, count, 0.0, 1.0 / hop, f0_frames[a], f0_frames[b],
                         amp_frames[a], amp_frames[b], phase, sample_rate)
        t += count
        j += 1


# ---- filtered noise: white noise through a per-frame FIR (frequency sampling) ------------

@njit(cache=True)
def white_uniform(rng):
    """Next sample of white noise, uniform in [-1, 1), from xorshift64* state rng uint64 [1]
    (period 2**64 - 1: no audible repetition)."""
    x = rng[0]
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    rng[0] = x
    y = x * np.uint64(2685821657736338717)
    return (y >> np.uint64(11)) * (2.0 / 9007199254740992.0) - 1.0


def fir_tables(n_bands: int) -> tuple:
    """(cos_table float64 [N, B], window float64 [N]) for N = 2 * (B - 1) taps: the inverse
    real DFT of B magnitudes at 0 .. Nyquist, and a periodic Hann window."""
    taps = 2 * (n_bands - 1)
    k = np.arange(n_bands)
    weight = np.where((k == 0) | (k == n_bands - 1), 1.0, 2.0) / taps
    # taps are shifted by N/2 so that the zero-phase response sits at the window's centre
    t = (np.arange(taps) - taps // 2) % taps
    table = weight[None, :] * np.cos(2.0 * np.pi * np.outer(t, k) / taps)
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(taps) / taps)
    return np.ascontiguousarray(table), window


@njit(cache=True)
def fir_from_magnitudes(mags, gain, table, window, rtaps):
    """Linear-phase FIR (DDSP's frequency_impulse_response + Hann window) of band
    magnitudes mags [B] (linear, at frequencies b / (B - 1) * Nyquist), times gain.
    Written time-reversed: rtaps [N], rtaps[N - 1] is tap 0."""
    taps = rtaps.shape[0]
    for i in range(taps):
        v = 0.0
        row = table[i]
        for b in range(mags.shape[0]):
            v += row[b] * mags[b]
        rtaps[taps - 1 - i] = v * window[i] * gain


@njit(cache=True, fastmath={"reassoc", "contract"})
def noise_segment(out, start, count, alpha0, inv_hop, taps_a, taps_b, hist, hpos, rng):
    """Add ``count`` samples of filtered noise into ``out[start:start + count]``.

    Each sample draws one white sample into the history hist float64 [2N] (written twice,
    at p and p + N, so the newest N samples are the contiguous hist[p + 1:p + N + 1]) and
    outputs both FIRs (time-reversed taps_a / taps_b [N]) over it, crossfaded with weight
    alpha0 + i * inv_hop. The FIR's group delay applies to the noise only, which has no
    timing, so the controls take effect without it. hpos int64 [1] carries p.
    """
    taps = taps_a.shape[0]
    p = hpos[0]
    for i in range(count):
        p += 1
        if p == taps:
            p = 0
        w = white_uniform(rng)
        hist[p] = w
        hist[p + taps] = w
        win = hist[p + 1:p + 1 + taps]
        ya = 0.0
        yb = 0.0
        for j in range(taps):
            ya += taps_a[j] * win[j]
            yb += taps_b[j] * win[j]
        a = alpha0 + i * inv_hop
        out[start + i] += ya + (yb - ya) * a
    hpos[0] = p


@njit(cache=True)
def noise_block(mag_frames, count, out, n, hop, ring, qstate, seg, taps_prev, taps_next, table, window, hist,
                hpos, rng, gain):
    """One block of streaming filtered noise into out (float32 [n], overwritten).

    mag_frames: float32 [max_frames, 1, B] linear band magnitudes, ``count`` new; ring
    float64 [cap, B]; taps_prev / taps_next [N] the FIRs of the segment's start and end.
    gain: linear.
    """
    queue_push(ring, qstate, mag_frames, count)
    for i in range(n):
        out[i] = 0.0
    t = 0
    inv_hop = 1.0 / hop
    while t < n:
        pos = seg[SEG_POS]
        if pos == 0:
            if seg[SEGMENTS] >= 1:
                for j in range(taps_next.shape[0]):
                    taps_prev[j] = taps_next[j]
                r = queue_pop(qstate, ring.shape[0])
                if r >= 0:
                    fir_from_magnitudes(ring[r], gain, table, window, taps_next)
            seg[SEGMENTS] += 1
        count_s = min(hop - pos, n - t)
        noise_segment(out, t, count_s, pos * inv_hop, inv_hop, taps_prev, taps_next, hist, hpos, rng)
        seg[SEG_POS] = (pos + count_s) % hop
        t += count_s
