"""Per-bin spectral gate and gain/mask nodes."""
from __future__ import annotations

import numpy as np

from neuropatch.engine import Node, Param, Port
from neuropatch.engine.streams import StreamSpec

from .gate_kernels import COMPLEX, MAGNITUDE, POWER, gain_block, gate_block

INPUT_KINDS = ("magnitude", "power", "complex")
_MODES = {"magnitude": MAGNITUDE, "power": POWER, "complex": COMPLEX}


class _PerBinNode(Node):
    """Base of the per-bin nodes: output ``out`` has the shape of input ``in``."""

    def prepare(self, ctx):
        spec = ctx.in_specs.get("in") or StreamSpec("frames", channels=1, bins=1025, hop=512)
        ctx.out_specs["out"] = spec
        self._shape = (spec.channels, spec.bins)
        return spec

    def process(self, ins, outs, n):
        frames, out = ins.get("in"), outs["out"]
        if frames is None or frames.data.shape[1:] != self._shape:
            out.count = 0
            return
        self.process_frames(ins, frames, out)
        out.count = frames.count

    def process_frames(self, ins, frames, out):
        """Fill out.data[:frames.count] from frames whose [channels, bins] match prepare's."""
        raise NotImplementedError


class SpectralGate(_PerBinNode):
    """Per-bin noise gate on an STFT stream.

    Input ``in`` and output ``out``: frames float32 [frames, channels, bins] of the kind
    named by ``input``: magnitude, power, or complex (re/im channel pairs as
    spectral.stft emits them). Each bin whose level is below ``threshold_db`` (dB re 1,
    of the linear magnitude) is multiplied by ``floor_db`` (amplitude; squared for power
    frames); louder bins pass unchanged. No latency.
    """

    type_id = "spectral.gate"
    bypass_routes = (("in", "out"),)
    title = "Spectral gate"
    category = "spectral"
    doc = ("Per-bin gate: bins quieter than threshold_db (magnitude in dB) are attenuated by "
           "floor_db. input tells how to read the frames: magnitude, power or complex pairs.")
    inputs = [Port("in", "frames")]
    outputs = [Port("out", "frames")]
    params = [
        Param("threshold_db", -200.0, 100.0, -40.0, unit="dB", primary=True),
        Param("floor_db", -200.0, 0.0, -80.0, unit="dB", doc="gain applied below the threshold"),
        Param.choice("input", INPUT_KINDS, "magnitude"),
    ]

    @classmethod
    def contract_setup(cls, tmp_dir):
        return {"params": {"threshold_db": -10.0},
                "inputs": {"in": {"channels": 2, "bins": 513, "hop": 256}}}

    def process_frames(self, ins, frames, out):
        p = self.param_values
        gate_block(frames.data, frames.count, _MODES[p["input"]], p["threshold_db"],
                   10.0 ** (p["floor_db"] / 20.0), out.data)


class SpectralGain(_PerBinNode):
    """Per-bin gain: a fixed gain times an optional mask stream.

    Input ``in``: frames float32 [frames, channels, bins]; optional input ``mask``:
    frames float32 [frames, mask_channels, bins] of linear gains (e.g. a model's
    separation mask). Output ``out``: like ``in``. Mask channels map to frame channels
    one to one, from a single mask channel to all, or - for complex frames with twice
    the mask's channels - mask channel c to the re/im pair 2c, 2c+1. A block whose mask
    delivers fewer frames reuses the latest mask frame (all ones before the first).
    ``gain_db`` is an amplitude gain (use ``input = power`` for power frames to square it).
    """

    type_id = "spectral.gain"
    bypass_routes = (("in", "out"),)
    title = "Spectral gain"
    category = "spectral"
    doc = ("Multiplies frames by gain_db and, when connected, by a per-bin mask stream (mask "
           "channels map one-to-one, one-to-all, or one per re/im pair). input=power squares gain_db.")
    inputs = [Port("in", "frames"), Port("mask", "frames")]
    outputs = [Port("out", "frames")]
    params = [
        Param("gain_db", -120.0, 40.0, 0.0, unit="dB", primary=True),
        Param.choice("input", INPUT_KINDS, "magnitude"),
    ]

    @classmethod
    def contract_setup(cls, tmp_dir):
        return {"inputs": {"in": {"channels": 2, "bins": 513, "hop": 256},
                           "mask": {"channels": 1, "bins": 513, "hop": 256}}}

    def prepare(self, ctx):
        spec = super().prepare(ctx)
        mask = ctx.in_specs.get("mask")
        self._use_mask = False
        mc = 1
        if mask is not None and mask.bins == spec.bins:
            mc = mask.channels
            if mc == 1 or mc == spec.channels or 2 * mc == spec.channels:
                self._use_mask = True
            else:
                ctx.note(f"mask has {mc} channels for {spec.channels}-channel frames; mask ignored")
        elif mask is not None:
            ctx.note(f"mask has {mask.bins} bins, frames have {spec.bins}; mask ignored")
        self._pair = self._use_mask and mc != 1 and 2 * mc == spec.channels
        self._hold = np.ones((mc, spec.bins), np.float32)
        self._no_mask = np.zeros((1, mc, spec.bins), np.float32)

    def reset(self):
        super().reset()
        self._hold.fill(1.0)

    def process_frames(self, ins, frames, out):
        p = self.param_values
        gain = 10.0 ** (p["gain_db"] / 20.0)
        if p["input"] == "power":
            gain *= gain
        mask = ins.get("mask")
        use = self._use_mask and mask is not None and mask.data.shape[1:] == self._hold.shape
        gain_block(frames.data, frames.count, gain, mask.data if use else self._no_mask,
                   mask.count if use else 0, use, self._hold, self._pair, out.data)
