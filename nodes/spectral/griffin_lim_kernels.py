"""Streaming Griffin-Lim (real-time iterative spectrogram inversion, RTISI) kernels."""
from __future__ import annotations

import numpy as np
from neuropatch.engine.jit import njit

from ..dsp.fft import irfft, rfft
from .stft_kernels import ola_read


@njit(cache=True, fastmath=False, inline="always")
def _synth(mag, c, f, phase, window, plan, spec_re, spec_im, frame, work):
    """frame = irfft(mag[f, c] * exp(i phase)) * window."""
    for b in range(spec_re.shape[0]):
        m = mag[f, c, b]
        spec_re[b] = m * np.cos(phase[b])
        spec_im[b] = m * np.sin(phase[b])
    irfft(spec_re, spec_im, frame, plan, work)
    for j in range(frame.shape[0]):
        frame[j] *= window[j]


@njit(cache=True, fastmath=False)
def griffin_lim_block(mag, count, acc, phase, frame_index, out_pos, latency, hop, window,
                      inv_wss, inv_partial, iterations, y, plan, frame, seg,
                      spec_re, spec_im, work):
    """Invert ``count`` magnitude frames to audio, then write this block's samples.

    mag: float32 [>=count, channels, bins] linear magnitude. acc: float64 [channels, cap]
    overlap-add ring of committed frames (input-time indexed, as the ISTFT). phase:
    float64 [channels, bins], the previous frame's phase. For frame k each channel's
    phase starts from the previous phase advanced by 2*pi*b*hop/n_fft and is refined
    ``iterations`` times: synthesise, overlap with the committed frames, normalise by the
    partial window-square sum (inv_partial [n_fft]), re-analyse, keep the phase. Then the
    frame is committed. y: float32 [channels, n] output (input time = s - latency).
    plan/work: dsp.fft tables and scratch (float64); frame/seg [n_fft], spec_re/spec_im
    [bins]: float64 scratch.
    """
    n_fft = window.shape[0]
    bins = spec_re.shape[0]
    cap = acc.shape[1]
    channels = y.shape[0]
    for f in range(count):
        k = frame_index + f
        start = k * hop + hop - n_fft
        for c in range(channels):
            ph = phase[c]
            if k == 0:
                for b in range(bins):
                    ph[b] = 0.0
            else:
                for b in range(bins):
                    ph[b] += 2.0 * np.pi * b * hop / n_fft
            for _ in range(iterations):
                _synth(mag, c, f, ph, window, plan, spec_re, spec_im, frame, work)
                for j in range(n_fft):
                    seg[j] = (acc[c, (start + j) % cap] + frame[j]) * inv_partial[j] * window[j]
                rfft(seg, spec_re, spec_im, plan, work)
                for b in range(bins):
                    ph[b] = np.arctan2(spec_im[b], spec_re[b])
            _synth(mag, c, f, ph, window, plan, spec_re, spec_im, frame, work)
            for j in range(n_fft):
                acc[c, (start + j) % cap] += frame[j]
            for b in range(bins):
                ph[b] = np.fmod(ph[b], 2.0 * np.pi)
    for c in range(channels):
        ola_read(acc[c], out_pos - latency, y[c], inv_wss, n_fft, hop)
