"""DDSP processors: the state and per-block calls behind the ddsp.* nodes.

Each processor owns preallocated state for one stream and runs numba kernels; the
split nodes (ddsp.decoder, ddsp.harmonic, ddsp.noise, ddsp.reverb) wrap one each, and
ddsp.synth chains all of them inside one node. Frames arrays are float32
[max_frames, 1, bins] with a count, as frames ports deliver them.
"""
from __future__ import annotations

import math

import numpy as np

from neuropatch.engine.streams import StreamSpec

from ..dsp.convolver import make_convolver
from .decoder_kernels import decode_mlp_block, decode_rnn_block, push_latent, push_pending, rnn_scratch_size
from .kernels import fir_tables, harmonic_block, noise_block
from .model import DDSPModel

NOISE_SEED = 0x9E3779B97F4A7C15


def queue_capacity(hop: int, block_size: int) -> int:
    """Frames a queue must hold: two blocks' worth plus slack."""
    return 2 * StreamSpec("frames", 1, 1, hop).max_frames(block_size) + 4


class DecoderProcessor:
    """f0 + loudness frames -> (held and shifted f0, amplitude, harmonic distribution,
    noise magnitudes) frames, one output frame per input frame (no latency).

    Unvoiced frames (f0 <= 0) hold the last voiced f0; f0 and loudness frames are
    paired in arrival order (a frame waiting for its partner is queued).
    """

    def __init__(self, model: DDSPModel, block_size: int, hop: int):
        self.model = model
        cfg = model.config
        self.n_harm, self.n_bands = model.n_harmonics, model.n_bands
        self.slope = float(cfg.get("leaky_slope", 0.1))
        self.noise_bias = float(cfg.get("noise_bias", -5.0))
        self.o = np.zeros(model.n_out)
        if model.arch == "rnn":
            units, gru = int(cfg["mlp_units"]), int(cfg["gru_units"])
            streams = 3 if model.z_dims else 2
            self.theta = model.flat64()
            self.dims = np.array([int(cfg["mlp_layers"]), units, gru, streams], np.int64)
            self.h = np.zeros(gru)
            self.scratch = np.zeros(rnn_scratch_size(units, gru, streams))
            self.z = np.zeros(max(model.z_dims, 1))
        else:
            self.w1, self.b1, self.w2, self.b2, self.w3, self.b3 = model.weights64()
            h1, h2 = cfg["hidden"]
            self.h1, self.h2 = np.zeros(h1), np.zeros(h2)
        cap = queue_capacity(hop, block_size)
        self.zq = np.zeros((cap, max(model.z_dims, 1)))
        self.zstate = np.zeros(3, np.int64)
        self.pending = np.zeros((2, cap))   # f0, loudness queues
        self.qstate = np.zeros((2, 3), np.int64)
        self.held_f0 = np.zeros(1)
        self.dist = np.zeros(self.n_harm)
        self.noise = np.zeros(self.n_bands)

    def reset(self) -> None:
        self.pending.fill(0.0)
        self.qstate.fill(0)
        self.held_f0.fill(0.0)
        self.zq.fill(0.0)
        self.zstate.fill(0)
        if self.model.arch == "rnn":
            self.h.fill(0.0)
            self.z.fill(0.0)

    def process(self, f0, f0_count, loud, loud_count, f0_ratio, loud_offset_db, out_f0, out_amp, out_dist,
                out_noise, z_frames=None, z_count: int = 0) -> int:
        """Decode every complete (f0, loudness[, z]) frame set; returns the number of output
        frames. z_frames: float32 [max_frames, z_dims] latent frames, or None (z = 0)."""
        push_pending(self.pending, self.qstate, 0, f0, f0_count)
        push_pending(self.pending, self.qstate, 1, loud, loud_count)
        use_z = z_frames is not None and self.model.z_dims > 0
        if use_z:
            push_latent(self.zq, self.zstate, z_frames, z_count)
        if self.model.arch == "rnn":
            return decode_rnn_block(self.pending, self.qstate, self.held_f0, self.zq, self.zstate, use_z, self.theta,
                                    self.dims, self.z, self.h,
                                    self.scratch, self.o, self.slope, self.noise_bias, f0_ratio, loud_offset_db,
                                    out_f0, out_amp, out_dist, out_noise, self.dist, self.noise)
        # weights passed one by one: star-unpacking would build a tuple per block
        return decode_mlp_block(self.pending, self.qstate, self.held_f0, self.w1, self.b1, self.w2, self.b2, self.w3,
                                self.b3, self.h1, self.h2, self.o,
                                self.slope, self.noise_bias, f0_ratio, loud_offset_db, out_f0, out_amp, out_dist,
                                out_noise, self.dist, self.noise)


