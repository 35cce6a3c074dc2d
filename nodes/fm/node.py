"""``synth.fm``: a six-operator FM synth after the Yamaha DX7 (its 32 algorithms).

Played two ways, chosen by what is connected:

- ``events`` (f0 unconnected): polyphonic, as synth.poly: voices per note, stealing,
  pitch bend; a carrier ADSR scaled by velocity, a modulator ADSR (the timbre's
  envelope) and ``velocity_to_index``.
- ``f0`` frames connected: one voice whose pitch follows the f0 frames and whose operator
  levels follow the ``levels`` frames (6 bins, ddx7.decoder's output) or, unconnected,
  the level params; controls glide linearly between frames, latency one hop.

Units: ``level_k`` of a carrier is its amplitude; of a modulator, the phase deviation it
causes in radians (the modulation index). ``ratio_k`` multiplies the note's frequency;
``detune_k`` shifts it in cents.
"""
from __future__ import annotations

import numpy as np

from neuropatch.engine import Node, Param, Port
from neuropatch.engine.errors import NodeConfigError
from neuropatch.engine.streams import StreamSpec

from ..utility import db_to_gain
from .algorithms import CARRIERS, FEEDBACK, MODULATION, N_OPERATORS
from .kernels import NV, events_block, frames_block

DEFAULT_HOP = 256
DEFAULT_RATIOS = (1.0, 1.0, 1.0, 1.0, 3.0, 14.0)
DEFAULT_LEVELS = (0.8, 1.2, 0.0, 0.0, 0.0, 0.0)


RATIO_KEYS = tuple(f"ratio_{k}" for k in range(1, N_OPERATORS + 1))
DETUNE_KEYS = tuple(f"detune_{k}" for k in range(1, N_OPERATORS + 1))
LEVEL_KEYS = tuple(f"level_{k}" for k in range(1, N_OPERATORS + 1))


def queue_capacity(hop: int, block_size: int) -> int:
    return 2 * StreamSpec("frames", 1, 1, hop).max_frames(block_size) + 4


def operator_params() -> list:
    params = []
    for k in range(1, N_OPERATORS + 1):
        params.append(Param(f"ratio_{k}", 0.0, 32.0, DEFAULT_RATIOS[k - 1],
                            doc=f"operator {k}: frequency as a multiple of the note's"))
        params.append(Param(f"detune_{k}", -100.0, 100.0, 0.0, unit="cents", doc=f"operator {k}: detune"))
        params.append(Param(f"level_{k}", 0.0, 8.0, DEFAULT_LEVELS[k - 1],
                            doc=f"operator {k}: amplitude (carrier) or modulation index in radians (modulator)"))
    return params


