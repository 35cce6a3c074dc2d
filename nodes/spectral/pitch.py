"""Monophonic pitch (f0) tracker node."""
from __future__ import annotations

import math

import numpy as np

from neuropatch.engine import Param, Port

from ..dsp.fft import make_plan, make_work
from .framing import FramedAnalysis
from .pitch_kernels import pitch_block


class Pitch(FramedAnalysis):
    """Streaming YIN f0 estimator.

    Input ``in``: audio float32 [channels, n]. Outputs (frames, one value per frame and
    audio channel, hop ``hop``):

    - ``out``: float32 [frames, channels, 1], f0 in Hz; 0 when the frame is unvoiced.
    - ``confidence``: float32 [frames, channels, 1], 1 - d'(tau) of the YIN cumulative
      mean normalised difference at the chosen lag, in [0, 1] (a voicing probability).

    Frames follow the STFT convention (frame k covers samples
    [k*hop - (frame_length - hop), k*hop + hop)); the difference function integrates the
    first frame_length // 2 samples of the frame, so lags reach frame_length // 2 and fmin
    is raised to sample_rate / (frame_length // 2) when lower. A frame is voiced when
    d'(tau) dips below ``threshold`` between the lags of fmax and fmin.
    latency_samples = frame_length // 2: a value describes its window's centre.
    """

    type_id = "feature.pitch"
    compile_seconds = 7.0
    title = "Pitch"
    category = "feature"
    latency_at_centre = True
    doc = ("Monophonic f0 (YIN) per frame: 'out' f0 in Hz (0 when unvoiced), 'confidence' in "
           "[0, 1]. fmin/fmax bound the search; frame_length must be >= 2*sample_rate/fmin.")
    inputs = [Port("in", "audio")]
    outputs = [Port("out", "frames"), Port("confidence", "frames")]
    params = [
        Param("fmin", 20.0, 10000.0, 50.0, unit="Hz", log=True, structural=True),
        Param("fmax", 40.0, 20000.0, 2000.0, unit="Hz", log=True, structural=True),
        Param("frame_length", 64, 16384, 2048, int, doc="analysis frame in samples (a power of two)", structural=True),
        Param("hop", 1, 16384, 256, int, unit="samples", structural=True),
        Param("threshold", 0.01, 1.0, 0.15, doc="YIN dip threshold: voiced below it"),
    ]

    def prepare(self, ctx):
        p = self.param_values
        n, hop = p["frame_length"], p["hop"]
        self.prepare_framing(ctx, n, hop)
        sr = float(ctx.sample_rate)
        self._tau_max = max(3, min(int(math.ceil(sr / p["fmin"])), n // 2))
        self._tau_min = max(2, min(int(math.floor(sr / p["fmax"])), self._tau_max - 1))
        if sr / p["fmin"] > n // 2:
            ctx.note(f"frame_length {n} limits fmin to {sr / (n // 2):.1f} Hz")
        self._ones = np.ones(n, np.float64)
        self._frame = np.zeros(n, np.float64)
        self._plan = make_plan(n)
        bins = n // 2 + 1
        self._work = (np.zeros(n), np.zeros(bins), np.zeros(bins), np.zeros(bins), np.zeros(bins),
                      np.zeros(n), np.zeros(n + 1), np.zeros(n), make_work(n))
        for name in ("out", "confidence"):
            ctx.out_specs[name] = self.frames_spec(1)

    def process(self, ins, outs, n):
        x = self.input_audio(ins, n)
        f0, conf = outs["out"], outs["confidence"]
        count = pitch_block(x, self._ring, self._state, self._hop, self._ones, float(self.sample_rate),
                            self._tau_min, self._tau_max, self.param_values["threshold"], self._plan,
                            self._work, self._frame, f0.data, conf.data)
        f0.count = count
        conf.count = count
