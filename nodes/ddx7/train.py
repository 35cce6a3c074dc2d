"""Train a DDX7 decoder on a folder of solo recordings (``neuropatch train-ddx7``).

The data side is the DDSP pipeline's (:mod:`neuropatch.nodes.ddsp.train`): the same
features from feature.pitch / feature.loudness, the same segments, held-out split,
alignment and checkpoints; the loss is DDSP's multi-scale spectral loss. What differs is
the model: the TCN of :mod:`.torch_model` drives the torch mirror of synth.fm for a fixed
algorithm and ratios.
"""
from __future__ import annotations

import time

import numpy as np

from ..ddsp.train import (FEATURES, TrainResult, batch_tensors, fit_sawtooth_gain, held_out_losses, load_recordings,
                          optimise, record_training, resume_step, sawtooth, training_segments)
from .model import DDX7Model, default_config


def synthesize(torch, decoder, f0, db, config, reverb=None):
    """Audio [B, (F-1)*hop] of the decoder's levels through the torch FM synth (and the
    learned reverb)."""
    from .torch_model import fm_synth

    audio = fm_synth(torch, f0, decoder(f0, db), int(config["hop"]), float(config["sample_rate"]),
                     int(config["algorithm"]), config["ratios"])
    return reverb(audio) if reverb is not None else audio


def evaluate(torch, decoder, recs, items, config, segment_frames, n_fft, saw_gain, reverb=None) -> dict:
    """Mean multi-scale spectral loss over held-out items: the model and the sawtooth."""
    saw_config = dict(config, n_harmonics=60)
    return held_out_losses(torch, recs, items, segment_frames, int(config["hop"]), n_fft,
                           lambda _items, f0, db: synthesize(torch, decoder, f0, db, config, reverb),
                           lambda f0, db: sawtooth(torch, f0, db, saw_config, saw_gain))


def train_ddx7(source, sample_rate: int = 48000, steps: int = 2000, segment_frames: int = 150, batch: int = 8,
               lr: float = 1e-3, algorithm: int = 2, ratios=(1.0, 1.0, 1.0, 1.0, 3.0, 14.0), blocks: int = 5,
               channels: int = 128, kernel_size: int = 3, seed: int = 0, features: dict = FEATURES, name: str = "",
               checkpoint=None, checkpoint_every: int = 100, progress: bool = True,
               recordings: list | None = None, reverb: bool = True, reverb_length: int = 12000) -> TrainResult:
    """Fit a DDX7 decoder to the recordings in ``source`` (a file or folder of audio files).

    ``steps`` Adam steps of ``batch`` random training segments of ``segment_frames``
    frames (cosine-decayed ``lr``, gradient norm clipped at 2 as DDX7 does). The synth is
    ``algorithm`` (1..32) with ``ratios`` [6]. ``checkpoint``: a folder; training resumes
    from it when it holds a matching checkpoint and saves to it every
    ``checkpoint_every`` steps. ``reverb``: learn an impulse response of ``reverb_length``
    taps with the decoder (DDSP's reverb; stored as ``reverb.ir``, played by ddsp.reverb).
    Returns the model, the mean loss of the last 100 steps and the held-out quality
    numbers (model and sawtooth).
    """
    import torch

    from ..ddsp.torch_model import Reverb, spectral_loss
    from .torch_model import build_decoder, state_tensors

    start = time.perf_counter()
    torch.manual_seed(seed)
    hop, n_fft = int(features["hop"]), int(features["n_fft"])
    recs = recordings if recordings is not None else load_recordings(source, sample_rate, features, progress)
    train_items, held_items = training_segments(recs, segment_frames, hop, n_fft, sample_rate)
    config = default_config(sample_rate, hop, blocks, channels, kernel_size, algorithm, ratios)
    config.update({"name": name, "features": dict(features)})
    decoder = build_decoder(config)
    modules = {"decoder": decoder}
    rev = None
    if reverb:
        rev = Reverb.module(reverb_length, sample_rate, seed)
        modules["reverb"] = rev
    opt = torch.optim.Adam([p for m in modules.values() for p in m.parameters()], lr=lr)
    step = resume_step(checkpoint, modules, opt)
    rng = np.random.default_rng(seed + step)

    def batch_loss():
        items = [train_items[i] for i in rng.integers(0, len(train_items), batch)]
        f0, db, target = batch_tensors(torch, recs, items, segment_frames, hop, n_fft)
        return spectral_loss(torch, synthesize(torch, decoder, f0, db, config, rev), target)

    last = optimise(torch, batch_loss, modules, opt, step, steps, lr, checkpoint, checkpoint_every, "train-ddx7",
                    progress, clip_norm=2.0)
    quality = {}
    if held_items:
        gain = fit_sawtooth_gain(torch, recs, train_items, dict(config, n_harmonics=60), segment_frames, n_fft)
        quality = evaluate(torch, decoder, recs, held_items, config, segment_frames, n_fft, gain, rev)
        quality["sawtooth_gain"] = gain
    final = record_training(config, last, quality, recs, steps, segment_frames, batch, lr, seed)
    tensors = state_tensors(decoder)
    if rev is not None:
        tensors["reverb.ir"] = torch.cat([rev.ir.new_zeros(1), rev.ir[1:]]).detach().numpy().astype(np.float32)
    return TrainResult(DDX7Model(config, tensors), final, time.perf_counter() - start, steps, quality)
