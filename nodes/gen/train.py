"""Train the Music Transformer (:mod:`.model`) on a folder of MIDI files.

Data: every ``*.mid`` / ``*.midi`` file under the folder becomes one token stream
``BOS tokens EOS`` (all tracks merged, :mod:`.tokens`). A training example is a random
crop of ``seq_len + 1`` tokens of a random piece (pieces drawn in proportion to their
length; short pieces padded, padding not scored), transposed by a random -5..+6
semitones (a shift that would leave the piano range is replaced by 0).

Optimisation: AdamW (weight decay 0.01), linear warm-up over the first 5 % of ``steps``
then cosine decay to 10 % of ``lr``, gradient norm clipped at 1. Batch ``b`` of step
``s`` is drawn from ``numpy.random.default_rng([seed, s])`` and dropout is seeded the
same way, so a run resumed from a checkpoint continues as the uninterrupted run would.

Checkpoints: ``<out>.ckpt.safetensors`` (model weights as ``model.*``, AdamW moments as
``opt.<i>.exp_avg`` / ``opt.<i>.exp_avg_sq``) and ``<out>.ckpt.json`` (step, run
settings, config, loss history). No pickle anywhere.

Quality: ``held_out_nll`` scores every token of held-out pieces (natural log, per
token), the model reading windows of ``max_len`` tokens that advance by half a window
(each token scored once, with at least half a window of context when the piece has it).
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch
import torch.nn.functional as F

from .model import MusicTransformer, default_config, load_model, n_parameters, save_model
from .tokens import notes_to_tokens, read_midi, transpose_tokens, vocab

TRANSPOSE = (-5, 6)


def midi_files(folder) -> list[Path]:
    folder = Path(folder)
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".mid", ".midi") and p.is_file())


def load_pieces(folder) -> tuple[list[np.ndarray], list[str]]:
    """([BOS tokens EOS] int64 arrays, file stems) of the MIDI files under ``folder``;
    unreadable or empty files are skipped."""
    v = vocab()
    pieces, names = [], []
    for p in midi_files(folder):
        try:
            ids = notes_to_tokens(read_midi(p))
        except Exception:  # a damaged MIDI file is skipped, the others still train
            continue
        if ids:
            pieces.append(np.array([v.bos, *ids, v.eos], np.int64))
            names.append(p.stem)
    return pieces, names


def lr_at(step: int, steps: int, lr: float) -> float:
    warm = max(1, steps // 20)
    if step < warm:
        return lr * (step + 1) / warm
    t = (step - warm) / max(1, steps - warm)
    return lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))


def make_batch(pieces, lengths_p, rng, batch: int, seq_len: int, pad: int) -> torch.Tensor:
    """[batch, seq_len + 1] int64 crops (see module doc)."""
    out = np.full((batch, seq_len + 1), pad, np.int64)
    for b in range(batch):
        piece = pieces[rng.choice(len(pieces), p=lengths_p)]
        start = int(rng.integers(0, max(1, len(piece) - seq_len)))
        crop = piece[start:start + seq_len + 1]
        shifted = transpose_tokens(crop, int(rng.integers(TRANSPOSE[0], TRANSPOSE[1] + 1)))
        out[b, :len(crop)] = crop if shifted is None else shifted
    return torch.from_numpy(out)


def _ckpt_paths(out) -> tuple[Path, Path]:
    out = Path(out)
    stem = out.with_suffix("") if out.suffix in (".safetensors", ".json") else out
    return stem.with_name(stem.name + ".ckpt.safetensors"), stem.with_name(stem.name + ".ckpt.json")


def save_checkpoint(out, model, opt, state: dict) -> None:
    from safetensors.torch import save_file

    weights, meta = _ckpt_paths(out)
    tensors = {f"model.{k}": v.detach().contiguous() for k, v in model.state_dict().items()}
    params = [p for g in opt.param_groups for p in g["params"]]
    for i, p in enumerate(params):
        st = opt.state.get(p)
        if st:
            tensors[f"opt.{i}.exp_avg"] = st["exp_avg"].contiguous()
            tensors[f"opt.{i}.exp_avg_sq"] = st["exp_avg_sq"].contiguous()
            state.setdefault("opt_steps", {})[str(i)] = float(st["step"])
    weights.parent.mkdir(parents=True, exist_ok=True)
    tmp = weights.with_name(weights.name + ".tmp")
    save_file(tensors, str(tmp))
    tmp.replace(weights)
    meta.write_text(json.dumps(state, indent=1) + "\n")


def load_checkpoint(out, model, opt) -> dict:
    from safetensors.torch import load_file

    weights, meta = _ckpt_paths(out)
    state = json.loads(meta.read_text())
    tensors = load_file(str(weights))
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    params = [p for g in opt.param_groups for p in g["params"]]
    for i, p in enumerate(params):
        if f"opt.{i}.exp_avg" in tensors:
            opt.state[p] = {"step": torch.tensor(state["opt_steps"][str(i)]),
                            "exp_avg": tensors[f"opt.{i}.exp_avg"], "exp_avg_sq": tensors[f"opt.{i}.exp_avg_sq"]}
    return state


def has_checkpoint(out) -> bool:
    return all(p.is_file() for p in _ckpt_paths(out))


@torch.no_grad()
def token_nlls(model: MusicTransformer, piece: np.ndarray) -> np.ndarray:
    """Negative log-likelihood (nats) of tokens 1.. of ``piece`` given the ones before,
    windows of max_len advancing by max_len // 2 -> float64 [len(piece) - 1]."""
    model.eval()
    L, hop = model.max_len, model.max_len // 2
    ids = torch.from_numpy(np.asarray(piece, np.int64))
    n = len(ids) - 1
    out = np.zeros(n)
    start = 0
    while True:
        window = ids[start:start + L + 1]
        logp = torch.log_softmax(model(window[None, :-1])[0], -1)
        nll = -logp.gather(1, window[1:, None])[:, 0].double().numpy()
        first = 0 if start == 0 else L - hop
        out[start + first:start + len(nll)] = nll[first:]
        if start + L >= n:
            return out
        start += hop


