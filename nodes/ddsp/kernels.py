"""numba kernels of the DDSP harmonic-plus-noise synth (float64 state, float32 audio out).

Layout after DDSP's ``core.py``: pure functions grouped under banner comments; every
array documents its shape and unit. Frame controls are placed on a grid of ``hop``
samples and interpolated linearly per sample: sample ``t`` of a segment that starts at
frame ``j`` takes ``c[j] + (c[j + 1] - c[j]) * (t - j * hop) / hop``.
"""
from __future__ import annotations

import math

import numpy as np
from neuropatch.engine.jit import njit

LOG10 = math.log(10.0)


# ---- scaling (DDSP core: hz_to_midi, exp_sigmoid) ---------------------------------------

@njit(cache=True)
def hz_to_midi(f0_hz):
    """MIDI note number of ``f0_hz`` (Hz, clamped below at 20 Hz so unvoiced 0 stays finite)."""
    return 69.0 + 12.0 * math.log2(max(f0_hz, 20.0) / 440.0)


@njit(cache=True)
def exp_sigmoid(x):
    """DDSP's exp_sigmoid: 2 * sigmoid(x) ** ln(10) + 1e-7 (range (1e-7, 2])."""
    s = 1.0 / (1.0 + math.exp(-x))
    return 2.0 * s ** LOG10 + 1e-7


# ---- decoder (MLP: 2 -> hidden1 -> hidden2 -> 1 + n_harmonics + n_bands) -----------------

@njit(cache=True)
def decode_frame(f0_hz, loudness_db, sample_rate, w1, b1, w2, b2, w3, b3, slope, noise_bias,
                 h1, h2, o, amps, noise):
    """One frame of controls from f0 and loudness.

    f0_hz: Hz (<= 0 treated as 20 Hz for the network; harmonics of 0 Hz are silent).
    loudness_db: dB. w1 [h1, 2], w2 [h2, h1], w3 [1 + K + B, h2] and biases (float64).
    slope: leaky-ReLU negative slope. noise_bias: added before exp_sigmoid of the noise
    magnitudes (DDSP FilteredNoise initial_bias). h1, h2, o: scratch [h1], [h2], [1+K+B].
    Writes amps [K] (linear amplitude per harmonic: overall amplitude * softmax harmonic
    distribution with harmonics at or above Nyquist removed and the rest renormalised) and
    noise [B] (linear band magnitudes).
    """
    x0 = hz_to_midi(f0_hz) / 127.0
    x1 = (loudness_db + 80.0) / 80.0
    for i in range(h1.shape[0]):
        v = b1[i] + w1[i, 0] * x0 + w1[i, 1] * x1
        h1[i] = v if v > 0.0 else slope * v
    for i in range(h2.shape[0]):
        v = b2[i]
        for j in range(h1.shape[0]):
            v += w2[i, j] * h1[j]
        h2[i] = v if v > 0.0 else slope * v
    for i in range(o.shape[0]):
        v = b3[i]
        for j in range(h2.shape[0]):
            v += w3[i, j] * h2[j]
        o[i] = v
    n_harm = amps.shape[0]
    amplitude = exp_sigmoid(o[0])
    peak = o[1]
    for k in range(1, n_harm):
        peak = max(peak, o[1 + k])
    total = 0.0
    for k in range(n_harm):
        amps[k] = math.exp(o[1 + k] - peak)
        total += amps[k]
    nyquist = 0.5 * sample_rate
    kept = 0.0
    for k in range(n_harm):
        amps[k] /= total
        if (k + 1) * f0_hz >= nyquist:
            amps[k] = 0.0
        kept += amps[k]
    kept = max(kept, 1e-7)
    for k in range(n_harm):
        amps[k] = amplitude * amps[k] / kept
    for b in range(noise.shape[0]):
        noise[b] = exp_sigmoid(o[1 + n_harm + b] + noise_bias)


# ---- harmonic oscillator bank -----------------------------------------------------------

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


# ---- filtered noise: band-limited noise tables weighted by band magnitudes --------------

@njit(cache=True)
def noise_segment(out, start, count, alpha0, inv_hop, mags_a, mags_b, tables, position):
    """Add ``count`` samples of filtered noise into ``out[start:start + count]``.

    tables: float32 [B, L] band-limited noise (band b of one fixed white-noise draw),
    mags_*: [B] linear band magnitudes gliding with weight alpha0 + i * inv_hop.
    position: int64 [1], read index into the tables (wraps at L), carried across calls.
    """
    n_bands, length = tables.shape
    p = position[0]
    for i in range(count):
        a = alpha0 + i * inv_hop
        acc = 0.0
        for b in range(n_bands):
            acc += (mags_a[b] + (mags_b[b] - mags_a[b]) * a) * tables[b, p]
        out[start + i] += acc
        p += 1
        if p >= length:
            p = 0
    position[0] = p


