"""The DDX7 decoder and the FM synth in torch (for training), mirroring the numba kernels.

``build_decoder`` gives the TCN whose state-dict names are the model file's tensor names;
``fm_synth`` renders the six operators of ``synth.fm`` (no feedback: training files have
feedback 0) on the frame grid of :func:`neuropatch.nodes.ddsp.torch_model.upsample`, the
same grid the synth node plays one hop late. torch is imported lazily.
"""
from __future__ import annotations

import math

import numpy as np

from ..ddsp.torch_model import upsample
from ..fm.algorithms import CARRIERS, MODULATION, N_OPERATORS
from .model import block_shapes


def scaled_inputs(torch, f0_hz, loudness_db):
    """[B, 2, F] network input: (midi(f0) / 127, loudness / 80 + 1) of f0 [B, F] Hz, loudness [B, F] dB."""
    midi = 69.0 + 12.0 * torch.log2(torch.clamp(f0_hz, min=20.0) / 440.0)
    return torch.stack([midi / 127.0, loudness_db / 80.0 + 1.0], dim=1)


def build_decoder(config: dict):
    """A ``torch.nn.Module``: forward(f0_hz [B, F], loudness_db [B, F]) -> levels [B, F, 6]
    (max_level * sigmoid), causal (frame t sees frames <= t; zeros before the first)."""
    import torch

    nn = torch.nn
    ch, k = int(config["channels"]), int(config["kernel_size"])
    max_level = float(config["max_level"])

    class Block(nn.Module):
        def __init__(self, c_in, c_out, dilation, last):
            super().__init__()
            self.pad = (k - 1) * dilation
            self.last = last
            self.conv1 = nn.Conv1d(c_in, ch, k, dilation=dilation)
            self.conv2 = nn.Conv1d(ch, c_out, k, dilation=dilation)
            self.residual = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else None

        def forward(self, x):
            h = torch.relu(self.conv1(nn.functional.pad(x, (self.pad, 0))))
            y = self.conv2(nn.functional.pad(h, (self.pad, 0)))
            if not self.last:
                y = torch.relu(y)
            return y + (self.residual(x) if self.residual is not None else x)

    class Decoder(nn.Module):
        def __init__(self):
            super().__init__()
            shapes = block_shapes(config)
            self.blocks = nn.ModuleList([Block(c_in, c_out, d, b == len(shapes) - 1)
                                         for b, (c_in, c_out, d) in enumerate(shapes)])

        def forward(self, f0_hz, loudness_db):
            x = scaled_inputs(torch, f0_hz, loudness_db)
            for block in self.blocks:
                x = block(x)
            return max_level * torch.sigmoid(x).transpose(1, 2)

    return Decoder()


def operator_ratios(config: dict) -> np.ndarray:
    """[6] frequency multiples of f0 (detune already folded into ``ratios``)."""
    return np.asarray(config["ratios"], np.float64)


def fm_synth(torch, f0_frames, levels, hop: int, sample_rate: float, algorithm: int, ratios):
    """Audio [B, (F-1)*hop] of synth.fm's operators (algorithm 1..32, no feedback).

    f0_frames: [B, F] Hz; levels: [B, F, 6] (carriers: amplitude, modulators: radians);
    ratios: [6]. Operator phases accumulate ratio * f0 / sr per sample in float64 from 0
    (the first sample already advanced), as ``operators_sample`` does.
    """
    a = int(algorithm) - 1
    f0 = upsample(torch, f0_frames[..., None], hop)[..., 0]
    lv = upsample(torch, levels, hop)
    base = torch.cumsum(f0.detach().double() / sample_rate, dim=1)
    y = [None] * N_OPERATORS
    out = 0.0
    for op in range(N_OPERATORS - 1, -1, -1):
        ph = base * float(ratios[op])
        ph = (ph - torch.floor(ph)).to(lv.dtype)
        arg = 2.0 * math.pi * ph
        for src in range(op + 1, N_OPERATORS):
            if MODULATION[a, op, src]:
                arg = arg + y[src]
        y[op] = lv[..., op] * torch.sin(arg)
        if CARRIERS[a, op]:
            out = out + y[op]
    return out


class StreamingDecoder:
    """The torch decoder stepped one frame at a time with cached convolution inputs (for the
    benchmark's per-frame comparison): step(f0_hz, loudness_db) -> levels [6] tensor."""

    def __init__(self, decoder, config: dict):
        import torch

        self.torch = torch
        self.decoder = decoder
        self.max_level = float(config["max_level"])
        k = int(config["kernel_size"])
        self.caches = []
        for block, (c_in, _, d) in zip(decoder.blocks, block_shapes(config)):
            rows = (k - 1) * d + 1
            self.caches.append((torch.zeros(1, c_in, rows), torch.zeros(1, int(config["channels"]), rows)))

    def step(self, f0_hz: float, loudness_db: float):
        torch = self.torch
        x = scaled_inputs(torch, torch.tensor([[f0_hz]]), torch.tensor([[loudness_db]]))
        for block, (c1, c2) in zip(self.decoder.blocks, self.caches):
            c1[..., :-1] = c1[..., 1:].clone()
            c1[..., -1:] = x
            h = torch.relu(block.conv1(c1))
            c2[..., :-1] = c2[..., 1:].clone()
            c2[..., -1:] = h
            y = block.conv2(c2)
            if not block.last:
                y = torch.relu(y)
            x = y + (block.residual(x) if block.residual is not None else x)
        return self.max_level * torch.sigmoid(x[0, :, 0])


def state_tensors(decoder) -> dict:
    """The decoder's weights as float32 numpy arrays named as in the model file."""
    return {name: p.detach().cpu().numpy().astype(np.float32) for name, p in decoder.state_dict().items()}
