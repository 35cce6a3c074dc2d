"""A minimal neuropatch node pack: ``example.tremolo``, amplitude modulation by a sine LFO."""
from __future__ import annotations

import numpy as np

from neuropatch.engine import Node, Param, Port


class Tremolo(Node):
    """Multiplies audio by ``1 - depth * (1 + sin(2 pi rate t)) / 2``.

    The LFO phase comes from a sample counter, so the output does not depend on how the
    audio is cut into blocks (a rule every node follows), and ``reset`` restarts it.
    """

    # Identity: saved patches store type_id, version and the param names; never change them
    # (add legacy_ids or a migration instead). Prefix ids with your pack's name.
    type_id = "example.tremolo"
    version = 1
    title = "Tremolo"
    category = "examples"
    doc = "Amplitude modulation by a sine LFO: rate in Hz, depth 0 (off) to 1 (full)."
    inputs = [Port("in", "audio")]
    outputs = [Port("out", "audio")]
    params = [
        Param("rate_hz", 0.1, 20.0, 5.0, unit="Hz", doc="LFO rate"),
        Param("depth", 0.0, 1.0, 0.5, doc="0: no effect, 1: the level dips to silence"),
    ]
    bypass_routes = (("in", "out"),)   # bypassed, the node passes its input through

    def prepare(self, ctx):
        # Allocate here, never in process(): buffers for the largest block.
        self._offsets = np.arange(ctx.block_size, dtype=np.float64)
        self._phase = np.zeros(ctx.block_size, np.float64)
        self._gain = np.zeros(ctx.block_size, np.float32)
        self._position = 0   # samples since prepare/reset

    def reset(self):
        super().reset()
        self._position = 0

    def process(self, ins, outs, n):
        x, y = ins["in"], outs["out"]          # float32 [channels, n]; y is preallocated
        step = 2.0 * np.pi * self.param_values["rate_hz"] / self.sample_rate
        phase, gain = self._phase[:n], self._gain[:n]
        np.add(self._offsets[:n], self._position, out=phase)
        np.multiply(phase, step, out=phase)
        np.sin(phase, out=phase)
        depth = self.param_values["depth"]
        np.multiply(phase, -0.5 * depth, out=phase)
        np.add(phase, 1.0 - 0.5 * depth, out=phase)
        gain[:] = phase
        np.multiply(x, gain, out=y)
        self._position += n


def node_classes():
    """The entry point: every node class of this pack."""
    return [Tremolo]
