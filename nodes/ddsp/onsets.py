"""Onset timing between two signals: how late ``y``'s note onsets come after ``x``'s.

The onset strength is the rise of the signal's level: the 256-sample RMS in dB (re its
peak, floored at -80 dB) minus its value 256 samples earlier, positive part. The delay is
the lag that best lines up the two strengths (their cross-correlation's peak), so every
onset of a phrase votes, weighted by how sharp it is. Only notes that start from silence
count as onsets of ``x`` (:func:`after_silence`).
"""
from __future__ import annotations

import numpy as np

WIDTH = 256
SILENCE_DB = -40.0
SILENCE_S = 0.1


def level_db(x: np.ndarray) -> np.ndarray:
    """float64 [samples]: the WIDTH-sample RMS of ``x`` in dB re its peak, floored at -80 dB."""
    env = np.sqrt(np.convolve(np.asarray(x, np.float64) ** 2, np.ones(WIDTH) / WIDTH, mode="same"))
    return 20.0 * np.log10(np.maximum(env / max(float(env.max()), 1e-12), 1e-4))


def after_silence(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """bool [samples]: True where the level stayed under SILENCE_DB (re the peak) for the
    SILENCE_S before (ending one to two WIDTHs back): a note starting there starts from
    silence, not out of the previous note (a legato change of note is a pitch change)."""
    db = level_db(x)
    n_chunks = len(db) // WIDTH
    k = max(1, int(SILENCE_S * sample_rate) // WIDTH)
    quiet = np.zeros(n_chunks, bool)
    if n_chunks > k + 1:
        loudest = np.lib.stride_tricks.sliding_window_view(db[:n_chunks * WIDTH].reshape(n_chunks, WIDTH).max(axis=1),
                                                           k).max(axis=1)
        quiet[k + 1:] = loudest[:n_chunks - k - 1] < SILENCE_DB   # chunks c-k-1 .. c-2 for chunk c
    mask = np.zeros(len(db), bool)
    mask[:n_chunks * WIDTH] = np.repeat(quiet, WIDTH)
    return mask


def onset_strength(x: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """float64 [samples]: the level rise per sample of mono ``x`` (dB over WIDTH samples).

    ``mask`` (bool [samples]) keeps the strength only where it is True."""
    db = level_db(x)
    rise = np.zeros_like(db)
    rise[WIDTH:] = db[WIDTH:] - db[:-WIDTH]
    rise = np.maximum(rise, 0.0)
    return rise if mask is None else rise * mask


def lag_scores(a: np.ndarray, b: np.ndarray, max_lag: int) -> np.ndarray:
    """float64 [max_lag]: sum over t of a[t] * b[t + lag] for lag 0..max_lag-1."""
    n = min(len(a), len(b))
    return np.array([np.dot(a[:n - lag], b[lag:n]) for lag in range(max_lag)])


def onset_delay(x: np.ndarray, y: np.ndarray, sample_rate: int, max_lag: int = 4000) -> int:
    """The lag (samples, 0..max_lag-1) at which ``y``'s onsets best line up with those of
    ``x``'s notes that start from silence."""
    return int(np.argmax(lag_scores(onset_strength(x, after_silence(x, sample_rate)), onset_strength(y), max_lag)))
