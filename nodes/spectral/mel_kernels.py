"""Block kernels of the mel node and its inverse."""
from __future__ import annotations

import numpy as np
from neuropatch.engine.jit import njit


@njit(cache=True, fastmath={"reassoc", "contract"})
def mel_block(frames, count, start, stop, values, to_db, amin, ref_db, floor_db, out):
    """Apply a sparse mel filterbank to ``count`` frames.

    frames: float32 [>=count, channels, bins] (magnitude or power, linear).
    start/stop int64 [n_mels], values float64 [n_mels, span] (see mel_filters.sparse_rows).
    to_db: write 10*log10(max(amin, mel)) - ref_db, clamped below at floor_db (-inf: no clamp).
    out: float32 [>=count, channels, n_mels]. The per-filter sums may be reassociated (so
    they vectorise); the order is the same for every frame, so blocks do not change them.
    """
    n_mels = start.shape[0]
    for f in range(count):
        for c in range(frames.shape[1]):
            spectrum = frames[f, c]
            for m in range(n_mels):
                # slices keep the indices plain loop counters, so the sum vectorises
                band = spectrum[start[m]:stop[m]]
                weights = values[m]
                acc = 0.0
                for j in range(band.shape[0]):
                    acc += weights[j] * band[j]
                if to_db:
                    v = 10.0 * np.log10(max(amin, acc)) - ref_db
                    if v < floor_db:
                        v = floor_db
                    out[f, c, m] = v
                else:
                    out[f, c, m] = acc


@njit(cache=True, fastmath=False)
def mel_inverse_block(frames, count, from_db, ref, pinv, start, stop, values, step, iterations,
                      exponent, mel, spec, grad, out):
    """Non-negative least squares from mel frames back to linear-frequency frames.

    frames: float32 [>=count, channels, n_mels]; from_db: frames are 10*log10(mel / ref).
    pinv: float64 [bins, n_mels] pseudo-inverse of the filterbank ``basis`` [n_mels, bins],
    which is passed sparse (start/stop/values as in mel_filters.sparse_rows).
    Starts from max(0, pinv @ mel) and runs ``iterations`` projected-gradient steps of size
    ``step`` (1 / largest eigenvalue of basis.T @ basis) on ||basis @ S - mel||^2, S >= 0.
    The result S is raised to ``exponent`` (1/power of the mel input: 0.5 turns power into
    magnitude). mel [n_mels], spec/grad [bins]: float64 scratch.
    out: float32 [>=count, channels, bins].
    """
    n_mels = pinv.shape[1]
    bins = pinv.shape[0]
    for f in range(count):
        for c in range(frames.shape[1]):
            for m in range(n_mels):
                v = frames[f, c, m]
                mel[m] = ref * 10.0 ** (v / 10.0) if from_db else v
            for b in range(bins):
                acc = 0.0
                for m in range(n_mels):
                    acc += pinv[b, m] * mel[m]
                spec[b] = acc if acc > 0.0 else 0.0
            for _ in range(iterations):
                for b in range(bins):
                    grad[b] = 0.0
                for m in range(n_mels):
                    b0 = start[m]
                    acc = 0.0
                    for j in range(stop[m] - b0):
                        acc += values[m, j] * spec[b0 + j]
                    r = acc - mel[m]
                    for j in range(stop[m] - b0):
                        grad[b0 + j] += values[m, j] * r
                for b in range(bins):
                    s = spec[b] - step * grad[b]
                    spec[b] = s if s > 0.0 else 0.0
            for b in range(bins):
                out[f, c, b] = spec[b] ** exponent