# ---- streaming block: frame queue -> decoder -> synth ------------------------------------

# istate fields
SEG_POS, F0_READ, F0_WRITE, F0_COUNT, LD_READ, LD_WRITE, LD_COUNT, NOISE_POS, SEGMENTS = range(9)
# fstate fields
PHASE, F0_PREV, F0_NEXT, HELD_F0, HELD_LOUD = range(5)


@njit(cache=True)
def _push(ring, istate, read_i, write_i, count_i, value):
    cap = ring.shape[0]
    if istate[count_i] == cap:  # overflow: drop the oldest frame
        istate[read_i] = (istate[read_i] + 1) % cap
        istate[count_i] -= 1
    ring[istate[write_i]] = value
    istate[write_i] = (istate[write_i] + 1) % cap
    istate[count_i] += 1


@njit(cache=True)
def synth_block(f0_frames, f0_count, loud_frames, loud_count, out, n, hop, sample_rate,
                f0_ring, loud_ring, istate, fstate, amps_prev, amps_next, noise_prev, noise_next,
                phase, position, w1, b1, w2, b2, w3, b3, slope, noise_bias, h1, h2, o, tables,
                f0_ratio, loud_offset_db, noise_gain, gain):
    """Render one block of ``n`` samples into ``out`` (float32 [n], overwritten).

    f0_frames / loud_frames: float32 [max_frames, 1, 1] with ``*_count`` new frames (Hz, dB).
    Output segment s (samples [s*hop, (s+1)*hop)) glides from the controls of frame s-2
    to those of frame s-1, so a frame takes effect ``hop`` samples after it arrives;
    segment s pops one queued frame (s >= 1) and holds the last one when none is queued.
    f0 <= 0 (unvoiced) holds the last voiced f0. f0_ratio: pitch shift as a frequency
    ratio; loud_offset_db: dB added to loudness; noise_gain, gain: linear.
    """
    for k in range(f0_count):
        _push(f0_ring, istate, F0_READ, F0_WRITE, F0_COUNT, f0_frames[k, 0, 0])
    for k in range(loud_count):
        _push(loud_ring, istate, LD_READ, LD_WRITE, LD_COUNT, loud_frames[k, 0, 0])
    for i in range(n):
        out[i] = 0.0
    t = 0
    inv_hop = 1.0 / hop
    while t < n:
        pos = istate[SEG_POS]
        if pos == 0:
            if istate[SEGMENTS] >= 1:
                # new segment: last target becomes the start, pop the next frame
                for k in range(amps_prev.shape[0]):
                    amps_prev[k] = amps_next[k]
                for b in range(noise_prev.shape[0]):
                    noise_prev[b] = noise_next[b]
                fstate[F0_PREV] = fstate[F0_NEXT]
                if istate[F0_COUNT] > 0:
                    f = f0_ring[istate[F0_READ]]
                    istate[F0_READ] = (istate[F0_READ] + 1) % f0_ring.shape[0]
                    istate[F0_COUNT] -= 1
                    if f > 0.0:
                        fstate[HELD_F0] = f
                if istate[LD_COUNT] > 0:
                    fstate[HELD_LOUD] = loud_ring[istate[LD_READ]]
                    istate[LD_READ] = (istate[LD_READ] + 1) % loud_ring.shape[0]
                    istate[LD_COUNT] -= 1
                f0 = fstate[HELD_F0] * f0_ratio
                decode_frame(f0, fstate[HELD_LOUD] + loud_offset_db, sample_rate, w1, b1, w2, b2, w3, b3,
                             slope, noise_bias, h1, h2, o, amps_next, noise_next)
                for k in range(amps_next.shape[0]):
                    amps_next[k] *= gain
                for b in range(noise_next.shape[0]):
                    noise_next[b] *= gain * noise_gain
                fstate[F0_NEXT] = f0
            istate[SEGMENTS] += 1
        count = min(hop - pos, n - t)
        alpha0 = pos * inv_hop
        harmonic_segment(out, t, count, alpha0, inv_hop, fstate[F0_PREV], fstate[F0_NEXT],
                             amps_prev, amps_next, phase, sample_rate)
        noise_segment(out, t, count, alpha0, inv_hop, noise_prev, noise_next, tables, position)
        istate[SEG_POS] = (pos + count) % hop
        t += count

