"""A-weighted loudness and RMS node."""
from __future__ import annotations

import numpy as np

from neuropatch.engine import Param, Port

from ..dsp.fft import FFTScratch
from .framing import FramedAnalysis
from .loudness_kernels import a_weighting_db, loudness_block
from .windows import WINDOWS, analysis_window


class Loudness(FramedAnalysis):
    """Perceptual loudness per frame, as DDSP's ``compute_loudness``, plus RMS.

    Input ``in``: audio float32 [channels, n]. Outputs (frames, hop ``hop``):

    - ``out``: float32 [frames, channels, 1], loudness in dB: the mean over FFT bins of
      max(20*log10|X| + A(f) - ref_db, -range_db), X the STFT of the frame (hann window),
      A the A-weighting in dB (clamped at -80 dB, as librosa.A_weighting).
    - ``rms``: float32 [frames, channels, 1], linear RMS of the frame's samples.

    Frames follow the STFT convention (frame k covers samples
    [k*hop - (n_fft - hop), k*hop + hop)); DDSP pads at the end instead, so its frame k
    is this node's frame k + (n_fft - hop) / hop. The default hop (192) is DDSP's 250
    frames per second at 48 kHz. latency_samples = n_fft // 2: a value describes its window's centre.
    """

    type_id = "feature.loudness"
    title = "Loudness"
    category = "feature"
    latency_at_centre = True
    doc = ("A-weighted loudness in dB per frame (DDSP compute_loudness: mean over bins of "
           "20log10|X| + A-weighting - ref_db, floored at -range_db) on 'out', and the frame "
           "RMS on 'rms'.")
    inputs = [Port("in", "audio")]
    outputs = [Port("out", "frames"), Port("rms", "frames")]
    params = [
        Param("n_fft", 16, 32768, 2048, int, structural=True),
        Param("hop", 1, 32768, 192, int, unit="samples", structural=True),
        Param("ref_db", -200.0, 200.0, 20.7, unit="dB", doc="DDSP: white noise of amplitude 1 at n_fft 2048"),
        Param("range_db", 1.0, 400.0, 120.0, unit="dB"),
        Param.choice("window", WINDOWS, "hann", structural=True),
    ]

    def prepare(self, ctx):
        p = self.param_values
        n_fft, hop = p["n_fft"], p["hop"]
        self.prepare_framing(ctx, n_fft, hop)
        self._ones = np.ones(n_fft, np.float64)
        self._window = analysis_window(p["window"], n_fft)
        self._weight = a_weighting_db(np.linspace(0.0, ctx.sample_rate / 2.0, n_fft // 2 + 1))
        self._scratch = FFTScratch(n_fft)
        for name in ("out", "rms"):
            ctx.out_specs[name] = self.frames_spec(1)

    def process(self, ins, outs, n):
        x = self.input_audio(ins, n)
        loud, rms = outs["out"], outs["rms"]
        s = self._scratch
        p = self.param_values
        count = loudness_block(x, self._ring, self._state, self._hop, self._ones, self._window,
                               self._weight, p["ref_db"], p["range_db"], *s.args(), loud.data, rms.data)
        loud.count = count
        rms.count = count
