"""Interpolated modified Kneser-Ney n-gram model over token ids (Chen & Goodman 1998),
the baseline the transformer is measured against.

Tokens are first mapped to a compact alphabet of at most 127 symbols (the ids seen in
training, plus one "unknown"), so an n-gram of up to 9 symbols packs into one int64 key
(7 bits a symbol). Counting and look-up are numpy sorts and binary searches: training on a
few million tokens and scoring tens of thousands take seconds.

The highest order uses raw counts, lower orders continuation counts (the number of
distinct one-symbol left extensions), each order with three discounts D1, D2, D3+ from its
count-of-counts; the unigram level interpolates with the uniform distribution over the
alphabet. Every sequence is scored after ``order - 1`` copies of its first token (BOS),
from its second token on, as ``train.token_nlls`` scores the transformer.
"""
from __future__ import annotations

import numpy as np

MAX_ORDER = 9
BITS = 7


class KneserNey:
    def __init__(self, sequences: list[np.ndarray], max_order: int = MAX_ORDER):
        """``sequences``: int token-id arrays, each starting with BOS."""
        if not 1 <= max_order <= MAX_ORDER:
            raise ValueError(f"max_order must be 1..{MAX_ORDER}")
        self.max_order = max_order
        seen = np.unique(np.concatenate(sequences))
        if len(seen) > (1 << BITS) - 1:
            raise ValueError(f"{len(seen)} distinct tokens: more than {(1 << BITS) - 1}")
        self.symbols = seen
        self.unk = len(seen)
        self.alphabet = len(seen) + 1
        keys = [self._keys(self._pad(s)) for s in sequences]
        # raw[n] / cont[n]: (sorted unique n-gram keys, counts)
        self.raw, self.cont = {}, {}
        for n in range(1, max_order + 1):
            allk = np.concatenate([k[n][n - 1:] for k in keys])
            # drop n-grams made only of padding (a context that never predicts anything)
            self.raw[n] = np.unique(allk, return_counts=True)
        for n in range(1, max_order):
            higher = self.raw[n + 1][0]
            suffix = higher & ((1 << (BITS * n)) - 1)
            self.cont[n] = np.unique(suffix, return_counts=True)
        self._tables = {}

    def _pad(self, seq: np.ndarray) -> np.ndarray:
        sym = np.searchsorted(self.symbols, seq)
        sym = np.where((sym < len(self.symbols)) & (self.symbols[np.minimum(sym, len(self.symbols) - 1)] == seq),
                       sym, self.unk)
        return np.concatenate([np.full(self.max_order - 1, sym[0]), sym]).astype(np.int64)

    def _keys(self, sym: np.ndarray) -> dict:
        """keys[n][i]: packed n-gram ending at i (valid for i >= n - 1)."""
        keys = {1: sym.copy()}
        for n in range(2, self.max_order + 1):
            k = np.zeros_like(sym)
            k[1:] = (keys[n - 1][:-1] << BITS) | sym[1:]
            keys[n] = k
        return keys

    def _table(self, n: int, top: bool):
        """Per order: n-gram keys/counts, context keys with (total, N1, N2, N3+) and discounts."""
        if (n, top) in self._tables:
            return self._tables[(n, top)]
        keys, counts = self.raw[n] if top else self.cont[n]
        cc = [np.count_nonzero(counts == i) for i in (1, 2, 3, 4)]
        n1, n2, n3, n4 = (max(c, 1) for c in cc)
        y = n1 / (n1 + 2 * n2)
        disc = np.array([0.0, 1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3])
        disc = np.clip(disc, 0.0, None)
        ctx = keys >> BITS
        ctx_keys, inv = np.unique(ctx, return_inverse=True)
        total = np.bincount(inv, weights=counts)
        which = np.minimum(counts, 3)
        gamma_num = np.bincount(inv, weights=disc[which])
        table = (keys, counts.astype(np.float64), disc, ctx_keys, total, gamma_num)
        self._tables[(n, top)] = table
        return table

    def token_nlls(self, seq: np.ndarray, order: int) -> np.ndarray:
        """NLL (nats) of tokens 1.. of ``seq`` under the order-``order`` model -> [len - 1]."""
        if not 1 <= order <= self.max_order:
            raise ValueError(f"order must be 1..{self.max_order}")
        sym = self._pad(np.asarray(seq))
        keys = self._keys(sym)
        first = self.max_order  # index in sym of seq[1]
        prob = np.full(len(sym) - first, 1.0 / self.alphabet)
        for n in range(1, order + 1):
            keys_n, counts, disc, ctx_keys, total, gamma_num = self._table(n, top=(n == order))
            q = keys[n][first:]
            i = np.searchsorted(keys_n, q).clip(max=len(keys_n) - 1)
            c = np.where(keys_n[i] == q, counts[i], 0.0)
            if n == 1:
                tot, gam = total[0], gamma_num[0]
                prob = (np.maximum(c - disc[np.minimum(c, 3).astype(int)], 0) + gam * prob) / tot
                continue
            ctx = q >> BITS
            j = np.searchsorted(ctx_keys, ctx).clip(max=len(ctx_keys) - 1)
            has = ctx_keys[j] == ctx
            tot = np.where(has, total[j], 1.0)
            gam = np.where(has, gamma_num[j], 0.0)
            p = (np.maximum(c - disc[np.minimum(c, 3).astype(int)], 0) + gam * prob) / tot
            prob = np.where(has, p, prob)
        return -np.log(prob)

    def nll(self, sequences, order: int) -> float:
        """Mean NLL per token (nats) over tokens 1.. of all ``sequences``."""
        parts = [self.token_nlls(s, order) for s in sequences]
        return float(np.concatenate(parts).mean())
