"""Sample-rate conversion for files and models (offline, not on the audio path)."""
from __future__ import annotations

from fractions import Fraction

import numpy as np


def resample(audio: np.ndarray, from_sr: int, to_sr: int) -> np.ndarray:
    """Polyphase (Kaiser-windowed) resampling along the last axis.

    audio: float32 [..., samples] at from_sr -> float32 [..., round(samples*to_sr/from_sr)].
    """
    if int(from_sr) == int(to_sr):
        return np.ascontiguousarray(audio, dtype=np.float32)
    from scipy.signal import resample_poly  # scipy.signal takes about a second to import

    ratio = Fraction(int(to_sr), int(from_sr)).limit_denominator(1000)
    out = resample_poly(audio.astype(np.float64), ratio.numerator, ratio.denominator, axis=-1,
                        window=("kaiser", 8.6))
    target = int(round(audio.shape[-1] * to_sr / from_sr))
    out = out[..., :target]
    if out.shape[-1] < target:
        out = np.concatenate([out, np.zeros(out.shape[:-1] + (target - out.shape[-1],))], axis=-1)
    return np.ascontiguousarray(out, dtype=np.float32)
