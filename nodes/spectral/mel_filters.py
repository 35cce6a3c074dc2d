"""Mel filterbank construction (the same definition as librosa.filters.mel).

Slaney's mel scale (linear below 1 kHz, logarithmic above) or HTK's
2595*log10(1 + f/700); triangular filters between neighbouring mel points; "slaney"
norm scales each filter to unit area in Hz (2 / bandwidth).
"""
from __future__ import annotations

import numpy as np

_F_SP = 200.0 / 3.0
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = np.log(6.4) / 27.0


def hz_to_mel(hz, htk: bool = False) -> np.ndarray:
    """Frequencies (Hz) -> mel, float64 array of the same shape."""
    hz = np.asarray(hz, np.float64)
    if htk:
        return 2595.0 * np.log10(1.0 + hz / 700.0)
    mel = hz / _F_SP
    log_part = hz >= _MIN_LOG_HZ
    return np.where(log_part, _MIN_LOG_MEL + np.log(np.maximum(hz, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOGSTEP, mel)


def mel_to_hz(mel, htk: bool = False) -> np.ndarray:
    """mel -> frequencies (Hz), float64."""
    mel = np.asarray(mel, np.float64)
    if htk:
        return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)
    hz = _F_SP * mel
    log_part = mel >= _MIN_LOG_MEL
    return np.where(log_part, _MIN_LOG_HZ * np.exp(_LOGSTEP * (mel - _MIN_LOG_MEL)), hz)


def mel_filterbank(sample_rate: float, n_fft: int, n_mels: int, fmin: float = 0.0,
                   fmax: float | None = None, htk: bool = False, norm: str = "slaney") -> np.ndarray:
    """Mel weights float32 [n_mels, n_fft // 2 + 1] (rows: filters, columns: FFT bins)."""
    if fmax is None or fmax <= 0:
        fmax = sample_rate / 2.0
    if not 0 <= fmin < fmax:
        raise ValueError(f"need 0 <= fmin < fmax, got fmin={fmin}, fmax={fmax}")
    if norm not in ("slaney", "none"):
        raise ValueError(f"norm must be 'slaney' or 'none', got {norm!r}")
    bins = n_fft // 2 + 1
    fft_freqs = np.linspace(0.0, sample_rate / 2.0, bins)
    mel_pts = mel_to_hz(np.linspace(hz_to_mel(fmin, htk), hz_to_mel(fmax, htk), n_mels + 2), htk)
    fdiff = np.diff(mel_pts)
    ramps = mel_pts[:, None] - fft_freqs[None, :]
    weights = np.zeros((n_mels, bins), np.float32)
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0.0, np.minimum(lower, upper))
    if norm == "slaney":
        enorm = 2.0 / (mel_pts[2:n_mels + 2] - mel_pts[:n_mels])
        weights *= enorm[:, None]
    return weights


def sparse_rows(weights: np.ndarray) -> tuple:
    """Compact a filterbank to its nonzero span per row.

    Returns (start int64 [rows], stop int64 [rows], values float64 [rows, max_span]) with
    values[r, j] = weights[r, start[r] + j] for j < stop[r] - start[r].
    """
    rows = weights.shape[0]
    start = np.zeros(rows, np.int64)
    stop = np.zeros(rows, np.int64)
    for r in range(rows):
        nz = np.nonzero(weights[r])[0]
        if nz.size:
            start[r], stop[r] = nz[0], nz[-1] + 1
    span = int(max(1, (stop - start).max()))
    values = np.zeros((rows, span), np.float64)
    for r in range(rows):
        values[r, : stop[r] - start[r]] = weights[r, start[r]:stop[r]]
    return start, stop, values
