"""Control-rate modulation and the audio<->control converters: LFO, envelope follower, VCA.

A control stream carries one value per block; receivers smooth it (the VCA ramps
linearly from the previous block's value to the new one across the block).
"""
from __future__ import annotations

import math

import numpy as np
from neuropatch.engine.jit import njit

from neuropatch.engine import Node, Param, Port

from .dsp.block_ops import multiply_by_ramp

LFO_SHAPES = ("sine", "triangle", "square", "saw")


@njit(cache=True)
def follower_kernel(x, env, attack_coef, release_coef):
    """Peak envelope of x [channels, n] (max over channels) with one-pole attack/release.

    Returns the envelope (linear amplitude) after the last sample.
    """
    channels, n = x.shape
    for i in range(n):
        peak = 0.0
        for c in range(channels):
            v = abs(x[c, i])
            if v > peak:
                peak = v
        coef = attack_coef if peak > env else release_coef
        env = peak + coef * (env - peak)
    return env


class Lfo(Node):
    type_id = "util.lfo"
    title = "LFO"
    category = "modulation"
    doc = ("Low-frequency oscillator on a control stream: offset + depth x shape(rate_hz), "
           "one value per block (its value at the block start).")
    outputs = [Port("out", "control")]
    params = [
        Param.choice("shape", LFO_SHAPES, "sine"),
        Param("rate_hz", 0.01, 50.0, 1.0, unit="Hz", log=True, primary=True),
        Param("depth", -20000.0, 20000.0, 1.0, primary=True),
        Param("offset", -20000.0, 20000.0, 0.0),
    ]

    def prepare(self, ctx):
        self.phase = 0.0

    def reset(self):
        super().reset()
        self.phase = 0.0

    def process(self, ins, outs, n):
        p = self.phase
        shape = self.param_values["shape"]
        if shape == "sine":
            v = math.sin(2 * math.pi * p)
        elif shape == "triangle":
            v = 4 * p - 1 if p < 0.5 else 3 - 4 * p
        elif shape == "square":
            v = 1.0 if p < 0.5 else -1.0
        else:
            v = 2 * p - 1
        outs["out"][0] = self.param_values["offset"] + self.param_values["depth"] * v
        self.phase = (p + self.param_values["rate_hz"] * n / self.sample_rate) % 1.0


class Follower(Node):
    type_id = "util.follower"
    title = "Envelope Follower"
    category = "modulation"
    doc = ("Audio -> control converter: the peak envelope of the input (linear amplitude, "
           "or dB with 'db' on) with attack/release times, one value per block.")
    inputs = [Port("in", "audio")]
    outputs = [Port("out", "control")]
    params = [
        Param("attack_ms", 0.1, 1000.0, 5.0, unit="ms", log=True),
        Param("release_ms", 1.0, 5000.0, 120.0, unit="ms", log=True, primary=True),
        Param.flag("db", False),
    ]

    def _coef(self, ms: float) -> float:
        return math.exp(-1.0 / (ms * 1e-3 * self.sample_rate))

    def prepare(self, ctx):
        self.env = 0.0

    def reset(self):
        super().reset()
        self.env = 0.0

    def process(self, ins, outs, n):
        self.env = follower_kernel(ins["in"], self.env, self._coef(self.param_values["attack_ms"]),
                                   self._coef(self.param_values["release_ms"]))
        if self.param_values["db"]:
            outs["out"][0] = 20.0 * math.log10(max(self.env, 1e-5))
        else:
            outs["out"][0] = self.env


class Vca(Node):
    type_id = "util.vca"
    bypass_routes = (("in", "out"),)
    title = "VCA"
    category = "modulation"
    doc = ("Control -> audio gain: multiplies audio by the 'gain' control (linear), ramping "
           "linearly across each block from the previous value, so steps never click.")
    inputs = [Port("in", "audio"), Port("gain", "control", default=1.0)]
    outputs = [Port("out", "audio")]
    params = [Param("scale", -10.0, 10.0, 1.0, doc="multiplies the control value", primary=True)]

    def prepare(self, ctx):
        self._ramp = np.zeros(ctx.block_size, np.float32)
        self._index = np.arange(1, ctx.block_size + 1, dtype=np.float32)
        self._last = None

    def reset(self):
        super().reset()
        self._last = None

    def process(self, ins, outs, n):
        target = float(ins["gain"][0]) * self.param_values["scale"]
        last = target if self._last is None else self._last
        ramp = self._ramp[:n]
        if target == last:
            np.multiply(ins["in"], np.float32(target), out=outs["out"])
        else:
            np.multiply(self._index[:n], np.float32((target - last) / n), out=ramp)
            ramp += np.float32(last)
            multiply_by_ramp(ins["in"], ramp, outs["out"])
        self._last = target


NODE_CLASSES = [Lfo, Follower, Vca]
