"""Train the convention VAE (:mod:`.convention_model`) on a recording.

Loss: the multi-scale spectral distance (DDSP / RAVE: for each FFT size, mean |S - S'|
+ mean |ln S - ln S'| of STFT magnitudes, hop = size / 4) between the input and the
reconstruction from a posterior sample, plus ``kl_weight`` times the KL divergence of
the posterior of the learned latent dimensions (1..; dimension 0 is the tracked pitch)
from N(0, 1) (summed over dimensions, averaged over frames; the weight ramps up over the
first fifth of training).

Held-out split: the recording is cut into blocks of ``block_seconds``; every
``holdout_every``-th block (starting with block ``holdout_every // 2``) is never trained
on. Quality is the spectral distance on the held-out blocks, each reconstructed in one
``forward`` call from zeroed caches at temperature 0, next to two trivial baselines on
the same blocks: silence, and noise with the training audio's long-term average spectrum
and RMS ("LTAS noise"). Lower is better.
"""
from __future__ import annotations

import time
from typing import Callable, Optional

import numpy as np
import torch

from .convention_model import build_model, default_config, zero_caches

FFT_SIZES = (2048, 1024, 512, 256, 128, 64)


def spectral_distance(pred: torch.Tensor, target: torch.Tensor, fft_sizes=FFT_SIZES) -> torch.Tensor:
    """Multi-scale spectral distance of audio [batch, samples] tensors (a scalar tensor):
    sum over sizes of mean |S - S'| + mean |ln(S + 1e-7) - ln(S' + 1e-7)|."""
    total = pred.new_zeros(())
    for n_fft in fft_sizes:
        window = torch.hann_window(n_fft, dtype=pred.dtype)
        sp = torch.stft(pred, n_fft, n_fft // 4, window=window, return_complex=True).abs()
        st = torch.stft(target, n_fft, n_fft // 4, window=window, return_complex=True).abs()
        total = total + torch.mean(torch.abs(sp - st)) + torch.mean(
            torch.abs(torch.log(sp + 1e-7) - torch.log(st + 1e-7)))
    return total


def split_blocks(n_samples: int, block: int, holdout_every: int) -> tuple:
    """([(start, stop)] training blocks, [(start, stop)] held-out blocks) of a recording."""
    train, held = [], []
    for k, start in enumerate(range(0, n_samples, block)):
        stop = min(start + block, n_samples)
        if holdout_every > 1 and k % holdout_every == holdout_every // 2:
            held.append((start, stop))
        else:
            train.append((start, stop))
    return train, held


def ltas_noise(train_audio: np.ndarray, n: int, seed: int = 0, n_fft: int = 4096) -> np.ndarray:
    """Noise [n] with the long-term average magnitude spectrum and the RMS of ``train_audio``."""
    frames = np.lib.stride_tricks.sliding_window_view(train_audio, n_fft)[:: n_fft // 2]
    power = np.mean(np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=1)) ** 2, axis=0)
    freqs_n = np.fft.rfftfreq(n)
    mag = np.sqrt(np.interp(freqs_n, np.fft.rfftfreq(n_fft), power))
    rng = np.random.default_rng(seed)
    spectrum = mag * np.exp(2j * np.pi * rng.random(len(freqs_n)))
    noise = np.fft.irfft(spectrum, n)
    rms = float(np.sqrt(np.mean(train_audio.astype(np.float64) ** 2)))
    return (noise * rms / (np.sqrt(np.mean(noise ** 2)) + 1e-12)).astype(np.float32)


@torch.no_grad()
def evaluate(model, audio: np.ndarray, blocks: list, train_audio: np.ndarray, seed: int = 0) -> dict:
    """Held-out spectral distances: {"model", "silence", "ltas_noise"} averaged over
    ``blocks`` (each trimmed to a multiple of the model ratio)."""
    ratio = int(model.ratio)
    was_training = model.training
    model.eval()
    scores = {"model": [], "silence": [], "ltas_noise": []}
    for k, (start, stop) in enumerate(blocks):
        n = (stop - start) // ratio * ratio
        if n < 4 * ratio:
            continue
        x = torch.from_numpy(np.ascontiguousarray(audio[start:start + n], np.float32))[None]
        zero_caches(model)
        temperature = model.temperature
        model.temperature = 0.0
        y = model(x[:, None])[:, 0]
        model.temperature = temperature
        noise = torch.from_numpy(ltas_noise(train_audio, n, seed + k))[None]
        scores["model"].append(float(spectral_distance(y, x)))
        scores["silence"].append(float(spectral_distance(torch.zeros_like(x), x)))
        scores["ltas_noise"].append(float(spectral_distance(noise, x)))
    zero_caches(model)
    model.train(was_training)
    if not scores["model"]:
        raise ValueError("no held-out block is long enough to evaluate")
    return {k: float(np.mean(v)) for k, v in scores.items()}


def train_vae(audio: np.ndarray, sr: int, steps: int = 1500, batch: int = 8, segment_frames: int = 16,
              lr: float = 2e-3, kl_weight: float = 0.01, seed: int = 0, config: Optional[dict] = None,
              block_seconds: float = 4.0, holdout_every: int = 8,
              progress: Optional[Callable[[int, int, float], None]] = None) -> tuple:
    """Fit a convention VAE to ``audio`` (float32 [samples], mono, ``sr`` Hz).

    ``config``: architecture (``default_config()`` when None; its ``sr`` is replaced by
    ``sr``). Each step trains on ``batch`` random crops of ``segment_frames`` latent
    frames from the training blocks (Adam, ``lr`` cosine-decayed to lr / 10).
    ``progress(step, steps, loss)`` is called after every step.

    Returns (model, config, metrics): the eager model (eval mode, zeroed caches), its
    config with a ``training`` entry, and metrics {"steps", "seconds", "final_loss",
    "held_out": {"model", "silence", "ltas_noise"}, "held_out_seconds",
    "train_seconds"}. Deterministic for a given seed and thread count.
    """
    start_time = time.perf_counter()
    audio = np.ascontiguousarray(audio, np.float32)
    if audio.ndim != 1:
        raise ValueError(f"audio: expected mono [samples], got shape {audio.shape}")
    config = dict(default_config() if config is None else config)
    config["sr"] = int(sr)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = build_model(config)
    ratio = int(config["ratio"])
    seg = segment_frames * ratio
    if seg < max(FFT_SIZES):
        raise ValueError(f"segment of {segment_frames} frames x {ratio} samples = {seg} samples is shorter than "
                         f"the largest loss FFT ({max(FFT_SIZES)}); use more segment frames")
    block = max(int(block_seconds * sr), seg)
    train_blocks, held_blocks = split_blocks(len(audio), block, holdout_every)
    train_blocks = [(a, b) for a, b in train_blocks if b - a >= seg]
    if not train_blocks:
        raise ValueError(f"need at least {seg} samples of audio ({seg / sr:.2f} s) per training block, "
                         f"got {len(audio)} samples")
    if not held_blocks:  # short recordings: hold out the last training block instead
        held_blocks = [train_blocks.pop()] if len(train_blocks) > 1 else []
    train_audio = np.concatenate([audio[a:b] for a, b in train_blocks])
    weights = np.array([b - a - seg + 1 for a, b in train_blocks], np.float64)
    weights /= weights.sum()
    x_all = torch.from_numpy(audio)

    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(steps, 1), eta_min=lr * 0.1)
    model.train()
    losses = []
    for step in range(steps):
        picks = rng.choice(len(train_blocks), size=batch, p=weights)
        starts = [int(rng.integers(train_blocks[i][0], train_blocks[i][1] - seg + 1)) for i in picks]
        x = torch.stack([x_all[s:s + seg] for s in starts])[:, None]
        zero_caches(model)
        mean, std = model.posterior(x)
        z = mean + std * torch.randn_like(mean)
        y = model.decode(z)
        recon = spectral_distance(y[:, 0], x[:, 0])
        mu, sigma = mean[:, 1:], std[:, 1:]  # dimension 0 is the tracked pitch: no KL
        kl = 0.5 * torch.mean(torch.sum(mu ** 2 + sigma ** 2 - 2.0 * torch.log(sigma) - 1.0, dim=1))
        beta = kl_weight * min(1.0, (step + 1) / max(1.0, 0.2 * steps))
        loss = recon + beta * kl
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(recon.detach()))
        if progress is not None:
            progress(step + 1, steps, losses[-1])
    train_seconds = time.perf_counter() - start_time
    model.eval()
    zero_caches(model)
    held = evaluate(model, audio, held_blocks, train_audio, seed) if held_blocks else {}
    final = float(np.mean(losses[-50:])) if losses else float("nan")
    metrics = {"steps": steps, "seconds": round(time.perf_counter() - start_time, 1),
               "train_seconds": round(train_seconds, 1), "final_loss": round(final, 4),
               "held_out": {k: round(v, 4) for k, v in held.items()},
               "held_out_seconds": round(sum(b - a for a, b in held_blocks) / sr, 2),
               "training_audio_seconds": round(len(train_audio) / sr, 2)}
    config["training"] = {
        "steps": steps, "batch": batch, "segment_frames": segment_frames, "lr": lr, "kl_weight": kl_weight,
        "seed": seed, "block_seconds": block_seconds, "holdout_every": holdout_every,
        "loss": "multi-scale spectral distance (FFT sizes " + ", ".join(map(str, FFT_SIZES)) + ") + KL",
        "final_train_loss": metrics["final_loss"], "held_out_distance": metrics["held_out"],
        "held_out_seconds": metrics["held_out_seconds"], "training_audio_seconds": metrics["training_audio_seconds"],
        "train_seconds": metrics["train_seconds"],
    }
    return model, config, metrics


def describe(metrics: dict) -> str:
    """One line: held-out spectral distance of the model and of the baselines."""
    h = metrics.get("held_out") or {}
    if not h:
        return f"final training loss {metrics['final_loss']:.4f} (no held-out audio)"
    return (f"held-out spectral distance {h['model']:.3f} (baselines: LTAS noise {h['ltas_noise']:.3f}, "
            f"silence {h['silence']:.3f}; lower is better) over {metrics['held_out_seconds']:.1f} s")
