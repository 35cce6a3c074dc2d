"""The note generator's speed on one thread: tokens per second with the KV cache and
without it (the whole window recomputed for every token) in the same run, and the time
from ``reset(seed)`` to the first generated note.

Model: assets/transformer/chorales.safetensors. torch runs one intra-op thread
(``NoteGenerator(threads=1)``), as in the engine's worker. Both paths generate the same
tokens from the same seed and primer (a two-bar four-part phrase); tokens/s counts
sampled tokens (grammar mask and nucleus sampling included), timed over ``--tokens``
tokens after the primer, best of ``--repeats``. Reset -> first note: ``reset(seed)``,
``prime(primer)`` and sampling until the first note is complete (Pitch and Duration
tokens), median and worst over ``--seeds`` seeds; also without a primer (the stream
starts from BOS).

Quality (``--quality``): NLL per token (nats) of the shipped model on every held-out
chorale (``assets/transformer/chorale_tokens.npz``, the split of ``split.json``), next to
interpolated modified Kneser-Ney n-grams of orders 3..9 trained on the training chorales
with the transformer's transpositions (-5..+6) and without them; NLL per note = a piece's
total NLL over its number of notes (each note is a Pitch and a Duration token; Bar and
Position tokens are charged to the notes too).

    python bench/transformer.py [--tokens 400] [--repeats 3] [--seeds 20] [--quality]
"""
from __future__ import annotations

import argparse
import statistics
import time

import importlib.util
from pathlib import Path

import numpy as np

from neuropatch.assets import path
from neuropatch.nodes.gen.generator import NoteGenerator
from neuropatch.nodes.gen.tokens import Note

PRIMER = [Note(p, s, d) for p, s, d in [(48, 0, 2), (55, 0, 2), (64, 0, 2), (72, 0, 1), (74, 1, 1),
                                        (43, 2, 2), (59, 2, 2), (62, 2, 2), (67, 2, 2),
                                        (45, 4, 2), (60, 4, 2), (64, 4, 2), (69, 4, 2),
                                        (41, 6, 2), (57, 6, 2), (65, 6, 1), (69, 6, 2), (64, 7, 1)]]


def tokens_per_second(gen: NoteGenerator, n_tokens: int, seed: int = 0) -> tuple[float, list[int]]:
    gen.reset(seed)
    gen.prime(PRIMER)
    gen.next_logits()                      # the primer's forward pass is not counted
    t0 = time.perf_counter()
    toks = []
    for _ in range(n_tokens):
        tok = gen.sample(1.0, 0.95)
        gen.append(tok)
        toks.append(tok)
    return n_tokens / (time.perf_counter() - t0), toks


def first_note_ms(gen: NoteGenerator, seed: int, primer) -> float:
    t0 = time.perf_counter()
    gen.reset(seed)
    gen.prime(primer)
    while gen.append(gen.sample(1.0, 0.95)) is None:
        pass
    return (time.perf_counter() - t0) * 1000


def quality() -> None:
    import torch

    from neuropatch.nodes.gen.model import load_model
    from neuropatch.nodes.gen.ngram import KneserNey
    from neuropatch.nodes.gen.tokens import DURATION, transpose_tokens, vocab
    from neuropatch.nodes.gen.train import token_nlls

    script = Path(__file__).resolve().parents[1] / "assets" / "make_transformer_assets.py"
    spec = importlib.util.spec_from_file_location("make_transformer_assets", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    tokens = path("transformer", "chorale_tokens.npz")
    train, _ = module.read_tokens(tokens, "train")
    held, _ = module.read_tokens(tokens, "held_out")
    v = vocab()
    n_tokens = sum(len(p) - 1 for p in held)
    n_notes = sum(int(np.count_nonzero(v.kind[p] == DURATION)) for p in held)
    torch.set_num_threads(1)
    model, config = load_model(path("transformer", "chorales.safetensors"))
    t0 = time.perf_counter()
    total = sum(token_nlls(model, p).sum() for p in held)
    secs = time.perf_counter() - t0
    print(f"\nheld-out: {len(held)} chorales, {n_tokens} tokens, {n_notes} notes; "
          f"train: {len(train)} chorales, {sum(map(len, train))} tokens\n")
    print("| model | NLL / token (nats) | NLL / note (nats) |\n|---|---|---|")
    print(f"| Music Transformer ({sum(p.numel() for p in model.parameters()) / 1e6:.2f} M weights, "
          f"{secs:.1f} s to score) | {total / n_tokens:.4f} | {total / n_notes:.3f} |")
    augmented = [t for s in train for k in range(-5, 7) if (t := transpose_tokens(s, k)) is not None]
    best = None
    for label, data in (("transposed -5..+6", augmented), ("original keys", train)):
        kn = KneserNey(data)
        for order in range(3, 10):
            nll = kn.nll(held, order)
            if best is None or nll < best[0]:
                best = (nll, f"order {order}, {label}")
            print(f"| Kneser-Ney order {order}, {label} | {nll:.4f} | {nll * n_tokens / n_notes:.3f} |")
    print(f"\nbest n-gram: {best[1]} ({best[0]:.4f}); transformer / best = {total / n_tokens / best[0]:.3f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=400)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--quality", action="store_true", help="also score held-out chorales against the n-grams")
    args = ap.parse_args(argv)
    weights = path("transformer", "chorales.safetensors")
    cached = NoteGenerator(weights, threads=1)
    full = NoteGenerator(weights, threads=1, use_cache=False)
    rates = {"KV cache": [], "no cache": []}
    for _ in range(args.repeats):
        r1, t1 = tokens_per_second(cached, args.tokens)
        r2, t2 = tokens_per_second(full, args.tokens)
        assert t1 == t2, "cached and uncached generation diverged"
        rates["KV cache"].append(r1)
        rates["no cache"].append(r2)
    print(f"model: {weights.name}, context {cached.max_len} tokens, one thread; {args.tokens} tokens after "
          f"a {len(PRIMER)}-note primer, best of {args.repeats}\n")
    print("| path | tokens/s |\n|---|---|")
    for k, v in rates.items():
        print(f"| {k} | {max(v):.0f} |")
    print(f"\nKV cache speed-up: {max(rates['KV cache']) / max(rates['no cache']):.1f}x\n")
    first_note_ms(cached, 0, PRIMER)       # warm-up
    print(f"| reset(seed) -> first generated note | median ms | worst ms |\n|---|---|---|")
    for label, primer in (("with the primer", PRIMER), ("no primer", [])):
        ms = [first_note_ms(cached, s, primer) for s in range(args.seeds)]
        print(f"| {label} ({args.seeds} seeds) | {statistics.median(ms):.1f} | {max(ms):.1f} |")
    if args.quality:
        quality()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
