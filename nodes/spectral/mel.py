"""Mel filterbank node and its least-squares inverse."""
from __future__ import annotations

import math

import numpy as np

from neuropatch.engine import Node, Param, Port
from neuropatch.engine.streams import StreamSpec

from .mel_filters import mel_filterbank, sparse_rows
from .mel_kernels import mel_block, mel_inverse_block
from .stream_settings import described

AMIN = 1e-10
NORMS = ("slaney", "none")


def _filter_params() -> list:
    return [
        Param("n_mels", 1, 1024, 128, int, structural=True),
        Param("fmin", 0.0, 384000.0, 0.0, unit="Hz", structural=True),
        Param("fmax", 0.0, 384000.0, 0.0, unit="Hz", doc="upper edge; 0 = Nyquist (sample_rate / 2)", structural=True),
        Param.flag("htk", False, doc="HTK mel scale instead of Slaney's", structural=True),
        Param.choice("norm", NORMS, "slaney", doc="slaney: each filter has unit area in Hz", structural=True),
    ]


def _db_params() -> list:
    return [
        Param.flag("db", False, doc="10*log10(mel / ref) instead of linear"),
        Param("top_db", 0.0, 400.0, 80.0, unit="dB", doc="dB values clamp at -top_db (below ref); 0 = no clamp", structural=True),
        Param("ref", 1e-10, 1e10, 1.0, log=True, doc="reference: ref maps to 0 dB", structural=True),
    ]


def _filterbank(ctx, p: dict, n_fft: int, n_mels: int) -> np.ndarray:
    """float32 [n_mels, n_fft // 2 + 1] mel weights from the filter params ``p``."""
    return mel_filterbank(ctx.sample_rate, n_fft, n_mels, p["fmin"], p["fmax"] or None, p["htk"], p["norm"])


class Mel(Node):
    """Mel filterbank of an STFT stream (librosa.feature.melspectrogram(S=...) per frame).

    Input ``in``: frames float32 [frames, channels, bins] - magnitude or power, whatever
    the STFT emits; n_fft = 2 * (bins - 1). Output ``out``: frames float32
    [frames, channels, n_mels], linear (the filterbank applied to the input), or with
    ``db`` the power_to_db of it: 10*log10(max(1e-10, mel)) - 10*log10(max(1e-10, ref)),
    clamped below at -top_db.

    Streaming dB: librosa's default top_db is relative to the maximum of the whole file,
    which a stream cannot know; here the reference is the fixed ``ref`` param and the
    clamp sits top_db below it. With ref set to a file's maximum this equals
    librosa.power_to_db(S, ref=np.max, top_db=top_db) exactly.
    """

    type_id = "spectral.mel"
    title = "Mel"
    category = "spectral"
    doc = ("Mel filterbank (librosa's definition: Slaney or HTK scale, slaney or no norm) of an "
           "STFT magnitude or power stream; n_fft comes from the input bins. Optional dB: "
           "10*log10(mel/ref), clamped at -top_db below the fixed ref.")
    inputs = [Port("in", "frames")]
    outputs = [Port("out", "frames")]
    params = _filter_params() + _db_params()

    @classmethod
    def contract_setup(cls, tmp_dir):
        return {"inputs": {"in": {"channels": 1, "bins": 513, "hop": 256}}}

    def prepare(self, ctx):
        spec = ctx.in_specs.get("in") or StreamSpec("frames", channels=1, bins=1025, hop=512)
        p = self.param_values
        self.basis = _filterbank(ctx, p, 2 * (spec.bins - 1), p["n_mels"])
        self._start, self._stop, self._values = sparse_rows(self.basis)
        self._bins = spec.bins
        self._channels = spec.channels
        ctx.out_specs["out"] = described(
            StreamSpec("frames", channels=spec.channels, bins=p["n_mels"], hop=spec.hop), spec,
            n_mels=p["n_mels"], fmin=p["fmin"], fmax=p["fmax"] or ctx.sample_rate / 2.0, htk=p["htk"],
            norm=p["norm"], db=p["db"], ref=p["ref"], top_db=p["top_db"])
        self._ref_db = 10.0 * math.log10(max(AMIN, p["ref"]))
        self._floor_db = -p["top_db"] if p["top_db"] > 0 else -np.inf

    def process(self, ins, outs, n):
        frames, out = ins.get("in"), outs["out"]
        if frames is None or frames.count == 0 or frames.data.shape[2] != self._bins:
            out.count = 0
            return
        mel_block(frames.data, frames.count, self._start, self._stop, self._values,
                  self.param_values["db"], AMIN, self._ref_db, self._floor_db, out.data)
        out.count = frames.count


