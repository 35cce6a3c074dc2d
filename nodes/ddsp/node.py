"""The ``ddsp.synth`` node: f0 + loudness frames -> decoder -> harmonic-plus-noise audio."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from neuropatch.assets import path as shipped_path
from neuropatch.engine import Node, Param, Port
from neuropatch.engine.errors import NeuropatchError, NodeConfigError, ResourceError
from neuropatch.engine.node import Resource
from neuropatch.engine.streams import StreamSpec

from .kernels import synth_block
from .model import load_model, noise_tables

SHIPPED_MODEL = shipped_path("ddsp", "violin.safetensors")
DEFAULT_HOP = 256


class DDSPSynth(Node):
    """DDSP harmonic-plus-noise synthesiser driven by pitch and loudness frames.

    Inputs (frames, 1 channel, 1 bin, same hop): ``f0`` in Hz (0 = unvoiced: the last
    voiced f0 is held), ``loudness`` in dB (feature.loudness). Per frame a small MLP
    (resource ``model``) maps (hz_to_midi(f0) / 127, (loudness + 80) / 80) to an overall
    amplitude, a harmonic distribution (softmax, harmonics at or above Nyquist removed)
    and noise band magnitudes (DDSP exp_sigmoid). Output ``out``: float32 [1, n] audio,
    the sum of the additive synth and band-limited noise (fixed seed).

    Timing: output segment s (samples [s*hop, (s+1)*hop)) glides linearly from frame
    s-2's controls to frame s-1's, so each frame is reached ``hop`` samples after it
    arrives: latency_samples = hop (on top of the feature nodes' own latency).
    """

    type_id = "ddsp.synth"
    title = "DDSP synth"
    category = "ddsp"
    doc = ("DDSP harmonic-plus-noise synth: f0 (Hz) and loudness (dB) frames through a trained "
           "decoder (.safetensors) to audio; timbre transfer from any monophonic input.")
    inputs = [Port("f0", "frames", 1, doc="f0 in Hz per frame (feature.pitch 'out')"),
              Port("loudness", "frames", 1, doc="loudness in dB per frame (feature.loudness 'out')")]
    outputs = [Port("out", "audio", 1)]
    params = [
        Param("pitch_shift_semitones", -24.0, 24.0, 0.0, unit="st"),
        Param("loudness_offset_db", -40.0, 40.0, 0.0, unit="dB", doc="added to the loudness the decoder sees"),
        Param("noise_db", -60.0, 12.0, 0.0, unit="dB", doc="noise part level"),
        Param("gain_db", -60.0, 24.0, 0.0, unit="dB"),
    ]
    resources = [Resource("model", (".safetensors",), "DDSP decoder weights (train-ddsp)", required=True)]
    prepare_does_io = True

    @classmethod
    def contract_setup(cls, tmp_dir):
        shape = {"channels": 1, "bins": 1, "hop": DEFAULT_HOP}
        return {"resources": {"model": str(SHIPPED_MODEL)}, "inputs": {"f0": shape, "loudness": shape}}

    @classmethod
    def resource_info(cls, name, path):
        try:
            cfg = load_model(path).config
        except NeuropatchError as exc:
            return {"error": str(exc)}
        return {"model": str(cfg.get("name", Path(path).stem)), "rate": f"{cfg['sample_rate']} Hz",
                "harmonics": str(cfg["n_harmonics"]), "noise bands": str(cfg["n_bands"]),
                "hop": str(cfg["hop"])}

    def prepare(self, ctx):
        f0_spec, loud_spec = ctx.in_specs.get("f0"), ctx.in_specs.get("loudness")
        for port, spec in (("f0", f0_spec), ("loudness", loud_spec)):
            if spec is not None and (spec.channels != 1 or spec.bins != 1):
                raise NodeConfigError(ctx.node_id, f"input {port!r} expects 1 channel x 1 bin frames, got "
                                                   f"{spec.channels} x {spec.bins}")
        if f0_spec is not None and loud_spec is not None and f0_spec.hop != loud_spec.hop:
            raise NodeConfigError(ctx.node_id, f"inputs 'f0' (hop {f0_spec.hop}) and 'loudness' (hop "
                                               f"{loud_spec.hop}) must share one hop")
        spec = f0_spec or loud_spec
        hop = spec.hop if spec is not None and spec.hop > 0 else DEFAULT_HOP
        path = self.resource_paths.get("model")
        if path is None:
            raise ResourceError("no model file set (resource 'model')")
        model = load_model(path)
        self._hop = int(hop)
        self._weights = model.weights64()
        self._slope = float(model.config.get("leaky_slope", 0.1))
        self._noise_bias = float(model.config.get("noise_bias", -5.0))
        h1, h2 = model.config["hidden"]
        k, b = model.n_harmonics, model.n_bands
        self._h1, self._h2, self._o = np.zeros(h1), np.zeros(h2), np.zeros(1 + k + b)
        self._tables = noise_tables(model.config, ctx.sample_rate)
        cap = 2 * StreamSpec("frames", 1, 1, self._hop).max_frames(ctx.block_size) + 4
        self._f0_ring, self._loud_ring = np.zeros(cap), np.zeros(cap)
        self._istate = np.zeros(9, np.int64)
        self._fstate = np.zeros(5)
        self._amps = (np.zeros(k), np.zeros(k))
        self._noise = (np.zeros(b), np.zeros(b))
        self._phase = np.zeros(1)
        self._position = np.zeros(1, np.int64)
        self._empty = np.zeros((1, 1, 1), np.float32)
        self.latency_samples = self._hop
        if model.config.get("sample_rate") != ctx.sample_rate:
            ctx.note(f"model trained at {model.config.get('sample_rate')} Hz, running at {ctx.sample_rate} Hz")
        self.reset()

    def reset(self):
        super().reset()
        if not hasattr(self, "_istate"):
            return
        self._istate[:] = 0
        self._fstate[:] = 0.0
        self._fstate[4] = -120.0  # held loudness before any frame: silence
        for arr in (*self._amps, *self._noise, self._phase, self._f0_ring, self._loud_ring):
            arr[:] = 0.0
        self._position[:] = 0

    def process(self, ins, outs, n):
        f0, loud = ins["f0"], ins["loudness"]
        p = self.param_values
        w1, b1, w2, b2, w3, b3 = self._weights
        synth_block(f0.data, f0.count, loud.data, loud.count, outs["out"][0], n, self._hop,
                    float(self.sample_rate), self._f0_ring, self._loud_ring, self._istate, self._fstate,
                    self._amps[0], self._amps[1], self._noise[0], self._noise[1], self._phase,
                    self._position, w1, b1, w2, b2, w3, b3, self._slope, self._noise_bias,
                    self._h1, self._h2, self._o, self._tables,
                    2.0 ** (p["pitch_shift_semitones"] / 12.0), p["loudness_offset_db"],
                    10.0 ** (p["noise_db"] / 20.0), 10.0 ** (p["gain_db"] / 20.0))
