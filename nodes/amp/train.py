"""Train an LSTM amp model from a DI / re-amped pair and export it as a ``.nam`` file.

Loss as in Wright et al. 2020 ("Perceptual loss function for neural modelling of audio
systems"): error-to-signal ratio (ESR) on pre-emphasised signals (first-order high-pass
``1 - 0.95 z^-1``) plus a DC term. torch is imported inside the functions.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .nam_format import load_model


@dataclass
class TrainResult:
    validation_esr: float
    weights: list
    hidden: int
    sample_rate: int


def esr(target: np.ndarray, prediction: np.ndarray) -> float:
    """Error-to-signal ratio sum((y - p)^2) / sum(y^2) of float arrays [samples]."""
    t, p = target.astype(np.float64), prediction.astype(np.float64)
    return float(np.sum((t - p) ** 2) / max(np.sum(t ** 2), 1e-12))


def _loss(torch, pred, target, pre=0.95):
    """ESR of pre-emphasised signals + DC loss. pred/target: [batch, time, 1]."""
    def emph(s):
        return s[:, 1:] - pre * s[:, :-1]
    pe, te = emph(pred), emph(target)
    esr_term = torch.sum((te - pe) ** 2) / (torch.sum(te ** 2) + 1e-9)
    dc = torch.mean(torch.mean(target - pred, dim=1) ** 2) / (torch.mean(target ** 2) + 1e-9)
    return esr_term + dc


def train_lstm(x: np.ndarray, y: np.ndarray, sample_rate: int, hidden: int = 16, epochs: int = 30,
               seq_len: int = 2048, warmup: int = 256, batch: int = 16, lr: float = 5e-3,
               val_fraction: float = 0.2, seed: int = 0, progress=True) -> TrainResult:
    """Fit a one-layer LSTM (hidden units ``hidden``) mapping x -> y.

    x, y: float32 [samples] at ``sample_rate`` Hz, time-aligned. The last ``val_fraction``
    of the audio is held out; the returned ESR is measured there, streaming from the
    exported initial state. ``warmup`` samples of each training segment settle the state
    and are left out of the loss.
    """
    import torch
    from tqdm import tqdm

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    n_val = int(len(x) * val_fraction)
    xt, yt = x[:len(x) - n_val], y[:len(y) - n_val]
    xv, yv = x[len(x) - n_val:], y[len(y) - n_val:]
    lstm = torch.nn.LSTM(1, hidden, batch_first=True)
    head = torch.nn.Linear(hidden, 1)
    params = list(lstm.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=lr)
    n_seg = max(1, (len(xt) - seq_len) // (seq_len // 2))
    steps = max(1, n_seg // batch)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * steps, eta_min=lr * 0.05)

    def run(inp):
        out, _ = lstm(inp)
        return head(out)

    def validate():
        with torch.no_grad():
            pred = run(torch.from_numpy(xv).view(1, -1, 1)).numpy().ravel()
        skip = min(warmup, len(pred) // 4)
        return esr(yv[skip:], pred[skip:])

    bar = tqdm(range(epochs), desc="train-amp", disable=not progress, unit="epoch")
    val = float("nan")
    for _ in bar:
        starts = rng.integers(0, max(1, len(xt) - seq_len), size=steps * batch)
        for s in range(steps):
            idx = starts[s * batch:(s + 1) * batch]
            xb = torch.from_numpy(np.stack([xt[i:i + seq_len] for i in idx])).unsqueeze(-1)
            yb = torch.from_numpy(np.stack([yt[i:i + seq_len] for i in idx])).unsqueeze(-1)
            pred = run(xb)
            loss = _loss(torch, pred[:, warmup:], yb[:, warmup:])
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
        val = validate()
        bar.set_postfix(ESR=f"{val:.4f}")
    weights = export_lstm_weights(lstm, head)
    return TrainResult(val, weights, hidden, sample_rate)


def export_lstm_weights(lstm, head) -> list:
    """NAM LSTM weight list: W [4H, 1+H] = [w_ih | w_hh] row-major, b_ih + b_hh, h0, c0
    (zeros: the core prewarms from there), head weight [H], head bias."""
    h = lstm.hidden_size
    w = np.concatenate([lstm.weight_ih_l0.detach().numpy(), lstm.weight_hh_l0.detach().numpy()], axis=1)
    b = (lstm.bias_ih_l0 + lstm.bias_hh_l0).detach().numpy()
    parts = [w.ravel(), b, np.zeros(h), np.zeros(h), head.weight.detach().numpy().ravel(),
             head.bias.detach().numpy().ravel()]
    return [float(v) for v in np.concatenate(parts)]


def write_nam(path: str | Path, result: TrainResult, name: str = "") -> None:
    """Write a .nam (version 0.5.4 LSTM, the layout every NAM player reads)."""
    doc = {"version": "0.5.4", "architecture": "LSTM",
           "config": {"input_size": 1, "hidden_size": result.hidden, "num_layers": 1},
           "weights": result.weights, "sample_rate": int(result.sample_rate),
           "metadata": {"name": name or Path(path).stem,
                        "training": {"validation_esr": result.validation_esr}}}
    tmp = Path(str(path) + ".tmp")
    tmp.write_text(json.dumps(doc))
    tmp.replace(path)
    load_model(path)  # the written file must load
    assert math.isfinite(result.validation_esr)