class HarmonicProcessor:
    """Streaming additive synth: (f0, amplitude, distribution [K]) frames -> audio; latency hop."""

    def __init__(self, n_harmonics: int, sample_rate: int, block_size: int, hop: int):
        self.hop, self.sample_rate = int(hop), float(sample_rate)
        cap = queue_capacity(hop, block_size)
        self.ring = np.zeros((cap, 2 + n_harmonics))
        self.qstate = np.zeros(3, np.int64)
        self.seg = np.zeros(2, np.int64)
        self.fstate = np.zeros(3)
        self.amps_prev, self.amps_next = np.zeros(n_harmonics), np.zeros(n_harmonics)
        self.phase = np.zeros(1)

    def reset(self) -> None:
        for arr in (self.ring, self.qstate, self.seg, self.fstate, self.amps_prev, self.amps_next, self.phase):
            arr.fill(0)

    def process(self, f0, amp, dist, count, out, n, gain) -> None:
        harmonic_block(f0, amp, dist, count, out, n, self.hop, self.sample_rate, self.ring, self.qstate, self.seg,
                       self.fstate, self.amps_prev, self.amps_next, self.phase, gain)


class NoiseProcessor:
    """Streaming filtered noise: band magnitudes [B] frames -> audio; latency hop.

    White noise (xorshift64*, never repeating) through a per-frame linear-phase FIR of
    2 * (B - 1) taps designed by frequency sampling, crossfaded between frames.
    """

    def __init__(self, n_bands: int, block_size: int, hop: int, seed: int = NOISE_SEED):
        self.hop = int(hop)
        self.seed = np.uint64(seed)
        self.table, self.window = fir_tables(n_bands)
        taps = self.window.shape[0]
        self.ring = np.zeros((queue_capacity(hop, block_size), n_bands))
        self.qstate = np.zeros(3, np.int64)
        self.seg = np.zeros(2, np.int64)
        self.taps_prev, self.taps_next = np.zeros(taps), np.zeros(taps)
        self.hist = np.zeros(2 * taps)
        self.hpos = np.zeros(1, np.int64)
        self.rng = np.array([self.seed], np.uint64)

    def reset(self) -> None:
        for arr in (self.ring, self.qstate, self.seg, self.taps_prev, self.taps_next, self.hist, self.hpos):
            arr.fill(0)
        self.rng[0] = self.seed

    def process(self, mags, count, out, n, gain) -> None:
        noise_block(mags, count, out, n, self.hop, self.ring, self.qstate, self.seg, self.taps_prev, self.taps_next,
                    self.table, self.window, self.hist, self.hpos, self.rng, gain)


def exponential_ir(seconds: float, decay_s: float, sample_rate: int, seed: int = 7) -> np.ndarray:
    """Exponentially decaying noise, float64 [taps]: Gaussian noise * exp(-t / decay_s) with
    60 dB of decay over ``seconds`` at most; tap 0 is zero (the dry path carries it)."""
    taps = max(2, int(round(seconds * sample_rate)))
    t = np.arange(taps) / sample_rate
    ir = np.random.default_rng(seed).standard_normal(taps) * np.exp(-t / max(decay_s, 1e-3))
    ir[0] = 0.0
    return ir / max(math.sqrt(float(np.sum(ir * ir))), 1e-12)


class ReverbProcessor:
    """out = dry + wet_gain * (dry convolved with ir); ir float64 [taps] (tap 0 ignored)."""

    def __init__(self, ir: np.ndarray, block_size: int):
        ir = np.array(ir, np.float64)
        ir[0] = 0.0
        self.conv = make_convolver(ir, 1, block_size)
        self.wet = np.zeros((1, block_size), np.float32)

    def reset(self) -> None:
        self.conv.reset()

    def process(self, x, y, n, wet_gain) -> None:
        """x, y: float32 [1, n] (may be the same array)."""
        wet = self.wet[:, :n]
        self.conv.process(x, wet)
        np.multiply(wet, np.float32(wet_gain), out=wet)
        np.add(x, wet, out=y)