class MelInverse(Node):
    """Mel frames back to linear-frequency magnitude frames (non-negative least squares).

    Input ``in``: frames float32 [frames, channels, n_mels] from :class:`Mel` (linear or
    dB: set ``db``/``ref`` as there; ``power`` = the exponent of the STFT the mel was made
    from: 2 for power, 1 for magnitude). Output ``out``: frames float32
    [frames, channels, n_fft // 2 + 1], linear magnitude.

    Per frame: S0 = max(0, pinv(M) @ mel), then ``iterations`` projected-gradient steps on
    ||M @ S - mel||^2 with S >= 0 (librosa.feature.inverse.mel_to_stft solves the same
    problem with L-BFGS-B); the result is S ** (1 / power). Energy between filter centres
    that the mel bands cannot tell apart is spread smoothly, so this is an approximation.
    """

    type_id = "spectral.mel_inverse"
    title = "Mel inverse"
    category = "spectral"
    doc = ("Least-squares (non-negative) inverse of the mel filterbank back to linear magnitude "
           "frames of n_fft//2+1 bins. Filter params must match the Mel node; power: 2 if the "
           "mel was made from power frames, 1 from magnitude.")
    inputs = [Port("in", "frames")]
    outputs = [Port("out", "frames")]
    params = ([Param("n_fft", 16, 32768, 2048, int, structural=True)] + _filter_params()[1:]
              + [Param("power", 1.0, 2.0, 2.0, doc="exponent of the spectrogram the mel was made from")]
              + [_db_params()[0], _db_params()[2]]
              + [Param("iterations", 0, 200, 10, int, doc="projected-gradient refinement steps")])

    @classmethod
    def contract_setup(cls, tmp_dir):
        return {"inputs": {"in": {"channels": 1, "bins": 128, "hop": 256}}}

    def prepare(self, ctx):
        spec = ctx.in_specs.get("in") or StreamSpec("frames", channels=1, bins=128, hop=512)
        p = self.param_values
        n_fft = p["n_fft"]
        basis = _filterbank(ctx, p, n_fft, spec.bins).astype(np.float64)
        self._pinv = np.linalg.pinv(basis)
        self._start, self._stop, self._values = sparse_rows(basis)
        lam = float(np.linalg.norm(basis, 2)) ** 2
        self._step = 1.0 / lam if lam > 0 else 0.0
        bins = n_fft // 2 + 1
        self._n_mels = spec.bins
        self._mel = np.zeros(spec.bins, np.float64)
        self._spec = np.zeros(bins, np.float64)
        self._grad = np.zeros(bins, np.float64)
        ctx.out_specs["out"] = StreamSpec("frames", channels=spec.channels, bins=bins, hop=spec.hop)

    def process(self, ins, outs, n):
        frames, out = ins.get("in"), outs["out"]
        if frames is None or frames.count == 0 or frames.data.shape[2] != self._n_mels:
            out.count = 0
            return
        p = self.param_values
        mel_inverse_block(frames.data, frames.count, p["db"], p["ref"], self._pinv, self._start,
                          self._stop, self._values, self._step, p["iterations"], 1.0 / p["power"],
                          self._mel, self._spec, self._grad, out.data)
        out.count = frames.count
