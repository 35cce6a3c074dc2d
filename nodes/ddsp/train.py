"""Train a DDSP decoder (and its reverb) on a folder of solo recordings.

Features come from the product's own nodes (feature.pitch, feature.loudness run over
each file with :func:`neuropatch.engine.testing.run_node`), so training and playback see
the same numbers. The torch decoder and synths (:mod:`.torch_model`) mirror the numba
kernels; the loss is DDSP's multi-scale spectral loss.

Alignment: the synth nodes render frame k's controls at sample (k + 2) * hop; frame k
of the feature nodes is centred on sample k * hop + hop - n_fft / 2. Training therefore
compares the synth with the recording delayed by ``hop + n_fft // 2`` samples, which is
the chain's latency (the feature nodes report n_fft / 2, the synths hop).

Onset lead: the trained model's onsets come ahead of that nominal latency (it sees the
features' lookahead); :mod:`.calibrate` measures by how much on the held-out parts, and
the decoder reports it.

Held-out split: every 10th segment of every file (never trained on) gives the quality
numbers printed at the end: the model's loss and a band-limited sawtooth's driven by
the same f0 and loudness (its gain fitted on training segments).
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .calibrate import calibrate, held_out_spans
from .model import DDSPModel, default_config, rnn_config

FEATURES = {"hop": 256, "n_fft": 1024, "fmin": 95.0, "fmax": 2000.0, "threshold": 0.15}
AUDIO_EXTENSIONS = (".wav", ".flac", ".aiff", ".aif", ".ogg")
HELDOUT_EVERY = 10


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
    """f0 [F] Hz with unvoiced frames (<= 0) holding the last voiced value (the first voiced
    value before any)."""
    out = np.array(f0, np.float64)
    voiced = out[out > 0.0]
    held = float(voiced[0]) if voiced.size else 0.0
    for i, v in enumerate(out):
        if v > 0.0:
            held = v
        out[i] = held
    return out


def audio_files(source) -> list:
    """The audio files of ``source`` (a file, or a folder searched recursively), sorted."""
    source = Path(source)
    if source.is_file():
        return [source]
    if not source.is_dir():
        raise FileNotFoundError(f"{source}: no such file or folder")
    files = sorted(p for p in source.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file())
    if not files:
        raise FileNotFoundError(f"{source}: no audio files ({', '.join(AUDIO_EXTENSIONS)})")
    return files


@dataclass
class Recording:
    """One file's mono audio at the training rate and its features (held f0, loudness)."""

    name: str
    audio: np.ndarray
    f0: np.ndarray
    db: np.ndarray
    mfcc: np.ndarray | None = None   # [F, n_mfcc] for timbre training


def load_recordings(source, sample_rate: int, features: dict = FEATURES, progress: bool = True,
                    timbre: bool = False) -> list:
    from tqdm import tqdm

    from neuropatch.engine.audiofile import read_audio
    from neuropatch.engine.resample import resample

    recs = []
    for path in tqdm(audio_files(source), desc="features", disable=not progress, unit="file"):
        audio, sr = read_audio(path)
        mono = audio.mean(axis=0, keepdims=True)
        if sr != sample_rate:
            mono = resample(mono, sr, sample_rate)
        x = np.ascontiguousarray(mono[0], np.float32)
        f0, db = compute_features(x, sample_rate, features)
        mfcc = None
        if timbre:
            from .timbre import mfcc_frames

            mfcc = mfcc_frames(x, sample_rate, int(features["hop"]))
            n = min(len(f0), len(mfcc))
            f0, db, mfcc = f0[:n], db[:n], mfcc[:n]
        name = str(path.relative_to(source)) if Path(source).is_dir() else path.name
        recs.append(Recording(name, x, hold_voiced(f0), db, mfcc))
    return recs


def loudness_range(recs: list) -> list:
    """[5th, 50th, 95th] percentile of the loudness (dB) of voiced frames: where the model
    was trained, so users can set midi.to_controls or a loudness offset to match."""
    voiced = np.concatenate([r.db[np.asarray(compute_voiced(r), bool)] for r in recs]) if recs else np.zeros(0)
    if voiced.size == 0:
        return []
    return [round(float(v), 1) for v in np.percentile(voiced, [5, 50, 95])]


