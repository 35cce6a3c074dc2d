"""A small decoder-only Music Transformer: relative self-attention (Huang et al. 2018,
with the memory-efficient "skewing" of the relative logits), pre-norm blocks, tied input
and output embeddings, no absolute positions.

Shapes: token ids [batch, time] (int64) -> logits [batch, time, vocab] (float32). The
context is at most ``max_len`` tokens (the length of the learned relative embeddings).

Incremental decoding keeps, per layer, the keys and values of the tokens seen so far
(``KVCache``); ``forward_cached`` takes the new tokens and returns their logits, giving the
same numbers as a full ``forward`` over the whole prefix.

Files: ``<stem>.safetensors`` (float32 weights, the module's ``state_dict``) and
``<stem>.json`` (``config`` below, plus a ``training`` entry written by ``train``).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn


def default_config(vocab_size: int) -> dict:
    return {"kind": "music_transformer", "version": 1, "vocab_size": int(vocab_size), "d_model": 256,
            "n_layers": 4, "n_heads": 4, "d_ff": 768, "max_len": 256, "dropout": 0.1,
            "tokenizer": "miditok REMI, neuropatch.nodes.gen.tokens"}


def skew(qer: torch.Tensor) -> torch.Tensor:
    """[..., T, T] logits against relative embeddings ordered from distance T-1 down to 0
    -> [..., T, T] with entry [i, j] the logit for distance i - j (j <= i; the upper
    triangle is garbage and must be masked)."""
    *lead, t, _ = qer.shape
    padded = F.pad(qer, (1, 0))                       # [..., T, T+1]
    return padded.reshape(*lead, t + 1, t)[..., 1:, :]


class RelativeSelfAttention(nn.Module):
    def __init__(self, d_model: int, n_heads: int, max_len: int, dropout: float):
        super().__init__()
        self.h, self.dh, self.max_len = n_heads, d_model // n_heads, max_len
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        # er[h, m] embeds distance max_len - 1 - m (the last row is distance 0)
        self.er = nn.Parameter(torch.randn(n_heads, max_len, self.dh) * 0.02)
        self.dropout = dropout

    def _split(self, x):
        b, t, _ = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.h, self.dh).permute(2, 0, 3, 1, 4)
        return q, k, v                                # each [B, H, T, dh]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, T, d] (T <= max_len) -> [B, T, d], causal."""
        b, t, d = x.shape
        q, k, v = self._split(x)
        srel = skew(torch.einsum("bhtd,hmd->bhtm", q, self.er[:, self.max_len - t:]))
        causal = torch.ones(t, t, dtype=torch.bool, device=x.device).triu(1)
        bias = (srel / math.sqrt(self.dh)).masked_fill(causal, float("-inf"))
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=bias,
                                           dropout_p=self.dropout if self.training else 0.0)
        return self.out(y.transpose(1, 2).reshape(b, t, d))

    def forward_cached(self, x: torch.Tensor, cache: list, layer: int) -> torch.Tensor:
        """x [B, n, d]: the next n tokens after the ``cache[layer]`` keys/values (P of them,
        P + n <= max_len) -> [B, n, d]; appends their keys/values to the cache."""
        b, n, d = x.shape
        q, k, v = self._split(x)
        if cache[layer] is not None:
            k = torch.cat([cache[layer][0], k], dim=2)
            v = torch.cat([cache[layer][1], v], dim=2)
        cache[layer] = (k, v)
        total = k.shape[2]
        p = total - n
        # qer[.., r, m]: query r against distance total - 1 - m
        qer = torch.einsum("bhnd,hmd->bhnm", q, self.er[:, self.max_len - total:])
        if n == 1:
            srel = qer                                # distance p - j at key j: m = j
        else:
            r = torch.arange(n, device=x.device)[:, None]
            j = torch.arange(total, device=x.device)[None, :]
            idx = (j + (n - 1 - r)).clamp(max=total - 1).expand(b, self.h, n, total)
            srel = torch.gather(qer, 3, idx)
        scores = (q @ k.transpose(-1, -2) + srel) / math.sqrt(self.dh)
        if n > 1:
            i = torch.arange(p, total, device=x.device)[:, None]
            scores = scores.masked_fill(torch.arange(total, device=x.device)[None, :] > i, float("-inf"))
        y = torch.softmax(scores, dim=-1) @ v
        return self.out(y.transpose(1, 2).reshape(b, n, d))


