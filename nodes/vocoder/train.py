"""Train a GAN mel vocoder on a folder of recordings (``neuropatch train-vocoder``).

HiFi-GAN's recipe, in two phases so that a few thousand CPU steps give a usable model:

1. ``warmup_steps`` generator-only steps on the reconstruction losses: 45 x the L1 between
   log mel spectrograms (HiFi-GAN's mel loss) + a multi-resolution STFT loss;
2. adversarial steps: multi-period and multi-scale discriminators (least-squares GAN),
   the generator on adversarial + feature-matching (x2) + mel (x45) + STFT losses.

Inputs are exactly what the patch gives the vocoder: the dB mel of spectral.stft ->
spectral.mel (:class:`.torch_model.MelFrontEnd`). Each training item is ``segment_frames``
frames after ``warmup_frames`` frames whose outputs are not scored (the causal network's
history); the target is the audio ``delay`` samples earlier. Recordings are mixed down to
mono, resampled to the model's rate and scaled by a random gain (``gain_db`` range).

Both optimisers clip gradients at norm 10; a step whose loss or gradient is not finite is
dropped (not applied), and a run that keeps producing them stops with an error.

Held-out split: every 8th block of 4 s of every file is never trained on; at the end the
model renders those blocks whole and the trainer reports the multi-scale spectral loss
(DDSP's) and the mel L1 against them.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..ddsp.train import TrainResult, audio_files, load_checkpoint, save_checkpoint
from .model import VocoderModel, default_config, default_mel

BLOCK_S = 4.0
HELD_OUT_EVERY = 8
MEL_WEIGHT = 45.0
MAX_SKIPPED = 100   # non-finite steps dropped before a run gives up


def load_audio(source, sample_rate: int, progress: bool = True) -> list:
    """[(name, mono float32 [T])] of the audio files in ``source`` at ``sample_rate``."""
    from tqdm import tqdm

    from neuropatch.engine.audiofile import read_audio
    from neuropatch.engine.resample import resample

    out = []
    for path in tqdm(audio_files(source), desc="audio", disable=not progress, unit="file"):
        audio, sr = read_audio(path)
        mono = audio.mean(axis=0, keepdims=True)
        if sr != sample_rate:
            mono = resample(mono, sr, sample_rate)
        out.append((path.name, np.ascontiguousarray(mono[0], np.float32)))
    return out


def split_blocks(recs: list, sample_rate: int) -> tuple:
    """(train spans, held-out spans): [(recording index, start, stop)] of BLOCK_S blocks,
    every HELD_OUT_EVERY-th block held out (the last partial block trains)."""
    block = int(BLOCK_S * sample_rate)
    train, held = [], []
    for i, (_, x) in enumerate(recs):
        n_blocks = max(1, len(x) // block)
        for b in range(n_blocks):
            stop = len(x) if b == n_blocks - 1 else (b + 1) * block
            (held if b % HELD_OUT_EVERY == HELD_OUT_EVERY - 1 else train).append((i, b * block, stop))
    return train, held


def input_stats(front, recs, spans, torch) -> tuple:
    """(mean, std) of the dB mel over the training spans (the generator's input scaling)."""
    vals = []
    with torch.no_grad():
        for i, a, b in spans[:64]:
            vals.append(front(torch.from_numpy(recs[i][1][a:b])[None]).flatten().numpy())
    v = np.concatenate(vals) if vals else np.zeros(1)
    return float(v.mean()), float(max(v.std(), 1.0))


class Batches:
    """Random training items: (mel [B, n_mels, W + F], target audio [B, F * hop])."""

    def __init__(self, torch, front, recs, spans, config, segment_frames, warmup_frames, gain_db, seed):
        self.torch, self.front, self.recs = torch, front, recs
        hop, n_fft = int(config["mel"]["hop"]), int(config["mel"]["n_fft"])
        self.hop, self.delay = hop, int(config["delay"])
        self.context = max((n_fft - 1) // hop * hop, self.delay)   # whole frames of mel history
        self.frames = warmup_frames + segment_frames
        self.warm = warmup_frames
        need = self.context + self.frames * hop
        self.spans = [s for s in spans if s[2] - s[1] > need]
        if not self.spans:
            raise ValueError(f"need blocks of at least {need} samples ({need / config['mel']['sample_rate']:.2f} s)")
        self.need = need
        self.gain_db = gain_db
        self.rng = np.random.default_rng(seed)

    def __call__(self, batch: int):
        torch, hop = self.torch, self.hop
        mels, targets = [], []
        for _ in range(batch):
            i, a, b = self.spans[int(self.rng.integers(len(self.spans)))]
            s = int(self.rng.integers(a + self.context, b - self.frames * hop + 1))
            x = self.recs[i][1]
            gain = np.float32(10.0 ** (self.rng.uniform(*self.gain_db) / 20.0))
            # the mel of frames starting at s: the front end pads n_fft - hop zeros on the
            # left, so hand it whole frames of real history and drop the frames made of it
            lead = self.front.n_fft - hop
            first = (lead + hop - 1) // hop          # whole frames of history fed before s
            start = s - first * hop
            chunk = torch.from_numpy(x[start:s + self.frames * hop] * gain)
            mel = self.front(chunk[None])[0][:, first:]
            t0 = s + self.warm * hop - self.delay
            targets.append(torch.from_numpy(x[t0:t0 + (self.frames - self.warm) * hop] * gain))
            mels.append(mel)
        return torch.stack(mels), torch.stack(targets)


def held_out_quality(torch, generator, front, recs, spans, config) -> dict:
    """Multi-scale spectral loss and mel L1 of the model on whole held-out blocks (each from
    silence; the first 0.1 s and the delay are trimmed)."""
    from ..ddsp.torch_model import spectral_loss

    delay, skip = int(config["delay"]), int(0.1 * config["mel"]["sample_rate"])
    msl, mel_l1, n = 0.0, 0.0, 0
    with torch.no_grad():
        for i, a, b in spans:
            x = torch.from_numpy(recs[i][1][a:b])[None]
            x = x[:, : x.shape[1] // front.hop * front.hop]
            y = generator(front(x))
            pred, target = y[:, delay + skip:], x[:, skip:x.shape[1] - delay]
            if target.shape[1] < 4096:
                continue
            msl += float(spectral_loss(torch, pred, target))
            mel_l1 += float((front.log_mel(pred) - front.log_mel(target)).abs().mean())
            n += 1
    return {"spectral_loss": msl / max(n, 1), "mel_l1": mel_l1 / max(n, 1), "blocks": n}


def train_vocoder(source, sample_rate: int = 48000, steps: int = 4000, warmup_steps: int = 2000, batch: int = 4,
                  segment_frames: int = 32, warmup_frames: int = 4, lr: float = 4e-4, channels: int = 128,
                  n_mels: int = 80, n_fft: int = 1024, hop: int = 256, upsample_rates=(8, 8, 4),
                  upsample_kernels=(16, 16, 8), disc_width: int = 8, gain_db=(-12.0, 2.0), seed: int = 0,
                  name: str = "", checkpoint=None, checkpoint_every: int = 100, progress: bool = True,
                  recordings: list | None = None, init=None, stft_weight: float = 1.0,
                  spectral_weight: float = 0.0, oversample: dict | None = None) -> TrainResult:
    """Fit a vocoder to the recordings in ``source`` (a file or folder of audio files).

    ``steps`` in all, the first ``warmup_steps`` generator-only; batches of ``batch``
    items of ``segment_frames`` scored frames. ``checkpoint``: a folder; training resumes
    from it when it holds a matching checkpoint and saves to it every ``checkpoint_every``
    steps. ``init``: a vocoder file to start from (its mel settings, generator shape and
    weights replace the arguments'). ``stft_weight``: the multi-resolution STFT loss's
    weight (the log-mel L1's is 45). ``spectral_weight``: weight of DDSP's multi-scale
    spectral loss (linear + log magnitude, FFT 2048-64; the held-out measure) as a further
    reconstruction term (0: off). ``oversample``: {file name: k}, that file's training
    blocks drawn k times as often. Returns the model, the mean generator loss of the
    last 100 steps and the held-out quality numbers.
    """
    import torch
    from tqdm import tqdm

    from ..ddsp.torch_model import spectral_loss
    from .torch_model import (MelFrontEnd, build_discriminators, build_generator, discriminator_loss, feature_loss,
                              generator_adv_loss, state_tensors, stft_loss)

    start = time.perf_counter()
    torch.manual_seed(seed)
    recs = recordings if recordings is not None else load_audio(source, sample_rate, progress)
    start_from = None
    if init is not None:
        from .model import load_model
        from .torch_model import load_tensors

        start_from = load_model(init)
        config = {k: v for k, v in start_from.config.items() if k not in ("name", "training")}
        if int(config["mel"]["sample_rate"]) != sample_rate:
            raise ValueError(f"{init} runs at {config['mel']['sample_rate']} Hz, not --sample-rate {sample_rate}")
        hop = int(config["mel"]["hop"])
    else:
        config = default_config(default_mel(sample_rate, n_fft, hop, n_mels), channels, upsample_rates,
                                upsample_kernels)
    front = MelFrontEnd(config["mel"])
    train_spans, held_spans = split_blocks(recs, sample_rate)
    for name_, k in (oversample or {}).items():
        if name_ not in {n for n, _ in recs}:
            raise ValueError(f"--oversample names {name_!r}, which is not among the recordings")
        train_spans += [s for s in train_spans if recs[s[0]][0] == name_] * (int(k) - 1)
    if start_from is None:
        config["input_mean_db"], config["input_std_db"] = input_stats(front, recs, train_spans, torch)
    config["name"] = name
    generator = build_generator(config)
    if start_from is not None:
        load_tensors(generator, start_from.tensors)
    mpd, msd = build_discriminators(width=disc_width)
    opt_g = torch.optim.AdamW(generator.parameters(), lr, betas=(0.8, 0.99))
    d_params = list(mpd.parameters()) + list(msd.parameters())
    opt_d = torch.optim.AdamW(d_params, lr, betas=(0.8, 0.99))
    step = 0
    if checkpoint is not None:
        done = load_checkpoint(Path(checkpoint) / "generator", {"generator": generator}, opt_g)
        if done is not None:
            if done.get("input_db") != [config["input_mean_db"], config["input_std_db"]]:
                config["input_mean_db"], config["input_std_db"] = done["input_db"]
                generator = build_generator(config)
                opt_g = torch.optim.AdamW(generator.parameters(), lr, betas=(0.8, 0.99))
                load_checkpoint(Path(checkpoint) / "generator", {"generator": generator}, opt_g)
            load_checkpoint(Path(checkpoint) / "discriminator", {"mpd": mpd, "msd": msd}, opt_d)
            step = int(done["step"])
    batches = Batches(torch, front, recs, train_spans, config, segment_frames, warmup_frames, gain_db, seed + step)
    skip = warmup_frames * hop
    skipped = 0
    last = {"g": [], "mel": [], "stft": [], "adv": [], "d": []}
    bar = tqdm(total=steps, initial=step, desc="train-vocoder", disable=not progress, unit="step")
    while step < steps:
        mel, target = batches(batch)
        y = generator(mel)[:, skip:]
        rec_mel = MEL_WEIGHT * (front.log_mel(y) - front.log_mel(target)).abs().mean()
        rec_stft = stft_loss(torch, y, target)
        loss_g = rec_mel + stft_weight * rec_stft
        if spectral_weight:
            loss_g = loss_g + spectral_weight * spectral_loss(torch, y, target)
        if step >= warmup_steps:
            real_p, _ = mpd(target)
            fake_p, _ = mpd(y.detach())
            real_s, _ = msd(target)
            fake_s, _ = msd(y.detach())
            loss_d = discriminator_loss(real_p + real_s, fake_p + fake_s)
            opt_d.zero_grad()
            loss_d.backward()
            norm_d = torch.nn.utils.clip_grad_norm_(d_params, 10.0)
            if torch.isfinite(loss_d) and torch.isfinite(norm_d):
                opt_d.step()
            real_p, feat_rp = mpd(target)
            fake_p, feat_fp = mpd(y)
            real_s, feat_rs = msd(target)
            fake_s, feat_fs = msd(y)
            adv = generator_adv_loss(fake_p + fake_s)
            loss_g = loss_g + adv + feature_loss(feat_rp + feat_rs, feat_fp + feat_fs)
            last["adv"] = (last["adv"] + [float(adv.detach())])[-100:]
            last["d"] = (last["d"] + [float(loss_d.detach())])[-100:]
        opt_g.zero_grad()
        loss_g.backward()
        norm = torch.nn.utils.clip_grad_norm_(generator.parameters(), 10.0)
        if not (torch.isfinite(loss_g) and torch.isfinite(norm)):
            skipped += 1       # a non-finite step is dropped, never applied to the weights
            if skipped > MAX_SKIPPED:
                raise ValueError(f"training diverged: {skipped} steps with non-finite losses or gradients "
                                 f"(the checkpoint in {checkpoint} holds the last finite weights)")
            continue
        opt_g.step()
        step += 1
        for k, v in (("g", loss_g), ("mel", rec_mel), ("stft", rec_stft)):
            last[k] = (last[k] + [float(v.detach())])[-100:]
        bar.update(1)
        bar.set_postfix({k: f"{np.mean(v):.3f}" for k, v in last.items() if v})
        if checkpoint is not None and (step % checkpoint_every == 0 or step == steps):
            info = {"step": step, "steps": steps, "loss": float(np.mean(last["g"])),
                    "input_db": [config["input_mean_db"], config["input_std_db"]]}
            save_checkpoint(Path(checkpoint) / "generator", {"generator": generator}, opt_g, dict(info))
            save_checkpoint(Path(checkpoint) / "discriminator", {"mpd": mpd, "msd": msd}, opt_d, dict(info))
    bar.close()
    generator.eval()
    quality = held_out_quality(torch, generator, front, recs, held_spans, config) if held_spans else {}
    final = float(np.mean(last["g"])) if last["g"] else float("nan")
    config["training"] = {"steps": steps, "warmup_steps": warmup_steps, "batch": batch,
                          "segment_frames": segment_frames, "lr": lr, "seed": seed, "disc_width": disc_width,
                          "stft_weight": stft_weight, "spectral_weight": spectral_weight,
                          "oversample": dict(oversample or {}), "init": None if init is None else Path(init).name,
                          "gain_db": list(gain_db), "final_loss": round(final, 5),
                          "files": [n for n, _ in recs], "seconds": round(time.perf_counter() - start, 1),
                          "quality": {k: round(v, 5) if isinstance(v, float) else v for k, v in quality.items()}}
    if start_from is not None:
        config["training"]["init_training"] = start_from.config.get("training")
    quality = dict(quality, segments=quality.get("blocks", 0))
    return TrainResult(VocoderModel(config, state_tensors(generator)), final, time.perf_counter() - start, steps,
                       quality)
