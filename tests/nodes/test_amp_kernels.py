"""Activation accuracy (the numbers quoted in nodes/amp/activations.py) and the resampler."""
import numpy as np
from numba import njit

from neuropatch.nodes.amp.activations import tanh_exact, tanh_fast
from neuropatch.nodes.amp.resampler import StreamingResampler


@njit(cache=True)
def _apply(fn_id, x, out):
    for i in range(x.shape[0]):
        out[i] = tanh_exact(x[i]) if fn_id == 0 else tanh_fast(x[i])


def tanh_error(fn_id):
    x = np.linspace(-10, 10, 2_000_001).astype(np.float32)
    out = np.zeros_like(x)
    _apply(fn_id, x, out)
    return float(np.max(np.abs(out.astype(np.float64) - np.tanh(x.astype(np.float64)))))


def test_exact_tanh_is_accurate_to_float32_rounding():
    assert tanh_error(0) <= 4.0e-7


def test_fast_tanh_error_is_as_documented():
    assert tanh_error(1) <= 4.4e-4


def test_resampler_output_count_tracks_the_ratio():
    rs = StreamingResampler(44100, 48000, 256)
    out = np.zeros(rs.max_out, np.float32)
    total = 0
    x = np.zeros(256, np.float32)
    for _ in range(100):
        total += rs.process(x, out)
    assert abs(total - 25600 * 48000 / 44100) <= 2
