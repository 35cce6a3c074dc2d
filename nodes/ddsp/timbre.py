"""Timbre encoder: audio -> MFCC frames -> a variational MLP's mean -> latent z frames.

MFCCs per frame (the framing convention of feature.pitch/loudness, window centre
convention for latency): Hann-windowed frame -> |rfft|^2 -> Slaney mel filterbank
(n_mels) -> log(mel + 1e-6) -> orthonormal DCT-II, first n_mfcc coefficients. The
encoder is ``layers`` x (Dense -> LayerNorm -> leaky ReLU) then a Dense to z's mean
(training also learns a log-variance head). The node smooths the mean with a one-pole
low-pass (``smoothing_s``): training feeds the decoder one z per segment (the segment's
mean), so a slowly moving z is what the decoder knows.

Model file tensors (in the DDSP model that uses z): ``encoder.{i}.dense.*``,
``encoder.{i}.norm.*``, ``encoder.mean.*``, ``encoder.logvar.*``; config ``encoder`` =
{n_mfcc, n_mels, n_fft, units, layers}.
"""
from __future__ import annotations

import math

import numpy as np

from neuropatch.engine.jit import njit

from ..dsp.fft import make_plan, make_work, rfft
from ..spectral.framing import make_ring, next_frame, read_frame
from ..spectral.mel_filters import mel_filterbank
from .decoder_kernels import _dense, _stack

ENCODER_DEFAULTS = {"n_mfcc": 30, "n_mels": 64, "n_fft": 1024, "units": 64, "layers": 2}


def encoder_order(config: dict, z_dims: int) -> list:
    """[(tensor name, shape)] of the encoder, in kernel order (logvar last: training only)."""
    enc = {**ENCODER_DEFAULTS, **(config.get("encoder") or {})}
    units, layers = int(enc["units"]), int(enc["layers"])
    order = []
    for i in range(layers):
        n_in = int(enc["n_mfcc"]) if i == 0 else units
        order += [(f"encoder.{i}.dense.weight", (units, n_in)), (f"encoder.{i}.dense.bias", (units,)),
                  (f"encoder.{i}.norm.weight", (units,)), (f"encoder.{i}.norm.bias", (units,))]
    order += [("encoder.mean.weight", (z_dims, units)), ("encoder.mean.bias", (z_dims,)),
              ("encoder.logvar.weight", (z_dims, units)), ("encoder.logvar.bias", (z_dims,))]
    return order


def dct_matrix(n_mfcc: int, n_mels: int) -> np.ndarray:
    """Orthonormal DCT-II rows, float64 [n_mfcc, n_mels] (scipy.fft.dct(norm='ortho'))."""
    k = np.arange(n_mfcc)[:, None]
    n = np.arange(n_mels)[None, :]
    m = np.cos(np.pi * k * (2 * n + 1) / (2 * n_mels)) * math.sqrt(2.0 / n_mels)
    m[0] /= math.sqrt(2.0)
    return m


class MfccTables:
    """Window, FFT plan and mel/DCT matrices of one MFCC configuration."""

    def __init__(self, sample_rate: int, n_fft: int, n_mels: int, n_mfcc: int):
        self.window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft)
        self.plan, self.work = make_plan(n_fft), make_work(n_fft)
        self.mel = mel_filterbank(sample_rate, n_fft, n_mels).astype(np.float64)
        self.dct = dct_matrix(n_mfcc, n_mels)
        self.frame = np.zeros(n_fft)
        self.re, self.im = np.zeros(n_fft // 2 + 1), np.zeros(n_fft // 2 + 1)
        self.mels = np.zeros(n_mels)
        self.mfcc = np.zeros(n_mfcc)


@njit(cache=True)
def mfcc_frame(ring, state, window, plan, work, frame, re, im, melw, dct, mels, mfcc):
    """MFCCs of the newest frame in the ring (channel 0) into mfcc [n_mfcc] (float64)."""
    read_frame(ring, state, 0, window, frame)
    rfft(frame, re, im, plan, work)
    for m in range(melw.shape[0]):
        acc = 0.0
        for b in range(melw.shape[1]):
            w = melw[m, b]
            if w != 0.0:
                acc += w * (re[b] * re[b] + im[b] * im[b])
        mels[m] = math.log(acc + 1e-6)
    for k in range(dct.shape[0]):
        acc = 0.0
        for m in range(dct.shape[1]):
            acc += dct[k, m] * mels[m]
        mfcc[k] = acc


@njit(cache=True)
def encoder_block(x, ring, state, hop, window, plan, work, frame, re, im, melw, dct, mels, mfcc, theta, layers,
                  tmp, hidden, z, smooth, coeff, slope, out):
    """Frame one block of audio x (float32 [channels, n], channel 0 used); per frame write
    the smoothed z mean into out (float32 [max_frames, z_dims]); returns the frame count.

    smooth [z_dims] carries the low-pass state; coeff = 1 - exp(-hop / (sr * smoothing_s)).
    """
    count = 0
    i = next_frame(x, ring, state, 0, hop)
    while i >= 0:
        mfcc_frame(ring, state, window, plan, work, frame, re, im, melw, dct, mels, mfcc)
        c = _stack(theta, 0, mfcc, layers, tmp, hidden, slope)
        _dense(theta, c, hidden, z)
        for d in range(z.shape[0]):
            smooth[d] += coeff * (z[d] - smooth[d])
            out[count, d] = smooth[d]
        count += 1
        i = next_frame(x, ring, state, i, hop)
    return count


@njit(cache=True)
def mfcc_all(x, hop, ring, state, window, plan, work, frame, re, im, melw, dct, mels, mfcc, out):
    """MFCC frames of a whole signal x (float32 [1, n]) into out (float64 [F, n_mfcc]);
    returns F (training features: the node's own framing and arithmetic)."""
    count = 0
    i = next_frame(x, ring, state, 0, hop)
    while i >= 0 and count < out.shape[0]:
        mfcc_frame(ring, state, window, plan, work, frame, re, im, melw, dct, mels, mfcc)
        out[count] = mfcc
        count += 1
        i = next_frame(x, ring, state, i, hop)
    return count


def mfcc_frames(audio: np.ndarray, sample_rate: int, hop: int, encoder: dict | None = None) -> np.ndarray:
    """MFCCs of float32 [samples] mono audio, float64 [samples // hop, n_mfcc]."""
    enc = {**ENCODER_DEFAULTS, **(encoder or {})}
    tables = MfccTables(sample_rate, int(enc["n_fft"]), int(enc["n_mels"]), int(enc["n_mfcc"]))
    ring, state = make_ring(1, int(enc["n_fft"]))
    x = np.ascontiguousarray(audio, np.float32)[None, :]
    out = np.zeros((x.shape[1] // hop + 1, int(enc["n_mfcc"])))
    t = tables
    n = mfcc_all(x, hop, ring, state, t.window, t.plan, t.work, t.frame, t.re, t.im, t.mel, t.dct, t.mels, t.mfcc, out)
    return out[:n]
