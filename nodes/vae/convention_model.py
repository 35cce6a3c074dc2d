"""A small streaming VAE that follows the nn~ (RAVE export) TorchScript conventions.

The model is plain torch and scriptable; ``load_convention_model`` returns it scripted,
so code that drives it sees exactly what a RAVE ``.ts`` exported for nn~ presents:

* ``get_methods()`` -> ["encode", "decode", "forward"]; for each method a buffer
  ``<method>_params`` = int64 [in_channels, in_ratio, out_channels, out_ratio] and the
  label lists ``<method>_input_labels`` / ``<method>_output_labels``:

  - ``encode``: audio [batch, 1, T] (T a multiple of ``ratio``) -> latent
    [batch, latent_dims, T / ratio] (one frame per ``ratio`` samples);
  - ``decode``: latent [batch, latent_dims, F] -> audio [batch, 1, F * ratio];
  - ``forward``: audio [batch, 1, T] -> audio [batch, 1, T] (decode(encode(x))).

  Audio is float32 at ``sr`` Hz, nominally within [-1, 1]. Latent dimension 0 is
  the pitch in octaves from ``synth.reference_hz`` (log2(f0 / 440) by default; a fixed
  harmonic-sum tracker, meaningless in silence; add 1/12 to transpose decode by a
  semitone); dimensions 1.. are learned (the posterior mean at temperature 0; unitless,
  roughly unit variance under the KL prior).
* Sample rate both ways: int attribute ``sr`` (nn-tilde 1.5 exports) and exported
  ``get_sample_rate()`` (1.6).
* ``get_attributes()`` -> ["temperature"] with ``get_temperature() -> float`` /
  ``set_temperature(value) -> int`` (buffer ``temperature_params`` = [2], float). The
  temperature scales the posterior noise drawn in encode: 0 (default) returns the mean
  (deterministic); 1 samples the posterior (torch's global RNG: seed it with
  ``torch.manual_seed`` for reproducible draws).
* Streaming: every convolution keeps its left context (or, for upsampling, its
  overlap-add tail) in a buffer whose name ends in ``cache`` with shape
  [64, channels, n] (64 = batch cap; caches are sliced ``[:batch]``). From zeroed
  caches, calling a method on consecutive chunks (multiples of its input ratio) equals
  one call on the whole signal. ``zero_caches`` clears them (what a reset does).

Architecture. Encoder: a log-mel spectrogram computed in the module (``n_fft`` window,
``hop`` samples; streaming through a cache of the previous ``n_fft - hop`` samples), then
strided causal convolutions to one frame per ``ratio`` samples and a 1x1 convolution to
the posterior mean and scale of the learned dimensions; the pitch dimension comes from a
harmonic-sum tracker on the same spectra (:class:`PitchTracker`). Decoder: a causal
convolution and upsampling stages from latent frames to synth frames (``synth.hop``
samples), then heads driving a streaming synth: a fixed bank of sinusoidal oscillators
(equal-tempered steps, ``per_octave`` per octave around ``reference_hz``, between
``fmin`` and ``fmax``) whose amplitudes are a level times a harmonic template (a
learned distribution over ``harmonics`` harmonics) placed on that grid by a
distribution over fundamentals (a bump at the pitch dimension plus learned logits),
plus ``noise_bands`` band-limited noises (a seeded table read in a loop). Amplitudes and
gains glide linearly over each synth frame from the previous frame's values (kept in
``amp_cache`` / ``noise_cache``). Oscillator phases are exact integer arithmetic on a
sample clock (``clock_cache``, int64 per batch entry: frequencies are multiples of
1 / ``freq_resolution`` Hz, the clock counts modulo a common period), so long streams
never drift and chunked calls equal whole calls.

Latency: none beyond the framing. Latent frame j is computed from audio up to the last
sample of block j (samples [j * ratio, (j + 1) * ratio)), and decode renders block j
from frames j and earlier, so ``forward`` reconstructs block j in the same call that
delivers block j.

Files: ``<stem>.safetensors`` (float32 weights, the eager module's ``state_dict``: the
caches, method tables, mel filterbank, oscillator frequencies and noise table are
rebuilt from the config, never stored) and ``<stem>.json`` (the config below plus
free-form training notes). Never pickle.

Config keys (all JSON numbers / lists / objects): ``format`` ("neuropatch.vae"),
``version`` (1), ``sr`` (Hz), ``latent_dims``, ``ratio`` (samples per latent frame),
``frontend`` {``n_fft``, ``hop``, ``bands``, ``fmin``, ``fmax``} (``ratio`` = hop *
product of ``encoder_strides``), ``encoder_strides`` / ``encoder_channels``,
``decoder_strides`` / ``decoder_channels`` (product of the strides * ``synth.hop`` =
``ratio``), ``synth`` {``hop``, ``reference_hz``, ``per_octave``, ``fmin``, ``fmax``, ``f0_max``,
``harmonics``, ``freq_resolution``, ``noise_bands``, ``noise_table_length``,
``noise_seed``},
``temperature`` (default attribute value).
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import List

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from neuropatch.engine.errors import ModelFormatError, ResourceError

FORMAT = "neuropatch.vae"
VERSION = 1
MAX_BATCH = 64


def default_config(**overrides) -> dict:
    """The shipped architecture; keyword arguments replace top-level keys."""
    config = {
        "format": FORMAT, "version": VERSION, "sr": 48000, "latent_dims": 8,
        "frontend": {"n_fft": 2048, "hop": 128, "bands": 96, "fmin": 40.0, "fmax": 16000.0},
        "encoder_strides": [2, 2, 2], "encoder_channels": [128, 128, 128],
        "decoder_strides": [4], "decoder_channels": [192],
        "synth": {"hop": 256, "reference_hz": 440.0, "per_octave": 24, "fmin": 55.0, "fmax": 7040.0,
                  "f0_max": 2000.0, "harmonics": 24, "pitch_width": 0.25, "freq_resolution": 16,
                  "noise_bands": 20, "noise_table_length": 32768, "noise_seed": 0},
        "pitch_tracker": {"harmonics": 12, "decay": 0.85},
        "temperature": 0.0,
    }
    config.update(overrides)
    config["ratio"] = int(config["frontend"]["hop"]) * math.prod(int(s) for s in config["encoder_strides"])
    return config


def check_config(config: dict) -> None:
    """Raise ValueError("config.<key>: ...") when ``config`` cannot describe a model."""
    if not isinstance(config, dict):
        raise ValueError(f"config: expected an object, got {type(config).__name__}")
    if config.get("format") != FORMAT:
        raise ValueError(f"config.format: expected {FORMAT!r}, got {config.get('format')!r}")
    if not isinstance(config.get("version"), int) or config["version"] > VERSION:
        raise ValueError(f"config.version: expected an integer <= {VERSION}, got {config.get('version')!r}")

    def positive_int(value, key):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"config.{key}: expected a positive integer, got {value!r}")
        return value

    def number(value, key):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"config.{key}: expected a number, got {value!r}")
        return value

    def int_list(key, length=None):
        value = config.get(key)
        if not isinstance(value, list) or not value:
            raise ValueError(f"config.{key}: expected a non-empty list of integers, got {value!r}")
        for i, v in enumerate(value):
            positive_int(v, f"{key}[{i}]")
        if length is not None and len(value) != length:
            raise ValueError(f"config.{key}: expected {length} entries (one per stride), got {len(value)}")
        return value

    def section(key):
        value = config.get(key)
        if not isinstance(value, dict):
            raise ValueError(f"config.{key}: expected an object, got {value!r}")
        return value

    for key in ("sr", "latent_dims", "ratio"):
        positive_int(config.get(key), key)
    if config["latent_dims"] < 2:
        raise ValueError("config.latent_dims: expected at least 2 (pitch + one learned dimension)")
    sr, ratio = config["sr"], config["ratio"]
    front = section("frontend")
    for key in ("n_fft", "hop", "bands"):
        positive_int(front.get(key), f"frontend.{key}")
    if front["n_fft"] < front["hop"]:
        raise ValueError("config.frontend.n_fft: must be at least frontend.hop")
    for key in ("fmin", "fmax"):
        number(front.get(key), f"frontend.{key}")
    if not 0 <= front["fmin"] < front["fmax"] <= sr / 2:
        raise ValueError("config.frontend: expected 0 <= fmin < fmax <= sr / 2")
    enc = int_list("encoder_strides")
    int_list("encoder_channels", len(enc))
    dec = int_list("decoder_strides")
    int_list("decoder_channels", len(dec))
    synth = section("synth")
    for key in ("hop", "per_octave", "harmonics", "freq_resolution", "noise_bands", "noise_table_length"):
        positive_int(synth.get(key), f"synth.{key}")
    if isinstance(synth.get("noise_seed"), bool) or not isinstance(synth.get("noise_seed"), int):
        raise ValueError(f"config.synth.noise_seed: expected an integer, got {synth.get('noise_seed')!r}")
    for key in ("reference_hz", "fmin", "fmax", "f0_max", "pitch_width"):
        number(synth.get(key), f"synth.{key}")
    if synth["pitch_width"] <= 0:
        raise ValueError("config.synth.pitch_width: expected a number > 0 (oscillator steps)")
    tracker = section("pitch_tracker")
    positive_int(tracker.get("harmonics"), "pitch_tracker.harmonics")
    if not 0 < number(tracker.get("decay"), "pitch_tracker.decay") <= 1:
        raise ValueError("config.pitch_tracker.decay: expected a number in (0, 1]")
    if not 0 < synth["fmin"] <= synth["f0_max"] <= synth["fmax"] < sr / 2 or synth["reference_hz"] <= 0:
        raise ValueError("config.synth: expected 0 < fmin <= f0_max <= fmax < sr / 2 and reference_hz > 0")
    if len(oscillator_units(synth)) == 0:
        raise ValueError("config.synth: no oscillator between fmin and fmax")
    if front["hop"] * math.prod(enc) != ratio:
        raise ValueError(f"config.ratio: {ratio} != frontend.hop * product(encoder_strides) = "
                         f"{front['hop'] * math.prod(enc)}")
    if math.prod(dec) * synth["hop"] != ratio:
        raise ValueError(f"config.ratio: {ratio} != product(decoder_strides) * synth.hop = "
                         f"{math.prod(dec) * synth['hop']}")
    t = config.get("temperature", 0.0)
    if number(t, "temperature") < 0:
        raise ValueError(f"config.temperature: expected a number >= 0, got {t!r}")


def mel_filterbank(sr: int, n_fft: int, bands: int, fmin: float, fmax: float) -> np.ndarray:
    """Triangular filters on the mel scale (HTK formula), float32 [n_fft // 2 + 1, bands];
    each filter peaks at 1. Filters narrower than a bin still take their nearest bin."""
    def mel(f):
        return 2595.0 * np.log10(1.0 + np.asarray(f, np.float64) / 700.0)

    edges = 700.0 * (10.0 ** (np.linspace(mel(fmin), mel(fmax), bands + 2) / 2595.0) - 1.0)
    freqs = np.arange(n_fft // 2 + 1) * sr / n_fft
    fb = np.zeros((len(freqs), bands))
    for b in range(bands):
        lo, mid, hi = edges[b], edges[b + 1], edges[b + 2]
        fb[:, b] = np.clip(np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)), 0.0, None)
        if not fb[:, b].any():
            fb[int(np.argmin(np.abs(freqs - mid))), b] = 1.0
    return fb.astype(np.float32)


def oscillator_units(synth: dict) -> np.ndarray:
    """Oscillator frequencies of the synth in units of 1 / freq_resolution Hz, int64 [K]:
    reference_hz * 2 ** (k / per_octave) for every integer k with the frequency in
    [fmin, fmax], rounded to the resolution."""
    ref, n = float(synth["reference_hz"]), int(synth["per_octave"])
    k_lo = math.ceil(n * math.log2(float(synth["fmin"]) / ref) - 1e-9)
    k_hi = math.floor(n * math.log2(float(synth["fmax"]) / ref) + 1e-9)
    freqs = ref * 2.0 ** (np.arange(k_lo, k_hi + 1) / n)
    return np.round(freqs * int(synth["freq_resolution"])).astype(np.int64)


def noise_bands(synth: dict, sr: int) -> np.ndarray:
    """Band-limited noise loops, float32 [noise_bands, noise_table_length]: one seeded
    white Gaussian draw split in the frequency domain at edges spaced geometrically from
    sr / 256 to Nyquist (the first band starts at 0 Hz). The bands sum to the white draw."""
    length, nb = int(synth["noise_table_length"]), int(synth["noise_bands"])
    rng = np.random.default_rng(int(synth["noise_seed"]))
    spectrum = np.fft.rfft(rng.standard_normal(length))
    freqs = np.fft.rfftfreq(length, 1.0 / sr)
    edges = np.concatenate([[0.0], np.geomspace(sr / 256.0, sr / 2.0, nb)[:-1], [np.inf]])
    table = np.zeros((nb, length), np.float32)
    for b in range(nb):
        table[b] = np.fft.irfft(np.where((freqs >= edges[b]) & (freqs < edges[b + 1]), spectrum, 0.0), length)
    return table


# ---- streaming layers ------------------------------------------------------------------


class CausalConv(nn.Module):
    """Causal convolution [B, C_in, T] -> [B, C_out, T / stride] (T a multiple of stride).

    Output frame j sees input samples up to j * stride + stride - 1; the previous
    ``kernel - stride`` input samples come from ``cache`` [64, C_in, kernel - stride]
    (zeros after a reset), and the call leaves its own last samples there.
    """

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1):
        super().__init__()
        if kernel < stride:
            raise ValueError("kernel must be at least the stride")
        self.conv = nn.Conv1d(c_in, c_out, kernel, stride)
        self.context = kernel - stride
        self.register_buffer("cache", torch.zeros(MAX_BATCH, c_in, kernel - stride), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.context > 0:
            b = x.shape[0]
            x = torch.cat([self.cache[:b], x], -1)
            self.cache[:b].copy_(x[..., -self.context:].detach())
        return self.conv(x)


class CausalUpsample(nn.Module):
    """Transposed convolution upsampling by ``stride`` (kernel 2 * stride):
    [B, C_in, F] -> [B, C_out, F * stride]. Each input frame spreads over its own block
    and the next; the part that falls into the next call waits in ``cache``
    [64, C_out, stride] (overlap-add)."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv = nn.ConvTranspose1d(c_in, c_out, 2 * stride, stride, bias=False)
        self.bias = nn.Parameter(torch.zeros(c_out))
        self.stride = stride
        self.register_buffer("cache", torch.zeros(MAX_BATCH, c_out, stride), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, s = x.shape[0], self.stride
        y = self.conv(x)  # [B, C_out, (F + 1) * s]
        head = y[..., :s] + self.cache[:b]
        self.cache[:b].copy_(y[..., -s:].detach())
        return torch.cat([head, y[..., s:-s]], -1) + self.bias.unsqueeze(-1)


class FrontEnd(nn.Module):
    """Log-mel spectrogram and power spectra of audio [B, 1, T] (T a multiple of hop).

    Frame j is the ``n_fft`` samples ending at sample (j + 1) * hop - 1, Hann-windowed
    (window normalised to unit sum); the previous ``n_fft - hop`` samples come from
    ``cache`` [64, 1, n_fft - hop]. Output: 0.2 * (ln(mel power + 1e-8) + 9) with the
    triangular filters of :func:`mel_filterbank` (rebuilt from the config, not stored).
    """

    def __init__(self, sr: int, n_fft: int, hop: int, bands: int, fmin: float, fmax: float):
        super().__init__()
        window = torch.hann_window(n_fft, dtype=torch.float64)
        self.register_buffer("window", (window / window.sum()).float(), persistent=False)
        self.register_buffer("mel", torch.from_numpy(mel_filterbank(sr, n_fft, bands, fmin, fmax)),
                             persistent=False)
        self.n_fft = n_fft
        self.hop = hop
        self.context = n_fft - hop
        self.register_buffer("cache", torch.zeros(MAX_BATCH, 1, n_fft - hop), persistent=False)

    def forward(self, x: torch.Tensor):
        """(log-mel [B, bands, T / hop], power spectra [B, T / hop, n_fft // 2 + 1])."""
        b = x.shape[0]
        if self.context > 0:
            x = torch.cat([self.cache[:b], x], -1)
            self.cache[:b].copy_(x[..., -self.context:].detach())
        frames = x[:, 0].unfold(-1, self.n_fft, self.hop)  # [B, T / hop, n_fft]
        power = torch.fft.rfft(frames * self.window, dim=-1).abs() ** 2
        mel = torch.matmul(power, self.mel)  # [B, T / hop, bands]
        return (0.2 * (torch.log(mel + 1e-8) + 9.0)).transpose(1, 2), power


class PitchTracker(nn.Module):
    """Harmonic-sum pitch per latent frame: power spectra [B, n, bins] -> [B, 1, n / frames]
    in octaves from ``reference_hz`` (log2(f0 / reference_hz)).

    Candidates are the synth's oscillators up to ``f0_max``; the salience of a candidate
    is sum_m decay ** (m - 1) * |X(m * f0)| ** 0.5 over ``harmonics`` harmonics below
    0.45 * sr (linear interpolation between bins), averaged over the ``frames`` spectra
    of a latent frame; the maximum is refined by parabolic interpolation (within half a
    grid step). Not trained: the weights are rebuilt from the config.
    """

    def __init__(self, sr: int, n_fft: int, synth: dict, tracker: dict, frames: int):
        super().__init__()
        res = int(synth["freq_resolution"])
        units = oscillator_units(synth)
        f0s = units[units <= float(synth["f0_max"]) * res] / res
        weights = np.zeros((n_fft // 2 + 1, len(f0s)), np.float32)
        for k, f0 in enumerate(f0s):
            for m in range(1, int(tracker["harmonics"]) + 1):
                pos = m * f0 * n_fft / sr
                if m * f0 >= 0.45 * sr:
                    break
                i, frac = int(pos), pos - int(pos)
                weights[i, k] += float(tracker["decay"]) ** (m - 1) * (1.0 - frac)
                weights[i + 1, k] += float(tracker["decay"]) ** (m - 1) * frac
        self.register_buffer("salience_weights", torch.from_numpy(weights), persistent=False)
        self.per_octave = int(synth["per_octave"])
        self.k_lo = int(math.ceil(self.per_octave * math.log2(float(synth["fmin"]) / float(synth["reference_hz"]))
                                  - 1e-9))
        self.frames = frames

    def forward(self, power: torch.Tensor) -> torch.Tensor:
        sal = torch.matmul(power ** 0.25, self.salience_weights)  # [B, n, K0]
        b, n, k0 = sal.shape
        f = n // self.frames
        sal = sal[:, :f * self.frames].reshape(b, f, self.frames, k0).mean(2)
        k = sal.argmax(-1)  # [B, F]
        centre = sal.gather(-1, k[..., None])[..., 0]
        left = sal.gather(-1, (k - 1).clamp(min=0)[..., None])[..., 0]
        right = sal.gather(-1, (k + 1).clamp(max=k0 - 1)[..., None])[..., 0]
        curve = left - 2.0 * centre + right
        inner = (k > 0) & (k < k0 - 1) & (curve < 0)
        delta = torch.where(inner, 0.5 * (left - right) / torch.where(inner, curve, -torch.ones_like(curve)),
                            torch.zeros_like(curve)).clamp(-0.5, 0.5)
        return ((k.to(sal.dtype) + delta + self.k_lo) / self.per_octave)[:, None]


class Encoder(nn.Module):
    """Audio [B, 1, T] -> (mean, std) [B, latent_dims, T / ratio] each.

    Dimension 0 is the :class:`PitchTracker` estimate (std 0: deterministic, no KL);
    dimensions 1.. are the learned posterior (strided causal convolutions over the
    log-mel frames, then a 1x1 head to mean and softplus scale).
    """

    def __init__(self, config: dict):
        super().__init__()
        fe = config["frontend"]
        self.frontend = FrontEnd(int(config["sr"]), int(fe["n_fft"]), int(fe["hop"]), int(fe["bands"]),
                                 float(fe["fmin"]), float(fe["fmax"]))
        self.pitch = PitchTracker(int(config["sr"]), int(fe["n_fft"]), config["synth"], config["pitch_tracker"],
                                  math.prod(int(s) for s in config["encoder_strides"]))
        sizes = [int(fe["bands"])] + [int(c) for c in config["encoder_channels"]]
        self.layers = nn.ModuleList([CausalConv(sizes[i], sizes[i + 1], 2 * int(s), int(s))
                                     for i, s in enumerate(config["encoder_strides"])])
        self.learned = int(config["latent_dims"]) - 1
        self.head = nn.Conv1d(sizes[-1], 2 * self.learned, 1)

    def forward(self, x: torch.Tensor):
        h, power = self.frontend(x)
        for layer in self.layers:
            h = F.leaky_relu(layer(h), 0.2)
        out = self.head(h)
        pitch = self.pitch(power.detach()).detach()
        mean = torch.cat([pitch, out[:, :self.learned]], 1)
        std = torch.cat([torch.zeros_like(pitch), F.softplus(out[:, self.learned:]) + 1e-4], 1)
        return mean, std


class UpBlock(nn.Module):
    """Upsample by ``stride``, then a residual causal convolution (kernel 3)."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.up = CausalUpsample(c_in, c_out, stride)
        self.res = CausalConv(c_out, c_out, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.leaky_relu(self.up(x), 0.2)
        return h + F.leaky_relu(self.res(h), 0.2)


def exp_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """DDSP's positive amplitude nonlinearity: 2 * sigmoid(x) ** ln(10) + 1e-7."""
    return 2.0 * torch.sigmoid(x) ** 2.302585092994046 + 1e-7


class Synth(nn.Module):
    """Synth frames [B, C, F] (one per ``hop`` samples) -> audio [B, 1, F * hop].

    1x1 heads give per frame: a level (:func:`exp_sigmoid`), a distribution over
    fundamental candidates (softmax over the first ``f0_count`` oscillators, those up to
    ``f0_max``), a distribution over ``harmonics`` harmonics (softmax) and noise band
    gains (:func:`exp_sigmoid`). Oscillator amplitudes: level * sum_m H_m * P[k - off_m],
    off_m = round(per_octave * log2(m)) (harmonic m of candidate k lands on oscillator
    k + off_m; harmonics past the bank are dropped): a shift-invariant harmonic template
    on the equal-tempered grid. Within frame j, sample tau (0-based) uses
    prev + (cur - prev) * (tau + 1) / hop, prev being frame j - 1 (``amp_cache``
    [64, K, 1] / ``noise_cache`` [64, bands, 1] across calls). Oscillator k at sample
    clock n is sin(2 pi * ((units_k * n) mod P) / P), P = freq_resolution * sr, exactly;
    noise band b reads ``noise_table[b, n mod L]``. The clock (``clock_cache`` [64],
    int64) advances by the samples rendered.
    """

    def __init__(self, sr: int, synth: dict, channels: int):
        super().__init__()
        units = oscillator_units(synth)
        table = noise_bands(synth, sr)
        self.hop = int(synth["hop"])
        self.phase_period = int(synth["freq_resolution"]) * sr
        self.table_length = int(synth["noise_table_length"])
        self.clock_period = math.lcm(self.phase_period, self.table_length)
        if int(units.max()) * self.clock_period >= 2 ** 62:
            raise ValueError("config.synth: freq_resolution * fmax * clock period overflows int64")
        self.phase_scale = 2.0 * math.pi / self.phase_period
        self.register_buffer("freq_units", torch.from_numpy(units), persistent=False)
        self.register_buffer("noise_table", torch.from_numpy(table), persistent=False)
        self.register_buffer("ramp", torch.arange(1, self.hop + 1, dtype=torch.float32) / self.hop,
                             persistent=False)
        self.n_osc = len(units)
        self.f0_count = int(np.sum(units <= float(synth["f0_max"]) * int(synth["freq_resolution"])))
        n_osc, per_octave = len(units), int(synth["per_octave"])
        self.offsets: List[int] = [int(round(per_octave * math.log2(m))) for m in range(1, int(synth["harmonics"]) + 1)
                                   if round(per_octave * math.log2(m)) < n_osc]
        self.k_lo = int(math.ceil(per_octave * math.log2(float(synth["fmin"]) / float(synth["reference_hz"]))
                                  - 1e-9))
        self.per_octave = per_octave
        self.pitch_width = float(synth["pitch_width"])
        self.register_buffer("candidates", torch.arange(self.f0_count, dtype=torch.float32)[None, :, None],
                             persistent=False)
        self.level_head = nn.Conv1d(channels, 1, 1)
        self.pitch_head = nn.Conv1d(channels, self.f0_count, 1)
        nn.init.zeros_(self.pitch_head.weight)
        nn.init.zeros_(self.pitch_head.bias)
        self.harmonic_head = nn.Conv1d(channels, len(self.offsets), 1)
        self.noise_head = nn.Conv1d(channels, table.shape[0], 1)
        with torch.no_grad():
            self.level_head.bias.fill_(-2.0)
            self.noise_head.bias.fill_(-5.0)
        self.register_buffer("amp_cache", torch.zeros(MAX_BATCH, n_osc, 1), persistent=False)
        self.register_buffer("noise_cache", torch.zeros(MAX_BATCH, table.shape[0], 1), persistent=False)
        self.register_buffer("clock_cache", torch.zeros(MAX_BATCH, dtype=torch.int64), persistent=False)

    def amplitudes(self, h: torch.Tensor, pitch: torch.Tensor) -> torch.Tensor:
        """Oscillator amplitudes [B, K, F] (linear) for synth frames h [B, C, F] and
        pitch [B, 1, F] in octaves from reference_hz."""
        level = exp_sigmoid(self.level_head(h))
        where = pitch * self.per_octave - self.k_lo  # fractional index among the candidates
        bump = -0.5 * ((self.candidates - where) / self.pitch_width) ** 2
        pitch = torch.softmax(bump + self.pitch_head(h), 1)
        harmonics = torch.softmax(self.harmonic_head(h), 1)
        amps = torch.zeros(h.shape[0], self.n_osc, h.shape[2], dtype=h.dtype, device=h.device)
        for m, off in enumerate(self.offsets):
            n = min(self.f0_count, self.n_osc - off)
            amps = amps + F.pad(pitch[:, :n] * harmonics[:, m:m + 1], [0, 0, off, self.n_osc - off - n])
        return level * amps

    def oscillators(self, start: int, n: int) -> torch.Tensor:
        """[K, n] oscillator outputs for clock values start .. start + n - 1."""
        clock = (start + torch.arange(n, dtype=torch.int64)) % self.clock_period
        phase = (self.freq_units[:, None] * clock[None, :]) % self.phase_period
        return torch.sin(phase.double() * self.phase_scale).float()

    def noise(self, start: int, n: int) -> torch.Tensor:
        """[bands, n] noise for clock values start .. start + n - 1."""
        return self.noise_table[:, (start + torch.arange(n, dtype=torch.int64)) % self.table_length]

    def glide(self, prev: torch.Tensor, cur: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
        """sum_c (prev + (cur - prev) * ramp) * basis: prev, cur [B, C, F], basis [C, F * hop] -> [B, F * hop]."""
        b, c, f = cur.shape
        frames = basis.reshape(c, f, self.hop)
        a = torch.einsum("bcf,cft->bft", prev, frames)
        z = torch.einsum("bcf,cft->bft", cur, frames)
        return (a + (z - a) * self.ramp).reshape(b, f * self.hop)

    def forward(self, h: torch.Tensor, pitch: torch.Tensor) -> torch.Tensor:
        b, n = h.shape[0], h.shape[2] * self.hop
        amps = self.amplitudes(h, pitch)
        gains = exp_sigmoid(self.noise_head(h))
        prev_amps = torch.cat([self.amp_cache[:b], amps[..., :-1]], -1)
        prev_gains = torch.cat([self.noise_cache[:b], gains[..., :-1]], -1)
        self.amp_cache[:b].copy_(amps[..., -1:].detach())
        self.noise_cache[:b].copy_(gains[..., -1:].detach())
        clocks = self.clock_cache[:b]
        if bool((clocks == clocks[0]).all()):
            start = int(clocks[0])
            y = (self.glide(prev_amps, amps, self.oscillators(start, n))
                 + self.glide(prev_gains, gains, self.noise(start, n)))
        else:  # batch entries at different clocks (calls with changing batch sizes)
            parts: List[torch.Tensor] = []
            for i in range(b):
                start = int(clocks[i])
                parts.append(self.glide(prev_amps[i:i + 1], amps[i:i + 1], self.oscillators(start, n))
                             + self.glide(prev_gains[i:i + 1], gains[i:i + 1], self.noise(start, n)))
            y = torch.cat(parts, 0)
        self.clock_cache[:b].copy_((clocks + n) % self.clock_period)
        return y[:, None]


class Decoder(nn.Module):
    """Latent [B, latent_dims, F] -> audio [B, 1, F * ratio]: a causal convolution,
    upsampling stages to synth frames, then :class:`Synth`."""

    def __init__(self, config: dict):
        super().__init__()
        channels = [int(c) for c in config["decoder_channels"]]
        self.inp = CausalConv(int(config["latent_dims"]), channels[0], 3)
        sizes = [channels[0]] + channels
        self.blocks = nn.ModuleList([UpBlock(sizes[i], sizes[i + 1], int(s))
                                     for i, s in enumerate(config["decoder_strides"])])
        self.synth = Synth(int(config["sr"]), config["synth"], channels[-1])
        self.upsampling = math.prod(int(s) for s in config["decoder_strides"])

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = F.leaky_relu(self.inp(z), 0.2)
        for block in self.blocks:
            h = block(h)
        return self.synth(h, z[:, :1].repeat_interleave(self.upsampling, dim=2))


class ConventionVAE(nn.Module):
    """Streaming VAE with the nn~ method tables (see the module docstring)."""

    def __init__(self, config: dict):
        super().__init__()
        self.sr = int(config["sr"])
        self.ratio = int(config["ratio"])
        self.latent_dims = int(config["latent_dims"])
        self.temperature = float(config.get("temperature", 0.0))
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)
        audio = ["(signal) audio in"]
        audio_out = ["(signal) audio out"]
        reference = float(config["synth"]["reference_hz"])
        latent = [f"(signal) pitch, octaves from {reference:g} Hz"] + [
            f"(signal) latent dimension {i}" for i in range(1, self.latent_dims)]
        tables = {"encode": ([1, 1, self.latent_dims, self.ratio], audio, latent),
                  "decode": ([self.latent_dims, self.ratio, 1, 1], latent, audio_out),
                  "forward": ([1, 1, 1, 1], audio, audio_out)}
        for name, (params, labels_in, labels_out) in tables.items():
            self.register_buffer(f"{name}_params", torch.tensor(params, dtype=torch.int64), persistent=False)
            setattr(self, f"{name}_input_labels", labels_in)
            setattr(self, f"{name}_output_labels", labels_out)
        self._methods: List[str] = ["encode", "decode", "forward"]
        self._attributes: List[str] = ["temperature"]
        self.register_buffer("temperature_params", torch.tensor([2], dtype=torch.int64), persistent=False)

    def posterior(self, x: torch.Tensor):
        """(mean, std) of the latent for audio x [B, 1, T]; used by training."""
        return self.encoder(x)

    @torch.jit.export
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Audio [B, 1, T] -> latent [B, latent_dims, T / ratio]: pitch (octaves from
        reference_hz), then the learned dimensions (the posterior mean at temperature 0)."""
        mean, std = self.encoder(x)
        if self.temperature > 0.0:
            return mean + self.temperature * std * torch.randn_like(mean)
        return mean

    @torch.jit.export
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latent [B, latent_dims, F] -> audio [B, 1, F * ratio]."""
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Audio [B, 1, T] -> reconstructed audio [B, 1, T]."""
        return self.decode(self.encode(x))

    @torch.jit.export
    def get_methods(self) -> List[str]:
        return self._methods

    @torch.jit.export
    def get_attributes(self) -> List[str]:
        return self._attributes

    @torch.jit.export
    def get_sample_rate(self) -> int:
        return self.sr

    @torch.jit.export
    def get_temperature(self) -> float:
        return self.temperature

    @torch.jit.export
    def set_temperature(self, temperature: float) -> int:
        self.temperature = max(0.0, float(temperature))
        return 0


# ---- helpers ---------------------------------------------------------------------------


def cache_buffers(module) -> dict:
    """{name: tensor} of the streaming state buffers (names ending in ``cache`` or ``pad``)
    of an eager or scripted module."""
    return {name: buf for name, buf in module.named_buffers() if name.endswith(("cache", "pad"))}


def zero_caches(module) -> None:
    """Reset streaming state: zero every cache buffer in place."""
    with torch.no_grad():
        for buf in cache_buffers(module).values():
            buf.zero_()


def build_model(config: dict) -> ConventionVAE:
    """A fresh (randomly initialised) model for ``config`` (see ``default_config``);
    raises ValueError naming the config key when the config is unusable."""
    check_config(config)
    return ConventionVAE(config)


def _paths(path_stem) -> tuple:
    path = Path(path_stem)
    if path.suffix in (".safetensors", ".json"):
        path = path.with_suffix("")
    return path.with_name(path.name + ".safetensors"), path.with_name(path.name + ".json")


def save_model(model: nn.Module, config: dict, path_stem) -> tuple:
    """Write ``<stem>.safetensors`` (weights) and ``<stem>.json`` (``config``, which may
    carry a ``training`` entry). ``path_stem`` may end in .safetensors or .json.
    Returns the two paths."""
    from safetensors.torch import save_file

    weights_path, json_path = _paths(path_stem)
    weights_path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().float().contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, str(weights_path), metadata={"format": FORMAT})
    json_path.write_text(json.dumps(config, indent=2) + "\n")
    return weights_path, json_path


def load_model(path) -> tuple:
    """(eager ConventionVAE with zeroed caches, config) from ``<stem>.safetensors`` and the
    ``<stem>.json`` beside it. Raises ResourceError (missing file) or ModelFormatError
    (unreadable / inconsistent content); messages name the file and the field."""
    from safetensors import safe_open

    weights_path, json_path = _paths(path)
    if not weights_path.is_file():
        raise ResourceError(f"VAE model not found: {weights_path}")
    if not json_path.is_file():
        raise ModelFormatError(f"{weights_path.name}: config file {json_path} is missing "
                               "(the .json written beside the .safetensors)")
    try:
        config = json.loads(json_path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelFormatError(f"{json_path}: not JSON ({exc})") from None
    try:
        model = build_model(config)
    except ValueError as exc:
        raise ModelFormatError(f"{json_path}: {exc}") from None
    try:
        with safe_open(str(weights_path), framework="pt") as f:
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:  # safetensors raises its own error types for corrupt headers
        raise ModelFormatError(f"{weights_path}: not a safetensors file ({exc})") from None
    expected = model.state_dict()
    missing = [k for k in expected if k not in tensors]
    if missing:
        raise ModelFormatError(f"{weights_path}: tensor {missing[0]!r} missing"
                               + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    extra = [k for k in tensors if k not in expected]
    if extra:
        raise ModelFormatError(f"{weights_path}: unexpected tensor {extra[0]!r} (does {json_path.name} "
                               "describe this model?)")
    for name, ref in expected.items():
        got = tensors[name]
        if tuple(got.shape) != tuple(ref.shape):
            raise ModelFormatError(f"{weights_path}: tensor {name!r}: expected shape {tuple(ref.shape)} "
                                   f"(from {json_path.name}), got {tuple(got.shape)}")
        if not got.is_floating_point() or not bool(torch.isfinite(got).all()):
            raise ModelFormatError(f"{weights_path}: tensor {name!r} is not finite floating point")
    model.load_state_dict({k: v.float() for k, v in tensors.items()})
    model.eval()
    zero_caches(model)
    return model, config


def load_convention_model(path) -> torch.jit.ScriptModule:
    """The model at ``path`` (``.safetensors`` with its ``.json``) as a scripted module
    with zeroed caches: the same interface a loaded nn~ ``.ts`` presents."""
    model, _ = load_model(path)
    return torch.jit.script(model)


def export_torchscript(safetensors_path, out_ts_path) -> Path:
    """Write the model as a TorchScript file for nn~ (Max/MSP, Pure Data) or ``vae.rave``;
    returns the written path."""
    scripted = load_convention_model(safetensors_path)
    out = Path(out_ts_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.jit.save(scripted, str(out))
    return out
