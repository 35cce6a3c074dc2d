"""A-weighted loudness and RMS per frame (DDSP's compute_loudness definition)."""
from __future__ import annotations

import numpy as np
from neuropatch.engine.jit import njit

from ..dsp.fft import rfft
from .framing import next_frame, read_frame


def a_weighting_db(frequencies: np.ndarray, min_db: float = -80.0) -> np.ndarray:
    """IEC 61672 A-weighting in dB of frequencies (Hz), float64, clamped below at min_db
    (the constants and clamp of librosa.A_weighting; DC maps to min_db)."""
    f_sq = np.asarray(frequencies, np.float64) ** 2
    c = np.array([12194.217, 20.598997, 107.65265, 737.86223]) ** 2
    with np.errstate(divide="ignore"):
        weights = 2.0 + 20.0 * (np.log10(c[0]) + 2.0 * np.log10(f_sq) - np.log10(f_sq + c[0])
                                - np.log10(f_sq + c[1]) - 0.5 * np.log10(f_sq + c[2])
                                - 0.5 * np.log10(f_sq + c[3]))
    return np.maximum(min_db, weights)


@njit(cache=True, fastmath=False)
def loudness_block(x, ring, state, hop, ones, window, weight_db, ref_db, range_db, plan,
                   frame, spec_re, spec_im, work, loud_out, rms_out):
    """Frame one block; per frame write loudness (dB) and RMS. Returns the frame count.

    loudness = mean over bins of max(20*log10(max(1e-20, |X|)) + weight_db - ref_db,
    -range_db), X the rfft of the windowed frame (DDSP compute_loudness).
    rms = sqrt(mean(frame**2)) of the unwindowed frame (librosa.feature.rms, center=False).
    x: float32 [channels, n]; weight_db float64 [bins]; loud_out/rms_out float32
    [max_frames, channels, 1]. plan/work: dsp.fft tables and scratch; frame [n_fft],
    spec_re/spec_im [bins]: float64 scratch.
    """
    n_fft = frame.shape[0]
    bins = spec_re.shape[0]
    count = 0
    i = next_frame(x, ring, state, 0, hop)
    while i >= 0:
        for c in range(x.shape[0]):
            read_frame(ring, state, c, ones, frame)
            sq = 0.0
            for j in range(n_fft):
                sq += frame[j] * frame[j]
                frame[j] *= window[j]
            rms_out[count, c, 0] = np.sqrt(sq / n_fft)
            rfft(frame, spec_re, spec_im, plan, work)
            acc = 0.0
            for b in range(bins):
                amp = np.sqrt(spec_re[b] * spec_re[b] + spec_im[b] * spec_im[b])
                v = 20.0 * np.log10(max(1e-20, amp)) + weight_db[b] - ref_db
                acc += v if v > -range_db else -range_db
            loud_out[count, c, 0] = acc / bins
        count += 1
        i = next_frame(x, ring, state, i, hop)
    return count
