"""The DDSP decoders and synths in torch, mirroring the numba kernels (for training).

Same scaling, same frame grid and per-sample linear interpolation, same harmonic
masking, the same frequency-sampled noise FIR (over torch's white noise) and the same
reverb (dry + convolution with tap 0 masked). torch is imported by the caller and passed
in where a function needs it at module level; the module itself imports it lazily.
"""
from __future__ import annotations

import math

import numpy as np

from .kernels import fir_tables
from .model import input_streams


def exp_sigmoid(torch, x):
    return 2.0 * torch.sigmoid(x) ** math.log(10.0) + 1e-7


def build_decoder(config: dict):
    """A ``torch.nn.Module`` for ``config`` (arch "rnn" or "mlp") whose state-dict names
    are the model file's tensor names.

    forward(f0_hz [B, F], loudness_db [B, F], z [B, F, Z] or None) ->
    (amplitude [B, F] linear, harmonic distribution [B, F, K], noise magnitudes [B, F, Bn]).
    """
    import torch

    n_harm, n_bands = int(config["n_harmonics"]), int(config["n_bands"])
    n_out = 1 + n_harm + n_bands
    slope, noise_bias = float(config.get("leaky_slope", 0.1)), float(config.get("noise_bias", -5.0))
    nn = torch.nn

    def scaled(f0_hz, loudness_db):
        midi = 69.0 + 12.0 * torch.log2(torch.clamp(f0_hz, min=20.0) / 440.0)
        return midi / 127.0, loudness_db / 80.0 + 1.0

    def controls(o):
        amp = exp_sigmoid(torch, o[..., 0])
        dist = torch.softmax(o[..., 1:1 + n_harm], dim=-1)
        return amp, dist, exp_sigmoid(torch, o[..., 1 + n_harm:] + noise_bias)

    class Layer(nn.Module):
        def __init__(self, n_in, units):
            super().__init__()
            self.dense = nn.Linear(n_in, units)
            self.norm = nn.LayerNorm(units)

        def forward(self, x):
            return nn.functional.leaky_relu(self.norm(self.dense(x)), slope)

    def stack(n_in, units, layers):
        return nn.ModuleList([Layer(n_in if i == 0 else units, units) for i in range(layers)])

    def run(layers, x):
        for layer in layers:
            x = layer(x)
        return x

    class RnnDecoder(nn.Module):
        def __init__(self):
            super().__init__()
            units, layers, gru = int(config["mlp_units"]), int(config["mlp_layers"]), int(config["gru_units"])
            self.streams = input_streams(config)
            widths = {"f0": 1, "loudness": 1, "z": int(config.get("z_dims", 0))}
            for name in self.streams:
                setattr(self, f"{name}_mlp", stack(widths[name], units, layers))
            n_cat = units * len(self.streams)
            self.gru = nn.GRU(n_cat, gru, batch_first=True)
            self.out_mlp = stack(gru + n_cat, units, layers)
            self.out = nn.Linear(units, n_out)

        def forward(self, f0_hz, loudness_db, z=None, state=None):
            f0_s, ld_s = scaled(f0_hz, loudness_db)
            if "z" in self.streams and z is None:
                z = f0_hz.new_zeros(*f0_hz.shape, int(config["z_dims"]))
            parts = [run(self.f0_mlp, f0_s[..., None]), run(self.loudness_mlp, ld_s[..., None])]
            if "z" in self.streams:
                parts.append(run(self.z_mlp, z))
            cat = torch.cat(parts, dim=-1)
            g, state = self.gru(cat, state)
            o = self.out(run(self.out_mlp, torch.cat([g, cat], dim=-1)))
            return controls(o)

    class MlpDecoder(nn.Module):
        def __init__(self):
            super().__init__()
            h1, h2 = config["hidden"]
            self.l1 = nn.Linear(2, h1)
            self.l2 = nn.Linear(h1, h2)
            self.out = nn.Linear(h2, n_out)

        def forward(self, f0_hz, loudness_db, z=None, state=None):
            x = torch.stack(scaled(f0_hz, loudness_db), dim=-1)
            h = nn.functional.leaky_relu(self.l1(x), slope)
            h = nn.functional.leaky_relu(self.l2(h), slope)
            return controls(self.out(h))

    return RnnDecoder() if config.get("arch", "mlp") == "rnn" else MlpDecoder()


def build_encoder(config: dict):
    """The timbre encoder (:mod:`.timbre`) as a ``torch.nn.ModuleDict`` named like the file's
    ``encoder.*`` tensors. ``encode(module, mfcc [B, F, n_mfcc])`` -> (mean, logvar) [B, F, Z]."""
    import torch

    from .timbre import ENCODER_DEFAULTS

    enc = {**ENCODER_DEFAULTS, **(config.get("encoder") or {})}
    units, layers, z_dims = int(enc["units"]), int(enc["layers"]), int(config["z_dims"])
    nn = torch.nn
    slope = float(config.get("leaky_slope", 0.1))

    class Layer(nn.Module):
        def __init__(self, n_in):
            super().__init__()
            self.dense = nn.Linear(n_in, units)
            self.norm = nn.LayerNorm(units)

        def forward(self, x):
            return nn.functional.leaky_relu(self.norm(self.dense(x)), slope)

    modules = {str(i): Layer(int(enc["n_mfcc"]) if i == 0 else units) for i in range(layers)}
    modules["mean"] = nn.Linear(units, z_dims)
    modules["logvar"] = nn.Linear(units, z_dims)
    return nn.ModuleDict(modules)


def encode(encoder, mfcc):
    """(mean, logvar) [B, F, Z] of MFCC frames [B, F, n_mfcc]."""
    h = mfcc
    i = 0
    while str(i) in encoder:
        h = encoder[str(i)](h)
        i += 1
    return encoder["mean"](h), encoder["logvar"](h)


