"""Guitar-chain effects: cabinet IR convolution, three-band tone stack, noise gate."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from neuropatch.engine.jit import njit

from neuropatch.engine import Node, Param, Port
from neuropatch.engine.audiofile import read_audio
from neuropatch.engine.errors import ResourceError
from neuropatch.engine.node import Resource
from neuropatch.engine.resample import resample

from .dsp.block_ops import add_scaled, add_scaled_by_ramp, multiply_by_ramp
from .dsp.convolver import make_convolver
from .dsp.fft import irfft, rfft
from .utility import db_to_gain

MAX_IR_SECONDS = 10.0


# ---- partitioned convolution -----------------------------------------------------------------


@njit(cache=True, fastmath={"reassoc", "contract"})
def _head_chunk(head, seq, start, stop, out):
    """Direct-form output of the first P taps for partition positions [start, stop):
    out[t - start] = sum over k of head[k] * seq[P + t - k].

    head: float64 [P]; seq: float64 [2P], the previous and the current partition of input;
    out: float64 [>= stop - start]. The loop over time is innermost and contiguous, so it
    vectorises; every output sums its taps in the same order whatever the chunking.
    """
    p_len = head.shape[0]
    count = stop - start
    dst = out[:count]
    for t in range(count):
        dst[t] = 0.0
    for k in range(p_len):
        h = head[k]
        src = seq[p_len + start - k:p_len + stop - k]
        for t in range(count):
            dst[t] += h * src[t]


@njit(cache=True, fastmath=False, inline="always")
def _partition_tail(seq, spec_ir, fdl, fdl_pos, acc, frame, plan, work, tail):
    """A partition of input is complete: push its spectrum into the delay line and
    compute the later partitions' output over the next partition of time into tail.

    Overlap-save: the spectrum of seq = [previous partition, this partition] times each
    IR partition spectrum, summed over the delay line and inverse transformed (into
    frame float64 [2P]); its second half is the linear part.
    """
    p_len = tail.shape[0]
    m = spec_ir.shape[0]
    f = fdl_pos[0] - 1
    if f < 0:
        f = m - 1
    fdl_pos[0] = f
    rfft(seq, fdl[f, 0], fdl[f, 1], plan, work)
    acc_re = acc[0]
    acc_im = acc[1]
    for i in range(p_len + 1):
        acc_re[i] = 0.0
        acc_im[i] = 0.0
    row = f
    for j in range(m):
        s_re = spec_ir[j, 0]
        s_im = spec_ir[j, 1]
        d_re = fdl[row, 0]
        d_im = fdl[row, 1]
        for i in range(p_len + 1):
            acc_re[i] += s_re[i] * d_re[i] - s_im[i] * d_im[i]
            acc_im[i] += s_re[i] * d_im[i] + s_im[i] * d_re[i]
        row += 1
        if row == m:
            row = 0
    irfft(acc_re, acc_im, frame, plan, work)
    for i in range(p_len):
        tail[i] = frame[p_len + i]


@njit(cache=True, fastmath=False, inline="always")
def ir_block(x, y, seq, pos, spec_ir, fdl, fdl_pos, tail, head, acc, frame, plan, work, head_out):
    """Zero-latency uniformly partitioned convolution of one channel.

    x, y: float32 [n]. Per-channel state: seq float64 [2P] (previous and current input
    partition), pos int64 [1] (position in the current partition), fdl float64
    [M, 2, P + 1] delay line of input spectra (re, im), fdl_pos int64 [1], tail float64
    [P] (the later partitions' output over the current partition of time). Shared:
    head float64 [P] (the first P taps, run in direct form), spec_ir float64
    [M, 2, P + 1] real FFTs of the IR's later partitions (taps P.., zero padded to 2P),
    acc [2, P + 1], frame [2P], plan/work (dsp.fft, length 2P), head_out [P] scratch.
    """
    p_len = head.shape[0]
    n = x.shape[0]
    q = pos[0]
    t = 0
    while t < n:
        count = min(n - t, p_len - q)
        for i in range(count):
            seq[p_len + q + i] = x[t + i]
        _head_chunk(head, seq, q, q + count, head_out)
        for i in range(count):
            y[t + i] = np.float32(head_out[i] + tail[q + i])
        t += count
        q += count
        if q == p_len:
            q = 0
            if spec_ir.shape[0] > 0:
                _partition_tail(seq, spec_ir, fdl, fdl_pos, acc, frame, plan, work, tail)
            for i in range(p_len):
                seq[i] = seq[p_len + i]
    pos[0] = q


# ir_block and _partition_tail are inlined here (same fastmath setting), so the FFT code they
# call compiles once, in this kernel, instead of once per call level.
@njit(cache=True, fastmath=False)
def ir_process(x, y, seq, idx, spec_ir, fdl, tail, head, acc, frame, plan, work, head_out):
    """Every channel of a block: x, y float32 [channels, n]; per-channel state arrays have a
    leading channel axis; idx int64 [channels, 2] (partition and delay-line positions)."""
    for ch in range(y.shape[0]):
        ir_block(x[ch], y[ch], seq[ch], idx[ch, 0:1], spec_ir, fdl[ch], idx[ch, 1:2], tail[ch], head, acc,
                 frame, plan, work, head_out)


class ImpulseResponse(Node):
    type_id = "fx.ir"
    compile_seconds = 6.0      # with an FFT; prepare sets the chosen convolver's
    bypass_routes = (("in", "out"),)
    prepare_does_io = True
    title = "Cabinet IR"
    category = "effects"
    doc = ("Convolves audio with an impulse response (a cabinet or room .wav of any rate, "
           "resampled to the graph rate, mixed to mono, at most 10 s), with no latency. Up to 2048 "
           "taps (a cabinet: 43 ms at 48 kHz) in direct form; longer ones by uniformly partitioned "
           "FFT convolution (partition 2*sqrt(IR length) rounded up to a power of two, at most the "
           "block size rounded up to a power of two; the first partition in direct form). normalize: "
           "'energy' scales the IR to unit energy, 'peak' to unit peak, 'off' keeps it. mix is "
           "the dry/wet balance (1 = only the convolved signal).")
    inputs = [Port("in", "audio")]
    outputs = [Port("out", "audio")]
    params = [
        Param("mix", 0.0, 1.0, 1.0, smooth_ms=20.0, doc="dry/wet: 0 dry, 1 wet", primary=True),
        Param.choice("normalize", ("energy", "peak", "off"), "energy", structural=True),
        Param("gain_db", -40.0, 24.0, 0.0, unit="dB", smooth_ms=20.0, doc="gain of the wet signal"),
    ]
    resources = [Resource("ir", (".wav", ".flac", ".aiff", ".ogg"), "impulse response", required=True)]

    @classmethod
    def contract_setup(cls, tmp_dir):
        import soundfile as sf
        rng = np.random.default_rng(3)
        n = 900
        ir = (rng.standard_normal(n) * np.exp(-np.arange(n) / 150.0)).astype(np.float32)
        path = Path(tmp_dir) / "contract_ir.wav"
        sf.write(str(path), ir, 44100, subtype="FLOAT")
        return {"resources": {"ir": str(path)}}

    def prepare(self, ctx):
        path = self.resource_paths.get("ir")
        if path is None:
            raise ResourceError("no impulse response file set (resource 'ir')")
        audio, sr = read_audio(path)
        if audio.shape[1] > MAX_IR_SECONDS * sr:
            raise ResourceError(f"{path}: impulse response longer than {MAX_IR_SECONDS:.0f} s")
        ir = audio.mean(axis=0)
        if sr != ctx.sample_rate:
            ir = resample(ir[None, :], sr, ctx.sample_rate)[0]
            ctx.note(f"impulse response resampled from {sr} Hz to {ctx.sample_rate} Hz")
        ir = ir.astype(np.float64)
        mode = self.param_values["normalize"]
        if mode == "energy":
            norm = math.sqrt(float(np.sum(ir * ir)))
        elif mode == "peak":
            norm = float(np.max(np.abs(ir)))
        else:
            norm = 1.0
        if norm <= 0.0:
            raise ResourceError(f"{path}: impulse response is silent")
        self.ir = ir / norm
        spec = ctx.in_specs.get("in")
        self._channels = c = spec.channels if spec is not None else 1
        self._conv = make_convolver(self.ir, c, ctx.block_size)
        self.compile_seconds = self._conv.compile_seconds
        self._wet = np.zeros((c, ctx.block_size), np.float32)
        self._ramp = np.zeros(ctx.block_size, np.float32)
        self._ramp2 = np.zeros(ctx.block_size, np.float32)

    def reset(self):
        super().reset()
        self._conv.reset()

    def param_to_internal(self, name, value):
        return db_to_gain(value) if name == "gain_db" else float(value)

    def process(self, ins, outs, n):
        x, y = ins["in"], outs["out"]
        wet = self._wet[:, :n]
        self._conv.process(x, wet)
        mix, gain = self.smoother("mix"), self.smoother("gain_db")
        if mix.steady and gain.steady:
            np.multiply(wet, np.float32(mix.value * gain.value), out=y)
            if mix.value < 1.0:
                add_scaled(y, x, 1.0 - mix.value)
        else:
            m, g = self._ramp[:n], self._ramp2[:n]
            mix.fill(m)
            gain.fill(g)
            np.multiply(g, m, out=g)          # wet gain: gain * mix
            multiply_by_ramp(wet, g, y)
            np.subtract(np.float32(1.0), m, out=m)  # dry gain: 1 - mix
            add_scaled_by_ramp(y, x, m)


# ---- tone stack ---------------------------------------------------------------------------


def rbj_biquad(kind: str, f0: float, gain_db: float, q: float, sr: float) -> np.ndarray:
    """RBJ cookbook biquad -> float64 [5] (b0, b1, b2, a1, a2), normalised by a0."""
    a = 10.0 ** (gain_db / 40.0)
    w0 = 2.0 * math.pi * min(f0, 0.45 * sr) / sr
    cw, sw = math.cos(w0), math.sin(w0)
    if kind == "peak":
        alpha = sw / (2.0 * q)
        b = (1 + alpha * a, -2 * cw, 1 - alpha * a)
        den = (1 + alpha / a, -2 * cw, 1 - alpha / a)
    else:
        alpha = sw / 2.0 * math.sqrt(2.0)  # shelf slope 1
        sq = 2.0 * math.sqrt(a) * alpha
        if kind == "low":
            b = (a * ((a + 1) - (a - 1) * cw + sq), 2 * a * ((a - 1) - (a + 1) * cw), a * ((a + 1) - (a - 1) * cw - sq))
            den = ((a + 1) + (a - 1) * cw + sq, -2 * ((a - 1) + (a + 1) * cw), (a + 1) + (a - 1) * cw - sq)
        else:
            b = (a * ((a + 1) + (a - 1) * cw + sq), -2 * a * ((a - 1) + (a + 1) * cw), a * ((a + 1) + (a - 1) * cw - sq))
            den = ((a + 1) - (a - 1) * cw + sq, 2 * ((a - 1) - (a + 1) * cw), (a + 1) - (a - 1) * cw - sq)
    return np.array([b[0] / den[0], b[1] / den[0], b[2] / den[0], den[1] / den[0], den[2] / den[0]])


@njit(cache=True, fastmath=False)
def biquad_cascade(x, y, n, coefs, state):
    """y = cascade of biquads over x. coefs float64 [S, 5]; state float64 [S, 2] (TDF-II)."""
    for t in range(n):
        v = np.float64(x[t])
        for s in range(coefs.shape[0]):
            b0, b1, b2, a1, a2 = coefs[s, 0], coefs[s, 1], coefs[s, 2], coefs[s, 3], coefs[s, 4]
            out = b0 * v + state[s, 0]
            state[s, 0] = b1 * v - a1 * out + state[s, 1]
            state[s, 1] = b2 * v - a2 * out
            v = out
        y[t] = np.float32(v)


class ToneStack(Node):
    type_id = "fx.eq3"
    compile_seconds = 0.3
    bypass_routes = (("in", "out"),)
    title = "Tone Stack"
    category = "effects"
    doc = ("Three-band tone stack: bass low shelf, mid peak and treble high shelf (RBJ biquads, "
           "±15 dB; the corner/centre frequencies are params). A new setting applies at the next block.")
    inputs = [Port("in", "audio")]
    outputs = [Port("out", "audio")]
    params = [
        Param("bass_db", -15.0, 15.0, 0.0, unit="dB", primary=True),
        Param("mid_db", -15.0, 15.0, 0.0, unit="dB", primary=True),
        Param("treble_db", -15.0, 15.0, 0.0, unit="dB", primary=True),
        Param("bass_hz", 40.0, 500.0, 120.0, unit="Hz", log=True),
        Param("mid_hz", 200.0, 5000.0, 800.0, unit="Hz", log=True),
        Param("treble_hz", 1000.0, 12000.0, 3200.0, unit="Hz", log=True),
        Param("mid_q", 0.2, 5.0, 0.7),
    ]

    def prepare(self, ctx):
        spec = ctx.in_specs.get("in")
        self._channels = spec.channels if spec is not None else 1
        self._coefs = np.zeros((3, 5))
        self._state = np.zeros((self._channels, 3, 2))
        self._update()

    def _update(self):
        if not self.sample_rate:
            return
        v, sr = self.param_values, float(self.sample_rate)
        self._coefs[0] = rbj_biquad("low", v["bass_hz"], v["bass_db"], 0.7, sr)
        self._coefs[1] = rbj_biquad("peak", v["mid_hz"], v["mid_db"], v["mid_q"], sr)
        self._coefs[2] = rbj_biquad("high", v["treble_hz"], v["treble_db"], 0.7, sr)

    def on_param(self, name, value):
        if hasattr(self, "_coefs"):
            self._update()

    def reset(self):
        super().reset()
        self._state.fill(0.0)

    def process(self, ins, outs, n):
        x, y = ins["in"], outs["out"]
        for ch in range(self._channels):
            biquad_cascade(x[ch], y[ch], n, self._coefs, self._state[ch])


# ---- noise gate ---------------------------------------------------------------------------


@njit(cache=True, fastmath=False)
def gate_block(x, y, n, channels, env, gain, hold_left, thr_open, thr_close, att_env, rel_env,
               att_gain, rel_gain, hold, floor):
    """Peak envelope (attack/release) keyed on the loudest channel; hysteresis between open
    and close thresholds; hold; the gate gain glides between 1 and ``floor``.
    x, y: float32 [channels, n]; env, gain, hold_left: float64 [1] state."""
    e, g, h = env[0], gain[0], hold_left[0]
    is_open = h > 0.0 or g > 0.5 * (1.0 + floor)
    for t in range(n):
        level = 0.0
        for c in range(channels):
            level = max(level, abs(np.float64(x[c, t])))
        coef = att_env if level > e else rel_env
        e = level + coef * (e - level)
        if e >= thr_open:
            is_open = True
            h = hold
        elif e < thr_close:
            if h > 0.0:
                h -= 1.0
            else:
                is_open = False
        target = 1.0 if is_open else floor
        gc = att_gain if target > g else rel_gain
        g = target + gc * (g - target)
        for c in range(channels):
            y[c, t] = np.float32(x[c, t] * g)
    env[0], gain[0], hold_left[0] = e, g, h


class NoiseGate(Node):
    type_id = "fx.noise_gate"
    compile_seconds = 0.4
    bypass_routes = (("in", "out"),)
    title = "Noise Gate"
    category = "effects"
    doc = ("Noise gate: opens when the peak envelope (all channels) rises above threshold_db, "
           "closes below threshold_db - hysteresis_db after hold_ms; attack_ms/release_ms shape "
           "the gain, which falls to range_db (-96 dB = silence) when closed.")
    inputs = [Port("in", "audio")]
    outputs = [Port("out", "audio")]
    params = [
        Param("threshold_db", -96.0, 0.0, -60.0, unit="dB", primary=True),
        Param("hysteresis_db", 0.0, 20.0, 6.0, unit="dB"),
        Param("attack_ms", 0.05, 50.0, 1.0, unit="ms", log=True),
        Param("hold_ms", 0.0, 500.0, 20.0, unit="ms"),
        Param("release_ms", 1.0, 2000.0, 100.0, unit="ms", log=True),
        Param("range_db", -96.0, 0.0, -96.0, unit="dB"),
    ]

    def prepare(self, ctx):
        spec = ctx.in_specs.get("in")
        self._channels = spec.channels if spec is not None else 1
        self._env = np.zeros(1)
        self._gain = np.zeros(1)
        self._hold = np.zeros(1)
        self._coefs()
        self.reset()

    def _coefs(self):
        v, sr = self.param_values, float(self.sample_rate)

        def coef(ms):
            return math.exp(-1.0 / max(ms * 1e-3 * sr, 1e-9))

        thr = 10.0 ** (v["threshold_db"] / 20.0)
        self._args = (thr, thr * 10.0 ** (-v["hysteresis_db"] / 20.0), coef(0.1), coef(v["release_ms"] * 0.5),
                      coef(v["attack_ms"]), coef(v["release_ms"]), v["hold_ms"] * 1e-3 * sr,
                      db_to_gain(v["range_db"]))

    def on_param(self, name, value):
        if self.sample_rate:
            self._coefs()

    def reset(self):
        super().reset()
        self._env[0] = 0.0
        self._gain[0] = db_to_gain(self.param_values["range_db"])
        self._hold[0] = 0.0

    def process(self, ins, outs, n):
        a = self._args
        gate_block(ins["in"], outs["out"], n, self._channels, self._env, self._gain, self._hold,
                   a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7])


NODE_CLASSES = [ImpulseResponse, ToneStack, NoiseGate]
