"""Train a DDX7 decoder on a folder of solo recordings (``neuropatch train-ddx7``).

The data side is the DDSP pipeline's (:mod:`neuropatch.nodes.ddsp.train`): the same
features from feature.pitch / feature.loudness, the same segments, held-out split,
alignment and checkpoints; the loss is DDSP's multi-scale spectral loss. What differs is
the model: the TCN of :mod:`.torch_model` drives the torch mirror of synth.fm for a fixed
algorithm and ratios.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from ..ddsp.train import (FEATURES, batch_tensors, fit_sawtooth_gain, load_checkpoint, load_recordings,
                          save_checkpoint, sawtooth, segments)
from .model import DDX7Model, default_config


@dataclass
class TrainResult:
    model: DDX7Model
    final_loss: float
    seconds: float
    steps: int
    quality: dict = field(default_factory=dict)


def synthesize(torch, decoder, f0, db, config):
    """Audio [B, (F-1)*hop] of the decoder's levels through the torch FM synth."""
    from .torch_model import fm_synth

    return fm_synth(torch, f0, decoder(f0, db), int(config["hop"]), float(config["sample_rate"]),
                    int(config["algorithm"]), config["ratios"])


def evaluate(torch, decoder, recs, items, config, segment_frames, n_fft, saw_gain) -> dict:
    """Mean multi-scale spectral loss over held-out items: the model and the sawtooth."""
    from ..ddsp.torch_model import spectral_loss

    hop = int(config["hop"])
    saw_config = dict(config, n_harmonics=60)
    model_l, saw_l = [], []
    with torch.no_grad():
        for s in range(0, len(items), 8):
            f0, db, target = batch_tensors(torch, recs, items[s:s + 8], segment_frames, hop, n_fft)
            model_l.append(float(spectral_loss(torch, synthesize(torch, decoder, f0, db, config), target)) * len(target))
            saw = sawtooth(torch, f0, db, saw_config, saw_gain)
            saw_l.append(float(spectral_loss(torch, saw, target)) * len(target))
    n = max(len(items), 1)
    return {"model": sum(model_l) / n, "sawtooth": sum(saw_l) / n, "segments": len(items)}


def train_ddx7(source, sample_rate: int = 48000, steps: int = 2000, segment_frames: int = 150, batch: int = 8,
               lr: float = 1e-3, algorithm: int = 2, ratios=(1.0, 1.0, 1.0, 1.0, 3.0, 14.0), blocks: int = 5,
               channels: int = 128, kernel_size: int = 3, seed: int = 0, features: dict = FEATURES, name: str = "",
               checkpoint=None, checkpoint_every: int = 100, progress: bool = True,
               recordings: list | None = None) -> TrainResult:
    """Fit a DDX7 decoder to the recordings in ``source`` (a file or folder of audio files).

    ``steps`` Adam steps of ``batch`` random training segments of ``segment_frames``
    frames (cosine-decayed ``lr``, gradient norm clipped at 2 as DDX7 does). The synth is
    ``algorithm`` (1..32) with ``ratios`` [6]. ``checkpoint``: a folder; training resumes
    from it when it holds a matching checkpoint and saves to it every
    ``checkpoint_every`` steps. Returns the model, the mean loss of the last 100 steps and
    the held-out quality numbers (model and sawtooth).
    """
    import torch
    from tqdm import tqdm

    from ..ddsp.torch_model import spectral_loss
    from .torch_model import build_decoder, state_tensors

    start = time.perf_counter()
    torch.manual_seed(seed)
    hop, n_fft = int(features["hop"]), int(features["n_fft"])
    recs = recordings if recordings is not None else load_recordings(source, sample_rate, features, progress)
    train_items, held_items = segments(recs, segment_frames, hop, n_fft)
    if not train_items:
        need = (segment_frames + 3) * hop + n_fft
        raise ValueError(f"need at least {need} samples ({need / sample_rate:.2f} s) of audio per recording")
    config = default_config(sample_rate, hop, blocks, channels, kernel_size, algorithm, ratios)
    config.update({"name": name, "features": dict(features)})
    decoder = build_decoder(config)
    modules = {"decoder": decoder}
    opt = torch.optim.Adam(decoder.parameters(), lr=lr)
    step = 0
    if checkpoint is not None:
        done = load_checkpoint(checkpoint, modules, opt)
        if done is not None:
            step = int(done["step"])
    rng = np.random.default_rng(seed + step)
    last = []
    bar = tqdm(total=steps, initial=step, desc="train-ddx7", disable=not progress, unit="step")
    while step < steps:
        items = [train_items[i] for i in rng.integers(0, len(train_items), batch)]
        f0, db, target = batch_tensors(torch, recs, items, segment_frames, hop, n_fft)
        for group in opt.param_groups:  # cosine decay to 5 % of lr
            group["lr"] = lr * (0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * step / steps)))
        loss = spectral_loss(torch, synthesize(torch, decoder, f0, db, config), target)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(decoder.parameters(), 2.0)
        opt.step()
        step += 1
        last = (last + [float(loss.detach())])[-100:]
        bar.update(1)
        bar.set_postfix(loss=f"{np.mean(last):.3f}")
        if checkpoint is not None and (step % checkpoint_every == 0 or step == steps):
            save_checkpoint(checkpoint, modules, opt, {"step": step, "steps": steps, "loss": float(np.mean(last))})
    bar.close()
    quality = {}
    if held_items:
        gain = fit_sawtooth_gain(torch, recs, train_items, dict(config, n_harmonics=60), segment_frames, n_fft)
        quality = evaluate(torch, decoder, recs, held_items, config, segment_frames, n_fft, gain)
        quality["sawtooth_gain"] = gain
    final = float(np.mean(last)) if last else float("nan")
    config["training"] = {"steps": steps, "final_loss": round(final, 5), "segment_frames": segment_frames,
                          "batch": batch, "lr": lr, "seed": seed, "files": [r.name for r in recs],
                          "quality": {k: round(v, 5) if isinstance(v, float) else v for k, v in quality.items()}}
    return TrainResult(DDX7Model(config, state_tensors(decoder)), final, time.perf_counter() - start, steps, quality)