class FMSynth(Node):
    type_id = "synth.fm"
    title = "FM Synth"
    category = "synth"
    doc = ("Six-operator FM synth with the DX7's 32 algorithms: per-operator ratio, detune and level, "
           "feedback, carrier and modulator envelopes. Plays notes from events (polyphonic, pitch bend), "
           "or one voice from f0 frames and per-operator level frames (ddx7.decoder). Mono audio out.")
    inputs = [Port("events", "events", doc="notes, pitch bend, all-notes-off (when f0 is unconnected)"),
              Port("f0", "frames", 1, doc="f0 in Hz per frame (0 = unvoiced holds the last f0); plays one voice"),
              Port("levels", "frames", 1, doc="operator levels per frame, 6 bins (ddx7.decoder 'levels')")]
    outputs = [Port("out", "audio", 1)]
    params = [
        Param("algorithm", 1, 32, 1, int, primary=True, doc="DX7 algorithm (operator routing)"),
        *operator_params(),
        Param("feedback", 0.0, 2.0, 0.0, primary=True,
              doc="feedback of the algorithm's feedback operator, radians per unit of its output"),
        Param("voices", 1, 32, 8, int, structural=True, doc="voices (notes sounding at once)"),
        Param("attack_ms", 0.5, 5000.0, 5.0, unit="ms", log=True, doc="carriers' envelope"),
        Param("decay_ms", 1.0, 10000.0, 400.0, unit="ms", log=True),
        Param("sustain", 0.0, 1.0, 0.7),
        Param("release_ms", 1.0, 10000.0, 300.0, unit="ms", log=True),
        Param("mod_attack_ms", 0.5, 5000.0, 5.0, unit="ms", log=True, doc="modulators' envelope"),
        Param("mod_decay_ms", 1.0, 10000.0, 600.0, unit="ms", log=True),
        Param("mod_sustain", 0.0, 1.0, 0.5),
        Param("mod_release_ms", 1.0, 10000.0, 300.0, unit="ms", log=True),
        Param("velocity_to_index", 0.0, 1.0, 0.5, doc="how much velocity scales the modulators"),
        Param("bend_range", 0.0, 24.0, 2.0, unit="st"),
        Param("gain_db", -60.0, 24.0, -6.0, unit="dB", primary=True),
    ]

    @classmethod
    def contract_setup(cls, tmp_dir):
        return {"params": {"level_3": 0.5, "level_4": 0.7, "feedback": 0.8},
                "inputs": {"f0": {"channels": 1, "bins": 1, "hop": DEFAULT_HOP},
                           "levels": {"channels": 1, "bins": N_OPERATORS, "hop": DEFAULT_HOP}}}

    def prepare(self, ctx):
        f0 = ctx.in_specs.get("f0")
        lev = ctx.in_specs.get("levels")
        self._frames_mode = f0 is not None
        hop = DEFAULT_HOP
        for name, spec, bins in (("f0", f0, 1), ("levels", lev, N_OPERATORS)):
            if spec is None:
                continue
            if spec.channels != 1 or spec.bins != bins:
                raise NodeConfigError(ctx.node_id, f"input {name!r} expects 1 channel x {bins} bins frames, "
                                                   f"got {spec.channels} x {spec.bins}")
        if f0 is not None and lev is not None and f0.hop != lev.hop:
            raise NodeConfigError(ctx.node_id, f"inputs 'f0' (hop {f0.hop}) and 'levels' (hop {lev.hop}) "
                                               "must share one hop")
        if lev is not None and f0 is None:
            raise NodeConfigError(ctx.node_id, "input 'levels' needs 'f0' frames too")
        if self._frames_mode:
            hop = f0.hop if f0.hop > 0 else DEFAULT_HOP
            self.latency_samples = hop
            if ctx.in_specs.get("events") is not None:
                ctx.note("f0 frames drive the synth; the events input is ignored")
        self._use_levels = lev is not None
        self._hop = hop
        self.sr = float(ctx.sample_rate)
        self._state = np.zeros((int(self.param_values["voices"]), NV), np.float64)
        self._bend = np.zeros(16, np.float64)
        self._clock = 0.0
        ops = N_OPERATORS
        self._ratios, self._levels_p = np.zeros(ops), np.zeros(ops)
        self._env, self._mod_env = np.zeros(4), np.zeros(4)
        self._inc, self._lev, self._phase, self._y = np.zeros(ops), np.zeros(ops), np.zeros(ops), np.zeros(ops)
        self._fb = np.zeros(2)
        self._ring = np.zeros((queue_capacity(hop, ctx.block_size), 1 + ops))
        self._qstate = np.zeros(3, np.int64)
        self._seg = np.zeros(2, np.int64)
        self._fstate = np.zeros(3)
        self._lev_a, self._lev_b = np.zeros(ops), np.zeros(ops)
        self._empty_levels = np.zeros((1, 1, ops), np.float32)

    def reset(self):
        super().reset()
        if not hasattr(self, "_state"):
            return
        for arr in (self._state, self._bend, self._phase, self._y, self._fb, self._ring, self._qstate, self._seg,
                    self._fstate, self._lev_a, self._lev_b):
            arr.fill(0)
        self._clock = 0.0

    def _read_params(self) -> None:
        p = self.param_values
        for k in range(N_OPERATORS):
            self._ratios[k] = p[RATIO_KEYS[k]] * 2.0 ** (p[DETUNE_KEYS[k]] / 1200.0)
            self._levels_p[k] = p[LEVEL_KEYS[k]]
        self._env[0], self._env[1], self._env[2], self._env[3] = (p["attack_ms"], p["decay_ms"], p["sustain"],
                                                                  p["release_ms"])
        self._mod_env[0], self._mod_env[1], self._mod_env[2], self._mod_env[3] = (
            p["mod_attack_ms"], p["mod_decay_ms"], p["mod_sustain"], p["mod_release_ms"])

    def process(self, ins, outs, n):
        p = self.param_values
        self._read_params()
        alg = int(p["algorithm"]) - 1
        gain = db_to_gain(p["gain_db"])
        out = outs["out"][0]
        if self._frames_mode:
            f0 = ins["f0"]
            if self._use_levels:
                lev = ins["levels"]
                count, lev_data = min(f0.count, lev.count), lev.data
            else:
                count, lev_data = f0.count, self._empty_levels
            frames_block(f0.data, lev_data, self._use_levels, count, out, n, self._hop, self.sr, alg, MODULATION,
                         CARRIERS, FEEDBACK, self._ratios, self._levels_p, p["feedback"], gain, self._ring,
                         self._qstate, self._seg, self._fstate, self._lev_a, self._lev_b, self._phase, self._y,
                         self._fb, self._inc, self._lev)
            return
        ev = ins["events"]
        self._clock = events_block(
            out, n, ev.offset, ev.type, ev.channel, ev.data1, ev.data2, ev.value, ev.count, self._state, self._bend,
            self._clock, self.sr, alg, MODULATION, CARRIERS, FEEDBACK, self._ratios, self._levels_p, p["feedback"],
            self._env, self._mod_env, p["velocity_to_index"], p["bend_range"], gain, self._inc, self._lev,
            self._phase, self._y, self._fb)


NODE_CLASSES = [FMSynth]