def held_out_nll(model, pieces) -> float:
    """Mean NLL per token (nats) over all scored tokens of ``pieces``."""
    total = sum(token_nlls(model, p).sum() for p in pieces)
    return float(total / sum(len(p) - 1 for p in pieces))


def train_transformer(train_dir, out, *, held_out_dir=None, steps: int = 2000, batch: int = 8,
                      seq_len: int = 256, lr: float = 1e-3, seed: int = 0, init=None,
                      config: Optional[dict] = None, resume: bool = False, checkpoint_every: int = 100,
                      until: int = 0, name: str = "",
                      progress: Optional[Callable[[int, int, float], None]] = None) -> dict:
    """Train (or fine-tune from ``init``, a model stem) and write ``<out>.safetensors`` +
    ``<out>.json``. ``resume`` continues from ``<out>.ckpt.*``. ``until`` > 0 stops at that
    step of the ``steps``-step schedule and writes the model as it is then (and the
    checkpoint, to continue with ``resume``). Returns the metrics (also in the .json under
    ``training``); ``metrics["finished"]`` is False when stopped before ``steps``."""
    pieces, names = load_pieces(train_dir)
    if not pieces:
        raise ValueError(f"no readable MIDI files with notes under {train_dir}")
    v = vocab()
    init_training = None
    if init is not None:
        model, cfg = load_model(init)
        init_training = cfg.get("training")
        cfg = {k: val for k, val in cfg.items() if k != "training"}
    else:
        cfg = dict(config or default_config(v.size))
        torch.manual_seed(seed)
        model = MusicTransformer(cfg)
    if cfg["vocab_size"] != v.size:
        raise ValueError(f"model vocabulary {cfg['vocab_size']} != tokenizer vocabulary {v.size}")
    seq_len = min(seq_len, cfg["max_len"])
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and not n.startswith("embed")]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and not n.startswith("embed"))]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=lr, betas=(0.9, 0.98))
    run = {"steps": steps, "batch": batch, "seq_len": seq_len, "lr": lr, "seed": seed,
           "init": Path(init).name if init else None}
    state = {"step": 0, "run": run, "config": cfg, "losses": [], "seconds": 0.0}
    if resume and has_checkpoint(out):
        state = load_checkpoint(out, model, opt)
        if state["run"] != run:
            raise ValueError(f"checkpoint {_ckpt_paths(out)[1]} was made with other settings: {state['run']}")
    lengths = np.array([len(p) for p in pieces], float)
    lengths_p = lengths / lengths.sum()
    model.train()
    t0 = time.perf_counter()
    seconds0 = state["seconds"]
    step = state["step"]
    end = min(until, steps) if until > 0 else steps
    while step < end:
        rng = np.random.default_rng([seed, step])
        torch.manual_seed(seed * 1_000_003 + step)
        x = make_batch(pieces, lengths_p, rng, batch, seq_len, v.pad)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, steps, lr)
        logits = model(x[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1), ignore_index=v.pad)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        state["losses"].append(round(loss.item(), 5))
        if progress:
            progress(step, steps, state["losses"][-1])
        if step % checkpoint_every == 0 or step == end:
            state["step"] = step
            state["seconds"] = seconds0 + time.perf_counter() - t0
            save_checkpoint(out, model, opt, state)
    state["step"] = step
    state["seconds"] = seconds0 + time.perf_counter() - t0
    metrics = {"steps": step, "train_seconds": round(state["seconds"], 1), "train_pieces": len(pieces),
               "train_tokens": int(lengths.sum()), "parameters": n_parameters(model),
               "final_loss": float(np.mean(state["losses"][-20:])) if state["losses"] else float("nan"),
               "finished": step >= steps}
    if held_out_dir is not None:
        held, held_names = load_pieces(held_out_dir)
        if held:
            metrics["held_out_pieces"] = len(held)
            metrics["held_out_tokens"] = int(sum(len(p) - 1 for p in held))
            metrics["held_out_nll_per_token"] = round(held_out_nll(model, held), 5)
    model.eval()
    cfg_out = dict(cfg)
    if name:
        cfg_out["name"] = name
    cfg_out["training"] = {**run, "schedule_steps": steps, **metrics,
                           "train_folder": Path(train_dir).name}
    if init_training is not None:
        cfg_out["training"]["init_training"] = init_training   # the run it started from
    weights, cfg_path = save_model(model, cfg_out, out)
    metrics["weights"], metrics["config"] = str(weights), str(cfg_path)
    return metrics
