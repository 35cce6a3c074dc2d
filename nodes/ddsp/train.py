"""Train a DDSP decoder on a solo recording (torch imported inside the functions).

Features come from the product's own nodes (feature.pitch, feature.loudness run over the
file with :func:`neuropatch.engine.testing.run_node`), so training and playback see the
same numbers. The torch decoder and synth mirror :mod:`.kernels` exactly (same scaling,
same frame grid and per-sample linear interpolation, same noise tables); the loss is
DDSP's multi-scale spectral loss (L1 on magnitudes and log magnitudes).

Alignment: the node renders frame k's controls at sample (k + 2) * hop (see
:class:`~.node.DDSPSynth`); frame k of the feature nodes is centred on sample
k * hop + hop - n_fft / 2. Training therefore compares the synth with the recording
delayed by ``hop + n_fft // 2`` samples.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from .model import DDSPModel, default_config, noise_tables

FEATURES = {"hop": 256, "n_fft": 2048, "fmin": 60.0, "fmax": 2000.0, "threshold": 0.15}
FFT_SIZES = (2048, 1024, 512, 256, 128, 64)


def compute_features(audio: np.ndarray, sample_rate: int, features: dict = FEATURES) -> tuple:
    """f0 (Hz, 0 = unvoiced) and loudness (dB) per frame, float64 [F] each, F = len // hop.

    audio: float32 [samples] mono. Runs feature.pitch (frame_length = n_fft) and
    feature.loudness with ``features`` params, block by block like a patch does.
    """
    from neuropatch.engine.testing import run_node
    from neuropatch.nodes.spectral.loudness import Loudness
    from neuropatch.nodes.spectral.pitch import Pitch

    x = np.ascontiguousarray(audio, np.float32)[None, :]
    pitch = Pitch()
    for k, v in (("fmin", features["fmin"]), ("fmax", features["fmax"]), ("frame_length", features["n_fft"]),
                 ("hop", features["hop"]), ("threshold", features["threshold"])):
        pitch.set_param(k, v)
    loud = Loudness()
    loud.set_param("n_fft", features["n_fft"])
    loud.set_param("hop", features["hop"])
    f0 = run_node(pitch, {"in": x}, sample_rate, 1024)["out"][:, 0, 0]
    db = run_node(loud, {"in": x}, sample_rate, 1024)["out"][:, 0, 0]
    n = min(len(f0), len(db))
    return f0[:n].astype(np.float64), db[:n].astype(np.float64)


def hold_voiced(f0: np.ndarray) -> np.ndarray:
    """f0 [F] Hz with unvoiced frames (<= 0) holding the last voiced value (0 before any)."""
    out = np.array(f0, np.float64)
    held = 0.0
    for i, v in enumerate(out):
        if v > 0.0:
            held = v
        out[i] = held
    return out


def build_torch_decoder(config: dict):
    """The decoder of :func:`.kernels.decode_frame` as a ``torch.nn.Module``.

    forward(f0_hz [..., F], loudness_db [..., F], sample_rate) -> (amps [..., F, K] linear,
    noise [..., F, B] linear).
    """
    import torch

    h1, h2 = config["hidden"]
    n_harm, n_bands = int(config["n_harmonics"]), int(config["n_bands"])
    slope, noise_bias = float(config["leaky_slope"]), float(config["noise_bias"])

    def exp_sigmoid(x):
        return 2.0 * torch.sigmoid(x) ** math.log(10.0) + 1e-7

    class Decoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.l1 = torch.nn.Linear(2, h1)
            self.l2 = torch.nn.Linear(h1, h2)
            self.out = torch.nn.Linear(h2, 1 + n_harm + n_bands)

        def forward(self, f0_hz, loudness_db, sample_rate):
            midi = 69.0 + 12.0 * torch.log2(torch.clamp(f0_hz, min=20.0) / 440.0)
            x = torch.stack([midi / 127.0, (loudness_db + 80.0) / 80.0], dim=-1)
            h = torch.nn.functional.leaky_relu(self.l1(x), slope)
            h = torch.nn.functional.leaky_relu(self.l2(h), slope)
            o = self.out(h)
            amplitude = exp_sigmoid(o[..., :1])
            harm = torch.softmax(o[..., 1:1 + n_harm], dim=-1)
            k = torch.arange(1, n_harm + 1, dtype=o.dtype)
            harm = harm * (k * f0_hz[..., None] < 0.5 * sample_rate).to(o.dtype)
            harm = harm / torch.clamp(harm.sum(dim=-1, keepdim=True), min=1e-7)
            return amplitude * harm, exp_sigmoid(o[..., 1 + n_harm:] + noise_bias)

    return Decoder()


def decoder_to_tensors(decoder) -> dict:
    return {name: p.detach().cpu().numpy().astype(np.float32) for name, p in decoder.state_dict().items()}


def _upsample(torch, controls, hop):
    """Frame controls [batch, F, C] on the grid j * hop -> per-sample [batch, (F-1)*hop, C]."""
    n_frames = controls.shape[1]
    t = torch.arange((n_frames - 1) * hop)
    j = t // hop
    frac = ((t % hop).to(controls.dtype) / hop)[None, :, None]
    a, b = controls[:, j], controls[:, j + 1]
    return a + (b - a) * frac


def torch_synth(torch, f0_frames, amps, noise, hop, sample_rate, tables, offsets):
    """Harmonic + noise audio [batch, (F-1)*hop] from frame controls.

    f0_frames [batch, F] Hz, amps [batch, F, K], noise [batch, F, B]; tables [B, L]
    (torch); offsets [batch] int64 start positions into the tables.
    """
    f0 = _upsample(torch, f0_frames[..., None], hop)[..., 0]
    a = _upsample(torch, amps, hop)
    m = _upsample(torch, noise, hop)
    n_harm = amps.shape[-1]
    phase = torch.cumsum(f0.double() / sample_rate, dim=1)
    phase = (phase - torch.floor(phase)).to(f0.dtype)
    k = torch.arange(1, n_harm + 1, dtype=f0.dtype)
    audible = (k * f0[..., None] < 0.5 * sample_rate).to(f0.dtype)
    harmonic = torch.sum(a * audible * torch.sin(2 * math.pi * phase[..., None] * k), dim=-1)
    length = tables.shape[1]
    idx = (offsets[:, None] + torch.arange(f0.shape[1])[None, :]) % length
    band_noise = tables[:, idx].permute(1, 2, 0)  # [batch, T, B]
    return harmonic + torch.sum(m * band_noise, dim=-1)


def spectral_loss(torch, pred, target, fft_sizes=FFT_SIZES):
    """DDSP multi-scale spectral loss: sum over sizes of mean |S - S'| + mean |log S - log S'|."""
    loss = 0.0
    for n_fft in fft_sizes:
        window = torch.hann_window(n_fft)
        sp = torch.stft(pred, n_fft, n_fft // 4, window=window, return_complex=True).abs()
        st = torch.stft(target, n_fft, n_fft // 4, window=window, return_complex=True).abs()
        loss = loss + torch.mean(torch.abs(sp - st)) + torch.mean(torch.abs(torch.log(sp + 1e-7) - torch.log(st + 1e-7)))
    return loss


@dataclass
class TrainResult:
    model: DDSPModel
    final_loss: float
    seconds: float
    steps: int


def train_ddsp(audio: np.ndarray, sample_rate: int, epochs: int = 30, segment_frames: int = 64,
               batch: int = 8, lr: float = 3e-3, n_harmonics: int = 48, n_bands: int = 24,
               hidden=(96, 96), seed: int = 0, features: dict = FEATURES, name: str = "",
               progress: bool = True) -> TrainResult:
    """Fit the decoder to ``audio`` (float32 [samples] mono at ``sample_rate`` Hz).

    Each epoch visits non-overlapping segments of ``segment_frames`` frames in random
    order, ``batch`` at a time (Adam, cosine-decayed ``lr``). Returns the model and the
    mean loss of the last epoch.
    """
    import torch
    from tqdm import tqdm

    start = time.perf_counter()
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    hop, n_fft = int(features["hop"]), int(features["n_fft"])
    f0, db = compute_features(audio, sample_rate, features)
    f0 = hold_voiced(f0)
    config = default_config(sample_rate, hop, n_harmonics, n_bands, hidden)
    config.update({"name": name, "features": dict(features)})
    tables = torch.from_numpy(noise_tables(config, sample_rate))
    delay = hop + n_fft // 2
    first = max(0, -(-(n_fft // 2 - hop) // hop))  # frames whose target starts at or after sample 0
    seg_len = (segment_frames - 1) * hop
    starts = [j for j in range(first, len(f0) - segment_frames + 1, segment_frames - 1)
              if (j + 2) * hop - delay + seg_len <= len(audio)]
    if not starts:
        raise ValueError(f"need at least {(segment_frames + first + 2) * hop} samples of audio, got {len(audio)}")
    decoder = build_torch_decoder(config)
    opt = torch.optim.Adam(decoder.parameters(), lr=lr)
    steps_per_epoch = max(1, math.ceil(len(starts) / batch))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * steps_per_epoch, eta_min=lr * 0.05)
    f0_t = torch.from_numpy(f0).float()
    db_t = torch.from_numpy(db).float()
    x_t = torch.from_numpy(np.ascontiguousarray(audio, np.float32))
    bar = tqdm(range(epochs), desc="train-ddsp", disable=not progress, unit="epoch")
    last = float("nan")
    steps = 0
    for _ in bar:
        order = rng.permutation(len(starts))
        total, count = 0.0, 0
        for s in range(0, len(order), batch):
            js = [starts[i] for i in order[s:s + batch]]
            f0_b = torch.stack([f0_t[j:j + segment_frames] for j in js])
            db_b = torch.stack([db_t[j:j + segment_frames] for j in js])
            target = torch.stack([x_t[(j + 2) * hop - delay:(j + 2) * hop - delay + seg_len] for j in js])
            offsets = torch.from_numpy(rng.integers(0, tables.shape[1], len(js)))
            amps, noise = decoder(f0_b, db_b, float(sample_rate))
            pred = torch_synth(torch, f0_b, amps, noise, hop, float(sample_rate), tables, offsets)
            loss = spectral_loss(torch, pred, target)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            steps += 1
            total += float(loss.detach()) * len(js)
            count += len(js)
        last = total / max(count, 1)
        bar.set_postfix(loss=f"{last:.4f}")
    config["training"] = {"epochs": epochs, "steps": steps, "final_loss": round(last, 5),
                          "segment_frames": segment_frames, "batch": batch, "lr": lr, "seed": seed}
    model = DDSPModel(config, decoder_to_tensors(decoder))
    return TrainResult(model, last, time.perf_counter() - start, steps)
