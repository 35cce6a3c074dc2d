"""Signal generators: band-limited oscillator, noise."""
from __future__ import annotations

import math

import numpy as np
from neuropatch.engine.jit import njit

from neuropatch.engine import Node, Param, Port

from .utility import db_to_gain

WAVEFORMS = ("sine", "saw", "square")


# ---- kernels ------------------------------------------------------------------------------


@njit(cache=True, fastmath=False)
def _poly_blep(t: float, dt: float) -> float:
    """PolyBLEP residual at phase t in [0, 1) for phase increment dt (cycles/sample)."""
    if t < dt:
        t = t / dt
        return t + t - t * t - 1.0
    if t > 1.0 - dt:
        t = (t - 1.0) / dt
        return t * t + t + t + 1.0
    return 0.0


@njit(cache=True, fastmath=False, inline="always")
def blep_saw(phase: float, dt: float) -> float:
    """PolyBLEP saw at phase in [0, 1) for phase increment dt: -1..1."""
    return 2.0 * phase - 1.0 - _poly_blep(phase, dt)


@njit(cache=True, fastmath=False, inline="always")
def blep_square(phase: float, dt: float) -> float:
    """PolyBLEP square at phase in [0, 1) for phase increment dt: -1..1."""
    v = 1.0 if phase < 0.5 else -1.0
    v += _poly_blep(phase, dt)
    t2 = phase + 0.5
    if t2 >= 1.0:
        t2 -= 1.0
    return v - _poly_blep(t2, dt)


@njit(cache=True, fastmath=False)
def oscillator_kernel(out, phase, freq, level, sr, waveform):
    """Fill out [n] float32 with a band-limited waveform; returns the new phase in cycles.

    freq: float32 [n] Hz per sample; level: float32 [n] linear; waveform 0 sine, 1 saw, 2 square.
    """
    n = out.shape[0]
    for i in range(n):
        dt = freq[i] / sr
        if waveform == 0:
            v = np.sin(2.0 * np.pi * phase)
        elif waveform == 1:
            v = blep_saw(phase, dt)
        else:
            v = blep_square(phase, dt)
        out[i] = v * level[i]
        phase += dt
        if phase >= 1.0:
            phase -= np.floor(phase)
    return phase


@njit(cache=True, fastmath=False)
def pink_kernel(white, out, state):
    """Paul Kellet's economy pink filter. white/out: float32 [n]; state: float64 [3]."""
    b0, b1, b2 = state[0], state[1], state[2]
    for i in range(white.shape[0]):
        w = white[i]
        b0 = 0.99765 * b0 + w * 0.0990460
        b1 = 0.96300 * b1 + w * 0.2965164
        b2 = 0.57000 * b2 + w * 1.0526913
        out[i] = (b0 + b1 + b2 + w * 0.1848) * 0.25
    state[0], state[1], state[2] = b0, b1, b2


# ---- nodes --------------------------------------------------------------------------------


class Oscillator(Node):
    type_id = "gen.oscillator"
    title = "Oscillator"
    category = "generators"
    doc = ("Band-limited oscillator (sine, PolyBLEP saw and square). freq_hz and level_db glide; "
           "the optional control input 'freq' overrides freq_hz when connected (clamped to "
           "[0, Nyquist]; a non-finite value counts as 0 Hz).")
    inputs = [Port("freq", "control", doc="frequency in Hz (overrides freq_hz when connected)")]
    outputs = [Port("out", "audio", channels=1)]
    params = [
        Param.choice("waveform", WAVEFORMS, "sine"),
        Param("freq_hz", 1.0, 20000.0, 440.0, unit="Hz", log=True, smooth_ms=10.0, primary=True),
        Param("level_db", -96.0, 0.0, -12.0, unit="dB", smooth_ms=10.0, primary=True),
    ]

    def param_to_internal(self, name, value):
        return db_to_gain(value) if name == "level_db" else float(value)

    def prepare(self, ctx):
        self._freq = np.zeros(ctx.block_size, np.float32)
        self._level = np.zeros(ctx.block_size, np.float32)
        self._freq_connected = ctx.in_specs.get("freq") is not None
        self.phase = 0.0
        self._waveform = WAVEFORMS.index(self.param_values["waveform"])

    def on_param(self, name, value):
        if name == "waveform":
            self._waveform = WAVEFORMS.index(value)

    def reset(self):
        super().reset()
        self.phase = 0.0

    def process(self, ins, outs, n):
        freq, level = self._freq[:n], self._level[:n]
        if self._freq_connected:
            f = float(ins["freq"][0])
            # NaN/Inf would poison the phase for good: treat them as 0 Hz (hold the phase)
            f = min(max(f, 0.0), self.sample_rate * 0.5) if math.isfinite(f) else 0.0
            freq.fill(f)
        else:
            self.smoother("freq_hz").fill(freq)
        self.smoother("level_db").fill(level)
        self.phase = oscillator_kernel(outs["out"][0], self.phase, freq, level,
                                       float(self.sample_rate), self._waveform)


class Noise(Node):
    type_id = "gen.noise"
    title = "Noise"
    category = "generators"
    doc = "White or pink noise, reproducible from its seed (reset restarts the sequence)."
    outputs = [Port("out", "audio", channels=1)]
    params = [
        Param.choice("color", ("white", "pink"), "white"),
        Param("level_db", -96.0, 0.0, -12.0, unit="dB", smooth_ms=10.0, primary=True),
        Param("seed", 0, 2**31 - 1, 0, int, structural=True),
    ]

    def param_to_internal(self, name, value):
        return db_to_gain(value) if name == "level_db" else float(value)

    def prepare(self, ctx):
        self._white = np.zeros(ctx.block_size, np.float32)
        self._level = np.zeros(ctx.block_size, np.float32)
        self._pink = np.zeros(3, np.float64)
        self._rng = np.random.Generator(np.random.PCG64(self.param_values["seed"]))

    def reset(self):
        super().reset()
        self._pink[:] = 0.0
        self._rng = np.random.Generator(np.random.PCG64(self.param_values["seed"]))

    def process(self, ins, outs, n):
        white = self._white[:n]
        self._rng.random(out=white, dtype=np.float32)
        white *= 2.0
        white -= 1.0
        y = outs["out"][0]
        if self.param_values["color"] == "pink":
            pink_kernel(white, y, self._pink)
        else:
            y[:] = white
        level = self._level[:n]
        self.smoother("level_db").fill(level)
        y *= level


NODE_CLASSES = [Oscillator, Noise]