class Reverb:
    """A learnable impulse response (module attribute ``ir``: tensor name ``reverb.ir``)."""

    @staticmethod
    def module(length: int, sample_rate: int, seed: int = 0):
        import torch

        class ReverbModule(torch.nn.Module):
            def __init__(self):
                super().__init__()
                g = torch.Generator().manual_seed(seed)
                t = torch.arange(length) / sample_rate
                self.ir = torch.nn.Parameter(1e-3 * torch.randn(length, generator=g) * torch.exp(-t / 0.05))

            def forward(self, audio):
                """audio [B, T] -> audio + audio convolved with ir (tap 0 masked)."""
                ir = torch.cat([self.ir.new_zeros(1), self.ir[1:]])
                n = audio.shape[-1] + length
                wet = torch.fft.irfft(torch.fft.rfft(audio, n) * torch.fft.rfft(ir, n), n)[..., :audio.shape[-1]]
                return audio + wet

        return ReverbModule()


def upsample(torch, controls, hop):
    """Frame controls [B, F, C] on the grid j * hop -> per-sample [B, (F-1)*hop, C]."""
    n_frames = controls.shape[1]
    t = torch.arange((n_frames - 1) * hop)
    j = t // hop
    frac = ((t % hop).to(controls.dtype) / hop)[None, :, None]
    a, b = controls[:, j], controls[:, j + 1]
    return a + (b - a) * frac


def harmonic_amplitudes(torch, f0_hz, amp, dist, sample_rate):
    """[B, F, K] = amp * dist with harmonics at or above Nyquist removed, renormalised."""
    k = torch.arange(1, dist.shape[-1] + 1, dtype=dist.dtype)
    kept = dist * (k * f0_hz[..., None] < 0.5 * sample_rate).to(dist.dtype)
    return amp[..., None] * kept / torch.clamp(kept.sum(dim=-1, keepdim=True), min=1e-7)


def harmonic_synth(torch, f0_frames, amps, hop, sample_rate):
    """Additive synth [B, (F-1)*hop] from f0 [B, F] Hz and amps [B, F, K] (kernels.harmonic_segment)."""
    f0 = upsample(torch, f0_frames[..., None], hop)[..., 0]
    a = upsample(torch, amps, hop)
    phase = torch.cumsum(f0.double() / sample_rate, dim=1)
    phase = (phase - torch.floor(phase)).to(f0.dtype)
    k = torch.arange(1, amps.shape[-1] + 1, dtype=f0.dtype)
    audible = (k * f0[..., None] < 0.5 * sample_rate).to(f0.dtype)
    return torch.sum(a * audible * torch.sin(2 * math.pi * phase[..., None] * k), dim=-1)


def noise_synth(torch, mags, hop, generator=None):
    """Filtered noise [B, (F-1)*hop] from band magnitudes [B, F, Bn] (kernels.noise_block):
    per segment j, white noise through FIR j and FIR j+1, crossfaded over the segment."""
    batch, n_frames, n_bands = mags.shape
    table, window = fir_tables(n_bands)
    taps = window.shape[0]
    design = torch.from_numpy(table * window[:, None]).to(mags.dtype)      # [N, Bn]
    fir = torch.einsum("bfk,nk->bfn", mags, design)                        # [B, F, N], tap order
    segs = n_frames - 1
    white = torch.rand(batch, segs * hop + taps - 1, generator=generator, dtype=mags.dtype) * 2.0 - 1.0
    windows = white.unfold(1, hop + taps - 1, hop)                          # [B, segs, hop + N - 1]
    inp = windows.reshape(1, batch * segs, hop + taps - 1)

    def filtered(filters):
        weight = torch.flip(filters, dims=[-1]).reshape(batch * segs, 1, taps)
        return torch.nn.functional.conv1d(inp, weight, groups=batch * segs).reshape(batch, segs, hop)

    frac = (torch.arange(hop, dtype=mags.dtype) / hop)[None, None, :]
    a, b = filtered(fir[:, :-1]), filtered(fir[:, 1:])
    return (a + (b - a) * frac).reshape(batch, segs * hop)


def sawtooth_distribution(torch, n_harmonics: int, dtype=None):
    """A band-limited sawtooth's harmonic distribution [K] (amplitudes 1/k, summing to 1)."""
    k = torch.arange(1, n_harmonics + 1, dtype=dtype or torch.float32)
    return (1.0 / k) / torch.sum(1.0 / k)


FFT_SIZES = (2048, 1024, 512, 256, 128, 64)


def spectral_loss(torch, pred, target, fft_sizes=FFT_SIZES):
    """DDSP multi-scale spectral loss: sum over sizes of mean |S - S'| + mean |log S - log S'|."""
    loss = 0.0
    for n_fft in fft_sizes:
        window = torch.hann_window(n_fft, dtype=pred.dtype)
        sp = torch.stft(pred, n_fft, n_fft // 4, window=window, return_complex=True).abs()
        st = torch.stft(target, n_fft, n_fft // 4, window=window, return_complex=True).abs()
        loss = loss + torch.mean(torch.abs(sp - st)) + torch.mean(torch.abs(torch.log(sp + 1e-7) - torch.log(st + 1e-7)))
    return loss


def spectral_loss_np(pred: np.ndarray, target: np.ndarray) -> float:
    """:func:`spectral_loss` of two float arrays [T] (numpy in, float out)."""
    import torch

    with torch.no_grad():
        return float(spectral_loss(torch, torch.from_numpy(np.asarray(pred, np.float32))[None],
                                   torch.from_numpy(np.asarray(target, np.float32))[None]))
