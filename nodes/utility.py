"""Utility nodes: gain, mix, delay."""
from __future__ import annotations

import numpy as np

from neuropatch.engine import Node, Param, Port

from .dsp.block_ops import add_scaled, add_scaled_by_ramp, multiply_by_ramp


def db_to_gain(db: float) -> float:
    return 0.0 if db <= -96.0 else float(10.0 ** (db / 20.0))


class Gain(Node):
    type_id = "util.gain"
    bypass_routes = (("in", "out"),)
    title = "Gain"
    category = "utility"
    doc = "Multiplies audio by a gain in dB (glides over 20 ms when changed; -96 dB is silence)."
    inputs = [Port("in", "audio")]
    outputs = [Port("out", "audio")]
    params = [Param("gain_db", -96.0, 24.0, 0.0, unit="dB", smooth_ms=20.0, primary=True)]

    def param_to_internal(self, name, value):
        return db_to_gain(value)

    def prepare(self, ctx):
        self._ramp = np.zeros(ctx.block_size, np.float32)

    def process(self, ins, outs, n):
        x, y = ins["in"], outs["out"]
        sm = self.smoother("gain_db")
        if sm.steady:
            np.multiply(x, np.float32(sm.value), out=y)
        else:
            ramp = self._ramp[:n]
            sm.fill(ramp)
            multiply_by_ramp(x, ramp, y)


class Mix(Node):
    type_id = "util.mix"
    bypass_routes = (("in1", "out"),)
    title = "Mix"
    category = "utility"
    doc = ("Sums up to four audio inputs, each with its own gain in dB. Mono inputs are spread to "
           "every output channel; the output is as wide as the widest input.")
    inputs = [Port(f"in{i}", "audio") for i in range(1, 5)]
    outputs = [Port("out", "audio")]
    params = [Param(f"gain{i}_db", -96.0, 24.0, 0.0, unit="dB", smooth_ms=20.0, primary=i <= 2)
              for i in range(1, 5)]

    def param_to_internal(self, name, value):
        return db_to_gain(value)

    def prepare(self, ctx):
        self._ramp = np.zeros(ctx.block_size, np.float32)
        self._connected = [f"in{i}" for i in range(1, 5) if ctx.in_specs.get(f"in{i}") is not None]

    def process(self, ins, outs, n):
        y = outs["out"]
        y.fill(0.0)
        for port in self._connected:
            x = ins[port]
            sm = self.smoother(port.replace("in", "gain") + "_db")
            if sm.steady:
                add_scaled(y, x, sm.value)
            else:
                ramp = self._ramp[:n]
                sm.fill(ramp)
                add_scaled_by_ramp(y, x, ramp)


class Delay(Node):
    """A plain delay line; the only node that may close a feedback loop.

    In a loop the node outputs from its history before its input is known, so the
    effective delay is at least one block (the compiler notes it when raised).
    """

    type_id = "util.delay"
    bypass_routes = (("in", "out"),)
    title = "Delay"
    category = "utility"
    doc = ("Delays audio by delay_ms (up to 10 s). The only node that may close a feedback loop; "
           "inside a loop the delay is at least one block.")
    inputs = [Port("in", "audio")]
    outputs = [Port("out", "audio")]
    params = [Param("delay_ms", 0.0, 10000.0, 100.0, unit="ms", primary=True)]
    breaks_feedback = True
    MAX_MS = 10000.0

    def __init__(self):
        super().__init__()
        self._feedback = False

    def set_feedback_mode(self, on: bool):
        self._feedback = on
        if on and self.block_size and self._delay_samples() < self.block_size:
            return (f"feedback delay of {self._delay_samples()} samples raised to one block "
                    f"({self.block_size} samples)")
        return None

    def _delay_samples(self) -> int:
        return int(round(self.param_values["delay_ms"] * 1e-3 * (self.sample_rate or 48000)))

    def prepare(self, ctx):
        spec = ctx.in_specs.get("in")
        channels = spec.channels if spec is not None else 1
        self.cap = int(self.MAX_MS * 1e-3 * ctx.sample_rate) + 2 * ctx.block_size + 1
        self.ring = np.zeros((channels, self.cap), np.float32)
        self.pos = 0

    def reset(self):
        super().reset()
        self.ring.fill(0.0)
        self.pos = 0

    def _write(self, x, n):
        cap, pos = self.cap, self.pos
        c = min(x.shape[0], self.ring.shape[0])
        first = min(n, cap - pos)
        self.ring[:c, pos:pos + first] = x[:c, :first]
        if first < n:
            self.ring[:c, : n - first] = x[:c, first:n]

    def _read(self, y, n, delay):
        cap = self.cap
        start = (self.pos - delay) % cap
        first = min(n, cap - start)
        c = min(y.shape[0], self.ring.shape[0])
        y[:c, :first] = self.ring[:c, start:start + first]
        if first < n:
            y[:c, first:n] = self.ring[:c, : n - first]

    def process(self, ins, outs, n):
        self._write(ins["in"], n)
        self._read(outs["out"], n, self._delay_samples())
        self.pos = (self.pos + n) % self.cap

    def process_feedback_read(self, outs, n):
        self._read(outs["out"], n, max(self._delay_samples(), self.block_size) - 0)

    def process_feedback_write(self, ins, n):
        self._write(ins["in"], n)
        self.pos = (self.pos + n) % self.cap


NODE_CLASSES = [Gain, Mix, Delay]
