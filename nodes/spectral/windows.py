"""Analysis windows (periodic, as librosa's ``get_window(..., fftbins=True)``)."""
from __future__ import annotations

import numpy as np

WINDOWS = ("hann", "hamming", "blackman")


def analysis_window(name: str, n_fft: int) -> np.ndarray:
    """float64 [n_fft] periodic window."""
    if name not in WINDOWS:
        raise ValueError(f"window must be one of {list(WINDOWS)}, got {name!r}")
    from scipy.signal import get_window  # scipy.signal takes about a second to import

    return np.asarray(get_window(name, n_fft, fftbins=True), np.float64)


def window_square_sum(window: np.ndarray, hop: int) -> np.ndarray:
    """float64 [hop]: steady-state overlap-add sum of window**2 at each phase of the hop.

    Entry j is sum over m of window[j + m*hop]**2 (every frame covering a sample whose
    offset in its newest frame is j). Raises when some phase is (nearly) uncovered, i.e.
    the window/hop pair cannot be inverted.
    """
    n_fft = window.shape[0]
    w2 = window ** 2
    wss = np.zeros(hop, np.float64)
    for j in range(hop):
        wss[j] = w2[j::hop].sum() if j < n_fft else 0.0
    if wss.min() < 1e-8 * max(wss.max(), 1e-30):
        raise ValueError(f"window of {n_fft} samples with hop {hop} does not overlap enough to invert")
    return wss