def compute_voiced(rec) -> np.ndarray:
    """Frames above the recording's silence: loudness within 40 dB of its 99th percentile."""
    return rec.db > np.percentile(rec.db, 99) - 40.0


def segments(recs: list, segment_frames: int, hop: int, n_fft: int) -> tuple:
    """(train, held-out) lists of (recording index, first frame); every HELDOUT_EVERY-th
    segment of each recording is held out."""
    delay = hop + n_fft // 2
    first = max(0, -(-(n_fft // 2 - hop) // hop))
    seg_len = (segment_frames - 1) * hop
    train, held = [], []
    for r, rec in enumerate(recs):
        starts = [j for j in range(first, len(rec.f0) - segment_frames + 1, segment_frames - 1)
                  if (j + 2) * hop - delay + seg_len <= len(rec.audio)]
        for i, j in enumerate(starts):
            (held if i % HELDOUT_EVERY == HELDOUT_EVERY - 1 else train).append((r, j))
    return train, held


def batch_mfcc(torch, recs, items, segment_frames):
    """MFCC frames [B, F, n_mfcc] for (recording, frame) items."""
    return torch.stack([torch.from_numpy(recs[r].mfcc[j:j + segment_frames]).float() for r, j in items])


def batch_tensors(torch, recs, items, segment_frames, hop, n_fft):
    """f0 [B, F], loudness [B, F], target audio [B, (F-1)*hop] for (recording, frame) items."""
    delay = hop + n_fft // 2
    seg_len = (segment_frames - 1) * hop
    f0 = torch.stack([torch.from_numpy(recs[r].f0[j:j + segment_frames]).float() for r, j in items])
    db = torch.stack([torch.from_numpy(recs[r].db[j:j + segment_frames]).float() for r, j in items])
    target = torch.stack([torch.from_numpy(recs[r].audio[(j + 2) * hop - delay:(j + 2) * hop - delay + seg_len])
                          for r, j in items])
    return f0, db, target


def segment_z(torch, encoder, mfcc, sample: bool, generator=None):
    """One z per segment (the mean over its frames), broadcast to [B, F, Z], and the KL
    divergence to N(0, 1) (mean over the batch)."""
    from .torch_model import encode

    mean, logvar = encode(encoder, mfcc)
    mu, lv = mean.mean(dim=1), logvar.mean(dim=1)
    z = mu
    if sample:
        z = mu + torch.exp(0.5 * lv) * torch.randn(mu.shape, generator=generator)
    kl = -0.5 * torch.mean(torch.sum(1.0 + lv - mu * mu - torch.exp(lv), dim=-1))
    return z[:, None, :].expand(-1, mfcc.shape[1], -1), kl


def synthesize(torch, decoder, reverb, f0, db, config, generator=None, z=None):
    """Audio [B, (F-1)*hop] of the decoder's controls through the synths (and reverb)."""
    from .torch_model import harmonic_amplitudes, harmonic_synth, noise_synth

    hop, sr = int(config["hop"]), float(config["sample_rate"])
    amp, dist, noise = decoder(f0, db, z)
    audio = harmonic_synth(torch, f0, harmonic_amplitudes(torch, f0, amp, dist, sr), hop, sr)
    audio = audio + noise_synth(torch, noise, hop, generator)
    return reverb(audio) if reverb is not None else audio


def sawtooth(torch, f0, db, config, gain):
    """A band-limited sawtooth [B, (F-1)*hop] with amplitude gain * 10 ** (loudness / 20)."""
    from .torch_model import harmonic_amplitudes, harmonic_synth, sawtooth_distribution

    hop, sr, k = int(config["hop"]), float(config["sample_rate"]), int(config["n_harmonics"])
    dist = sawtooth_distribution(torch, k).expand(*f0.shape, k)
    amp = gain * 10.0 ** (db / 20.0)
    return harmonic_synth(torch, f0, harmonic_amplitudes(torch, f0, amp, dist, sr), hop, sr)


@dataclass
class TrainResult:
    model: object   # the trained model (DDSPModel here, DDX7Model from the ddx7 trainer)
    final_loss: float
    seconds: float
    steps: int
    quality: dict = field(default_factory=dict)


def _checkpoint_paths(checkpoint) -> tuple:
    folder = Path(checkpoint)
    return folder / "state.safetensors", folder / "progress.json"


def save_checkpoint(checkpoint, modules: dict, opt, progress: dict) -> None:
    """Weights and Adam moments as safetensors, progress as JSON; both written atomically."""
    from safetensors.torch import save_file

    weights, info = _checkpoint_paths(checkpoint)
    weights.parent.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for prefix, module in modules.items():
        for name, p in module.named_parameters():
            key = f"{prefix}/{name}"
            tensors[key] = p.detach().contiguous()
            st = opt.state.get(p, {})
            for moment in ("exp_avg", "exp_avg_sq"):
                if moment in st:
                    tensors[f"adam.{moment}/{key}"] = st[moment].contiguous()
            if "step" in st:
                progress.setdefault("adam_step", float(st["step"]))
    tmp = weights.with_name(weights.name + ".tmp")
    save_file(tensors, str(tmp))
    tmp.replace(weights)
    tmp = info.with_name(info.name + ".tmp")
    tmp.write_text(json.dumps(progress))
    tmp.replace(info)


def load_checkpoint(checkpoint, modules: dict, opt) -> dict | None:
    """Restore what :func:`save_checkpoint` wrote; returns its progress dict or None."""
    import torch
    from safetensors.torch import load_file

    weights, info = _checkpoint_paths(checkpoint)
    if not (weights.is_file() and info.is_file()):
        return None
    tensors = load_file(str(weights))
    progress = json.loads(info.read_text())
    with torch.no_grad():
        for prefix, module in modules.items():
            for name, p in module.named_parameters():
                key = f"{prefix}/{name}"
                if key not in tensors or tensors[key].shape != p.shape:
                    raise ValueError(f"checkpoint {weights} does not match this model ({key})")
                p.copy_(tensors[key])
                if f"adam.exp_avg/{key}" in tensors:
                    opt.state[p] = {"step": torch.tensor(progress.get("adam_step", 0.0)),
                                    "exp_avg": tensors[f"adam.exp_avg/{key}"].clone(),
                                    "exp_avg_sq": tensors[f"adam.exp_avg_sq/{key}"].clone()}
    return progress


def held_out_losses(torch, recs, items, segment_frames, hop, n_fft, model_audio, saw_audio) -> dict:
    """Mean multi-scale spectral loss over items (batches of 8) of ``model_audio(items, f0,
    db)`` and ``saw_audio(f0, db)`` against the recordings."""
    from .torch_model import spectral_loss

    model_l, saw_l = [], []
    with torch.no_grad():
        for s in range(0, len(items), 8):
            f0, db, target = batch_tensors(torch, recs, items[s:s + 8], segment_frames, hop, n_fft)
            model_l.append(float(spectral_loss(torch, model_audio(items[s:s + 8], f0, db), target)) * len(target))
            saw_l.append(float(spectral_loss(torch, saw_audio(f0, db), target)) * len(target))
    n = max(len(items), 1)
    return {"model": sum(model_l) / n, "sawtooth": sum(saw_l) / n, "segments": len(items)}


def evaluate(torch, decoder, reverb, recs, items, config, segment_frames, n_fft, saw_gain, encoder=None) -> dict:
    """Mean multi-scale spectral loss over held-out items: the model and the sawtooth."""
    gen = torch.Generator().manual_seed(1)

    def model_audio(batch_items, f0, db):
        z = None
        if encoder is not None:
            z, _ = segment_z(torch, encoder, batch_mfcc(torch, recs, batch_items, segment_frames), False)
        return synthesize(torch, decoder, reverb, f0, db, config, gen, z)

    return held_out_losses(torch, recs, items, segment_frames, int(config["hop"]), n_fft, model_audio,
                           lambda f0, db: sawtooth(torch, f0, db, config, saw_gain))


def fit_sawtooth_gain(torch, recs, items, config, segment_frames, n_fft) -> float:
    """The sawtooth gain (a power of 2**0.5) with the least spectral loss on training items."""
    from .torch_model import spectral_loss

    f0, db, target = batch_tensors(torch, recs, items[:16], segment_frames, int(config["hop"]), n_fft)
    best, best_gain = math.inf, 1.0
    with torch.no_grad():
        for e in range(-8, 41):
            gain = 2.0 ** (e / 2.0)
            loss = float(spectral_loss(torch, sawtooth(torch, f0, db, config, gain), target))
            if loss < best:
                best, best_gain = loss, gain
    return best_gain


def training_segments(recs, segment_frames: int, hop: int, n_fft: int, sample_rate: int) -> tuple:
    """:func:`segments`, raising ValueError when the recordings are too short to train on."""
    train_items, held_items = segments(recs, segment_frames, hop, n_fft)
    if not train_items:
        need = (segment_frames + 3) * hop + n_fft
        raise ValueError(f"need at least {need} samples ({need / sample_rate:.2f} s) of audio per recording")
    return train_items, held_items


def resume_step(checkpoint, modules: dict, opt) -> int:
    """The step to start from: the checkpoint's (its state restored) or 0."""
    if checkpoint is not None:
        done = load_checkpoint(checkpoint, modules, opt)
        if done is not None:
            return int(done["step"])
    return 0


def optimise(torch, batch_loss, modules: dict, opt, step: int, steps: int, lr: float, checkpoint,
             checkpoint_every: int, desc: str, progress: bool, clip_norm: float | None = None) -> list:
    """Adam steps from ``step`` to ``steps`` of ``batch_loss()`` (a fresh batch's loss) with
    the learning rate cosine-decayed to 5 % of ``lr``, gradients clipped at ``clip_norm``
    (if given); saves ``checkpoint`` every ``checkpoint_every`` steps and at the end.
    Returns the losses of the last 100 steps (a finished run: the loss its checkpoint
    recorded)."""
    from tqdm import tqdm

    last = []
    if step >= steps and checkpoint is not None:   # nothing left to train: the run's recorded loss
        done = json.loads(_checkpoint_paths(checkpoint)[1].read_text())
        last = [float(done["loss"])] if "loss" in done else []
    bar = tqdm(total=steps, initial=step, desc=desc, disable=not progress, unit="step")
    while step < steps:
        for group in opt.param_groups:  # cosine decay to 5 % of lr
            group["lr"] = lr * (0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * step / steps)))
        loss = batch_loss()
        opt.zero_grad()
        loss.backward()
        if clip_norm is not None:
            torch.nn.utils.clip_grad_norm_([p for m in modules.values() for p in m.parameters()], clip_norm)
        opt.step()
        step += 1
        last = (last + [float(loss.detach())])[-100:]
        bar.update(1)
        bar.set_postfix(loss=f"{np.mean(last):.3f}")
        if checkpoint is not None and (step % checkpoint_every == 0 or step == steps):
            save_checkpoint(checkpoint, modules, opt, {"step": step, "steps": steps, "loss": float(np.mean(last))})
    bar.close()
    return last


def record_training(config: dict, last: list, quality: dict, recs, steps: int, segment_frames: int, batch: int,
                    lr: float, seed: int) -> float:
    """Store the run's settings and results as ``config["training"]``; returns the final
    loss (mean of ``last``, NaN when empty)."""
    final = float(np.mean(last)) if last else float("nan")
    config["training"] = {"steps": steps, "final_loss": round(final, 5), "segment_frames": segment_frames,
                          "batch": batch, "lr": lr, "seed": seed, "files": [r.name for r in recs],
                          "quality": {k: round(v, 5) if isinstance(v, float) else v for k, v in quality.items()}}
    return final


def train_ddsp(source, sample_rate: int = 48000, steps: int = 3000, segment_frames: int = 96, batch: int = 8,
               lr: float = 3e-3, arch: str = "rnn", reverb: bool = True, n_harmonics: int = 60, n_bands: int = 65,
               mlp_units: int = 96, gru_units: int = 128, hidden=(96, 96), seed: int = 0,
               features: dict = FEATURES, name: str = "", checkpoint=None, checkpoint_every: int = 100,
               progress: bool = True, recordings: list | None = None, timbre_z: int = 0,
               kl_weight: float = 0.01) -> TrainResult:
    """Fit a decoder to the recordings in ``source`` (a file or folder of audio files).

    ``steps`` Adam steps of ``batch`` random training segments of ``segment_frames``
    frames (cosine-decayed ``lr``). ``timbre_z`` > 0 (rnn only) also trains a timbre
    encoder (MFCCs -> z of that many dims, variational, ``kl_weight``) whose z, one per
    segment, joins the decoder's inputs: train it on several instruments so that z
    spans timbre. ``checkpoint``: a folder; training resumes from it
    when it holds a matching checkpoint and saves to it every ``checkpoint_every`` steps.
    Returns the model (the reverb inside it when ``reverb``), the mean loss of the last
    100 steps and the held-out quality numbers.
    """
    import torch

    from .torch_model import Reverb, build_decoder, build_encoder, spectral_loss

    start = time.perf_counter()
    torch.manual_seed(seed)
    hop, n_fft = int(features["hop"]), int(features["n_fft"])
    if timbre_z and arch != "rnn":
        raise ValueError("a timbre latent needs the rnn decoder")
    recs = recordings if recordings is not None else load_recordings(source, sample_rate, features, progress,
                                                                     timbre=timbre_z > 0)
    train_items, held_items = training_segments(recs, segment_frames, hop, n_fft, sample_rate)
    if arch == "rnn":
        config = rnn_config(sample_rate, hop, n_harmonics, n_bands, mlp_units=mlp_units, gru_units=gru_units,
                            z_dims=timbre_z)
        if timbre_z:
            from .timbre import ENCODER_DEFAULTS

            config["encoder"] = dict(ENCODER_DEFAULTS, n_fft=n_fft)
    else:
        config = default_config(sample_rate, hop, n_harmonics, n_bands, hidden)
    config.update({"name": name, "features": dict(features, loudness_voiced_db=loudness_range(recs))})
    decoder = build_decoder(config)
    modules = {"decoder": decoder}
    encoder = None
    if timbre_z:
        encoder = build_encoder(config)
        modules["encoder"] = encoder
    rev = None
    if reverb:
        rev = Reverb.module(int(config.get("reverb_length", 12000)), sample_rate, seed)
        modules["reverb"] = rev
    params = [p for m in modules.values() for p in m.parameters()]
    opt = torch.optim.Adam(params, lr=lr)
    step = resume_step(checkpoint, modules, opt)
    rng = np.random.default_rng(seed + step)
    gen = torch.Generator().manual_seed(seed + step)

    def batch_loss():
        items = [train_items[i] for i in rng.integers(0, len(train_items), batch)]
        f0, db, target = batch_tensors(torch, recs, items, segment_frames, hop, n_fft)
        z, kl = None, 0.0
        if encoder is not None:
            z, kl = segment_z(torch, encoder, batch_mfcc(torch, recs, items, segment_frames), True, gen)
        return spectral_loss(torch, synthesize(torch, decoder, rev, f0, db, config, gen, z), target) + kl_weight * kl

    last = optimise(torch, batch_loss, modules, opt, step, steps, lr, checkpoint, checkpoint_every, "train-ddsp",
                    progress)
    quality = {}
    if held_items:
        gain = fit_sawtooth_gain(torch, recs, train_items, config, segment_frames, n_fft)
        quality = evaluate(torch, decoder, rev, recs, held_items, config, segment_frames, n_fft, gain, encoder)
        quality["sawtooth_gain"] = gain
    final = record_training(config, last, quality, recs, steps, segment_frames, batch, lr, seed)
    tensors = {name: p.detach().cpu().numpy().astype(np.float32) for name, p in decoder.state_dict().items()}
    if encoder is not None:
        tensors.update({f"encoder.{name}": p.detach().cpu().numpy().astype(np.float32)
                        for name, p in encoder.state_dict().items()})
    if rev is not None:
        tensors["reverb.ir"] = torch.cat([rev.ir.new_zeros(1), rev.ir[1:]]).detach().numpy().astype(np.float32)
    model = DDSPModel(config, tensors)
    calibrate(model, recs, held_out_spans(recs, held_items, segment_frames, hop) if held_items else None)
    return TrainResult(model, final, time.perf_counter() - start, steps, quality)


def calibrate_file(path, source, progress: bool = True) -> int | None:
    """Measure the onset lead of the model at ``path`` on the notes that start from
    silence in the recordings in ``source`` and write it into the file; returns it
    (samples), or None (file unchanged) when too few notes start from silence."""
    from .model import load_model, save_model

    model = load_model(path)
    features = {k: v for k, v in model.config["features"].items() if k in FEATURES}
    recs = load_recordings(source, int(model.config["sample_rate"]), features, progress)
    lead = calibrate(model, recs)
    if lead is not None:
        save_model(path, model)
    return lead
