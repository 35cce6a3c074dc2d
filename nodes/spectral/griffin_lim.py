"""Streaming Griffin-Lim node: magnitude frames -> audio."""
from __future__ import annotations

import numpy as np

from neuropatch.engine import Param, Port
from neuropatch.engine.streams import StreamSpec

from ..dsp.fft import FFTScratch
from .griffin_lim_kernels import griffin_lim_block
from .stft import OverlapAddSynthesis
from .windows import WINDOWS


def partial_window_square_sum(window: np.ndarray, hop: int) -> np.ndarray:
    """float64 [n_fft]: entry j = sum over m >= 0 of window[j + m*hop]**2, the squared
    windows of the newest frame and the older frames overlapping offset j of it."""
    n_fft = window.shape[0]
    w2 = window ** 2
    return np.array([w2[j::hop].sum() for j in range(n_fft)], np.float64)


class GriffinLim(OverlapAddSynthesis):
    """Streaming Griffin-Lim: hear a magnitude stream (e.g. mel -> mel_inverse).

    Input ``in``: frames float32 [frames, channels, n_fft//2 + 1], linear magnitude with
    the STFT framing convention; n_fft from the bins, hop from the stream. Output
    ``out``: audio float32 [channels, n].

    Real-time iterative spectrogram inversion (RTISI, Zhu et al. 2007): frames are
    committed one at a time; each new frame's phase starts from the previous frame's
    phase advanced by the bin's nominal rotation over one hop, and is refined
    ``iterations`` times against the overlap of the already committed frames (a fixed
    amount of work per frame). Output is normalised by the window-square sum as in
    spectral.istft. latency_samples = hop (as spectral.istft).
    """

    type_id = "spectral.griffin_lim"
    title = "Griffin-Lim"
    category = "spectral"
    doc = ("Streaming Griffin-Lim (RTISI): magnitude frames to audio with a fixed number of "
           "phase iterations per frame. Latency hop, as the ISTFT.")
    inputs = [Port("in", "frames")]
    outputs = [Port("out", "audio")]
    params = [
        Param("iterations", 0, 100, 8, int),
        Param.choice("window", WINDOWS, "hann", structural=True),
    ]

    @classmethod
    def contract_setup(cls, tmp_dir):
        return {"params": {"iterations": 2}, "inputs": {"in": {"channels": 1, "bins": 257, "hop": 128}}}

    def prepare(self, ctx):
        spec = ctx.in_specs.get("in") or StreamSpec("frames", channels=1, bins=1025, hop=512)
        self.prepare_synthesis(ctx, spec, spec.channels)
        self._inv_partial = 1.0 / partial_window_square_sum(self._window, self._hop)
        self._phase = np.zeros((spec.channels, spec.bins), np.float64)
        self._seg = np.zeros(self._n_fft, np.float64)
        self._scratch = FFTScratch(self._n_fft)

    def reset(self):
        super().reset()
        self._phase.fill(0.0)

    def process(self, ins, outs, n):
        frames = ins.get("in")
        ok = frames is not None and frames.data.shape[1:] == (self.channels, self._bins)
        count = frames.count if ok else 0
        s = self._scratch
        griffin_lim_block(frames.data if count else self._no_frames, count, self._acc, self._phase,
                          self._frame_index, self._pos, self._n_fft, self._hop, self._window,
                          self._inv_wss, self._inv_partial, self.param_values["iterations"],
                          outs["out"], s.plan, s.frame, self._seg, s.spec_re, s.spec_im, s.work)
        self.advance(count, n)