class Block(nn.Module):
    def __init__(self, d_model, n_heads, d_ff, max_len, dropout):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.attn = RelativeSelfAttention(d_model, n_heads, max_len, dropout)
        self.ff = nn.Sequential(nn.Linear(d_model, d_ff), nn.GELU(), nn.Linear(d_ff, d_model))
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        x = x + self.drop(self.attn(self.ln1(x)))
        return x + self.drop(self.ff(self.ln2(x)))

    def forward_cached(self, x, cache, layer):
        x = x + self.attn.forward_cached(self.ln1(x), cache, layer)
        return x + self.ff(self.ln2(x))


@dataclass
class KVCache:
    """Per-layer (keys, values) [B, H, P, dh] of the P tokens seen so far."""
    layers: list = field(default_factory=list)

    @property
    def length(self) -> int:
        return 0 if not self.layers or self.layers[0] is None else int(self.layers[0][0].shape[2])


class MusicTransformer(nn.Module):
    def __init__(self, config: dict):
        super().__init__()
        self.config = dict(config)
        c = config
        self.max_len = c["max_len"]
        self.embed = nn.Embedding(c["vocab_size"], c["d_model"])
        self.blocks = nn.ModuleList(Block(c["d_model"], c["n_heads"], c["d_ff"], c["max_len"], c["dropout"])
                                    for _ in range(c["n_layers"]))
        self.ln = nn.LayerNorm(c["d_model"])
        self.drop = nn.Dropout(c["dropout"])
        nn.init.normal_(self.embed.weight, std=0.02)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """ids [B, T] (T <= max_len) -> logits [B, T, vocab]."""
        x = self.drop(self.embed(ids) * math.sqrt(self.config["d_model"]) * 0.1)
        for blk in self.blocks:
            x = blk(x)
        return self.ln(x) @ self.embed.weight.T

    def new_cache(self) -> KVCache:
        return KVCache([None] * len(self.blocks))

    def forward_cached(self, ids: torch.Tensor, cache: KVCache) -> torch.Tensor:
        """ids [B, n], the tokens after those in ``cache`` (cache.length + n <= max_len)
        -> logits [B, n, vocab]; the cache grows by n."""
        if cache.length + ids.shape[1] > self.max_len:
            raise ValueError(f"context of {cache.length + ids.shape[1]} tokens exceeds max_len {self.max_len}")
        x = self.embed(ids) * math.sqrt(self.config["d_model"]) * 0.1
        for i, blk in enumerate(self.blocks):
            x = blk.forward_cached(x, cache.layers, i)
        return self.ln(x) @ self.embed.weight.T


def n_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _paths(stem) -> tuple[Path, Path]:
    p = Path(stem)
    if p.suffix in (".safetensors", ".json"):
        p = p.with_suffix("")
    return p.with_name(p.name + ".safetensors"), p.with_name(p.name + ".json")


def save_model(model: MusicTransformer, config: dict, stem) -> tuple[Path, Path]:
    """Write ``<stem>.safetensors`` and ``<stem>.json``; ``stem`` may end in either suffix."""
    from safetensors.torch import save_file

    weights, cfg = _paths(stem)
    weights.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}, str(weights))
    cfg.write_text(json.dumps(config, indent=2) + "\n")
    return weights, cfg


def load_model(stem) -> tuple[MusicTransformer, dict]:
    """(eval-mode model, config) from ``<stem>.safetensors`` + ``<stem>.json``. Raises
    ResourceError for a missing file, ModelFormatError for a malformed one."""
    from safetensors.torch import load_file

    from neuropatch.engine.errors import ModelFormatError, ResourceError

    weights, cfg = _paths(stem)
    for p in (weights, cfg):
        if not p.is_file():
            raise ResourceError(f"model file {p} is missing")
    try:
        config = json.loads(cfg.read_text())
        model = MusicTransformer(config)
        model.load_state_dict(load_file(str(weights)))
    except Exception as exc:
        raise ModelFormatError(f"{weights}: not a music transformer ({exc})") from None
    model.eval()
    return model, config
